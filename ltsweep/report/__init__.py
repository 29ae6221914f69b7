"""``ltsweep report`` and ``ltsweep export``: read a sweep's MLflow store and show what is finished.

Modules: ``collect`` (finished result runs as a tidy DataFrame), ``stats`` (mean ± standard
error over seeds), ``differences`` and ``claims`` (paired comparisons and the verdicts they
support), ``figures`` (accuracy against weights remaining), ``matrix`` (source × target transfer
gaps), ``optimizers`` (SGD ↔ Adam tickets), ``html`` (the offline index page), ``build`` (writes
the report directory) and ``export`` (per-epoch tables).

MLflow is read through ``ltsweep.tracking`` only. Does not belong here: writing runs, Ray.
Nothing here is imported by ``import ltsweep``: pandas and matplotlib load on use.
"""
