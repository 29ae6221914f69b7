"""Sweeps: YAML files in ``search_spaces/`` -> typed configuration -> planned trials -> Ray Tune."""
