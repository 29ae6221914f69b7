"""``ltsweep report`` and ``ltsweep ui``: read a sweep's MLflow store and show what is finished.

Modules: ``store`` (where a sweep's store is, opening it), ``collect`` (finished result runs as a
tidy DataFrame), ``stats`` (mean ± standard error over seeds), ``figures`` (accuracy against
weights remaining), ``matrix`` (source × target transfer gaps), ``optimizers`` (SGD ↔ Adam
tickets), ``html`` (the offline index page) and ``build`` (writes the report directory).

Nothing here is imported by ``import ltsweep``: pandas, matplotlib and mlflow load on use.
"""
