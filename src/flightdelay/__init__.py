"""flightdelay: predicts disrupted New York flights, from a DVC pipeline to a GitOps deployment."""

__version__ = "0.1.0"
