"""Which arithmetic a result came from (``ltsweep.core.kernels``) and what the report says of a
store that mixes kernel families (``report.build.kernels_line``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from ltsweep.core.kernels import kernel_family
from ltsweep.report.build import Report, kernels_line
from ltsweep.report.collect import COLUMNS


def test_cpu_family_names_torch_and_the_vector_instructions() -> None:
    family = kernel_family("cpu")
    capability = torch.backends.cpu.get_cpu_capability()
    assert family == f"torch {torch.__version__}, cpu {capability}", family


def _report(kernels: list[str | None]) -> Report:
    rows = [dict.fromkeys(COLUMNS) | {"kernels": k} for k in kernels]
    empty = pd.DataFrame(columns=COLUMNS)
    return Report("s", "sqlite:///x.db", Path("."), pd.DataFrame(rows, columns=COLUMNS), empty, 1.0)


def test_one_family_is_named_and_unsaid_results_counted() -> None:
    line = kernels_line(_report(["torch 2, cpu AVX512"] * 3 + [None]))
    assert line.startswith("Kernels: torch 2, cpu AVX512 for every result that says"), line
    assert "1 recorded before results said" in line, line


def test_two_families_are_counted_and_the_consequence_said() -> None:
    line = kernels_line(_report(["torch 2, cpu AVX2", "torch 2, cpu AVX512", "torch 2, cpu AVX2"]))
    assert "2 families (torch 2, cpu AVX2 (2), torch 2, cpu AVX512 (1))" in line, line
    assert "bit for bit only within one" in line, line


def test_results_that_never_said_give_no_line() -> None:
    assert kernels_line(_report([None, None])) == "", "old stores must not get a kernels line"
