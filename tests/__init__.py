"""ltsweep's test suite (see tests/README.md). A package so that ``tests`` is this directory
even where another installed distribution ships a top-level ``tests`` package."""
