"""Thin glue between the core engine and Ray / MLflow / storage. Imports of ray and mlflow stay
inside these modules (and ``ltsweep.sweep``), never in ``ltsweep.core``."""
