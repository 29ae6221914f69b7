"""Loading a split in batches: ``protocol`` (the loader contract, options and backend registry),
``torch_backend`` and ``ffcv_backend``; ``make_loader`` picks a backend by name."""
