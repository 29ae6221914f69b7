"""ltsweep: do winning lottery tickets transfer? IMP, transfer and controls as one resumable sweep.

Importing the package is cheap on purpose: Ray imports it in every worker. The heavy parts live in
``ltsweep.core`` (PyTorch only), ``ltsweep.sweep`` and ``ltsweep.runtime`` (Ray Tune, MLflow).
"""

__version__ = "0.1.0"
