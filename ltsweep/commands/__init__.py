"""One module per ``ltsweep`` subcommand: ``add_arguments(parser)`` and ``run(args) -> int``."""
