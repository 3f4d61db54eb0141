"""The tools behind the lifecycle: DVC, git, MLflow (tracking, registry), Evidently, object storage,
external data layouts, hashing. Each wraps one tool and turns its failures into the package's errors.
"""
