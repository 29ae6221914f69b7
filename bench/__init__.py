"""ltsweep's benchmarks: every speed claim measured against a baseline in the same run.

``python -m bench`` (or ``make bench``) runs every ``bench/bench_<name>.py`` and writes
``bench/results/latest.md`` and ``latest.json``; see bench/README.md.
"""
