"""ltsweep: do winning lottery tickets transfer? IMP, transfer and controls as one resumable sweep.

Importing the package is cheap on purpose: Ray imports it in every worker. Packages, bottom up
(imports point down): ``core`` (the engine, PyTorch only), ``storage`` (the sweep's files), ``sweep``
(planning), ``tracking`` (MLflow), ``tune`` (Ray), ``report``, ``commands`` (the CLI).
"""

__version__ = "0.1.0"
