"""Helpers shared by the test modules; nothing here is collected as a test.

A test module imports what it shares from here (``from tests.common.cli import ltsweep``), never
from another test module. Each helper module imports only what it needs: see tests/README.md.
"""
