"""The sweep's store: where its files live and how they are written, read and locked.

Belongs here: the store itself (a local directory or an S3/GCS bucket through pyarrow,
``store``), the layout of a sweep's output (``paths``), done and failed records (``done``),
moving a trial's files between this machine and the store (``staging``), and the one-driver lock
(``lock``; its S3 and GCS leases in ``leases``). Does not belong here: anything
that knows Ray, MLflow or how trials are planned — this package only sees keys and files.
"""
