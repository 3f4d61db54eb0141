"""One router per resource: predict, mlflow_compat, health, model, admin."""
