"""The one-writer lease of an object-store sweep: ``s3`` (conditional PUTs; also the protocol
and its timing) and ``gcs`` (the same protocol on generation preconditions)."""
