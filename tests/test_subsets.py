"""``half: a | b`` and ``train_subset: N``: seeded, class-balanced, disjoint halves, nested
subsets, the test split untouched; both in the trial key; too large or unknown is a one-line
exit-2 error at plan time."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from ltsweep.core.data import Cut, load_split
from ltsweep.core.data.subsets import balanced_indices
from ltsweep.sweep.config import load_sweep
from ltsweep.sweep.plan import build_plan
from tests.common.cli import REPO, ltsweep_quick

TINY = REPO / "tests" / "sweeps" / "tiny.yaml"


def test_halves_are_disjoint_balanced_and_fixed() -> None:
    labels = np.repeat(np.arange(10), 101)  # 101 per class: one image per class left out
    a = balanced_indices(labels, Cut(half="a"))
    b = balanced_indices(labels, Cut(half="b"))
    assert not set(a) & set(b), "halves a and b share images"
    for half in (a, b):
        assert set(Counter(labels[half]).values()) == {50}, "a half is not class-balanced"
    # The same images on every machine: PCG64 from a fixed seed, pinned here.
    digest = hashlib.sha256(a.astype(np.int64).tobytes()).hexdigest()[:16]
    assert digest == PINNED_HALF_A, f"half 'a' changed (got {digest}): old trial keys lie"


PINNED_HALF_A = "7f894a022676d0f9"


def test_subset_is_balanced_nested_and_inside_its_half() -> None:
    labels = np.repeat(np.arange(10), 100)
    small = balanced_indices(labels, Cut(half="b", train_subset=105))
    large = balanced_indices(labels, Cut(half="b", train_subset=300))
    counts = Counter(labels[small])
    assert sorted(counts.values()) == [10] * 5 + [11] * 5, f"not balanced: {counts}"
    assert set(small) <= set(large) <= set(balanced_indices(labels, Cut(half="b")))


def test_cut_applies_to_train_split_only() -> None:
    full = load_split("digits", "train")
    half = load_split("digits", "train", cut=Cut(half="a", train_subset=200))
    assert len(half) == 200 and len(load_split("digits", "test", cut=Cut(half="a"))) == 450
    rows = {bytes(x.flatten().numpy()) for x in full.images}
    assert all(bytes(x.flatten().numpy()) in rows for x in half.images), "cut made new images"


def _sweep(tmp_path: Path, **cuts) -> Path:
    cfg = yaml.safe_load(TINY.read_text())
    base = cfg["datasets"]["digits"]
    cfg["datasets"] = {name: {**base, "dataset": "digits", **cut} for name, cut in cuts.items()}
    first = next(iter(cuts))
    cfg["sources"] = [{"dataset": first, "optimizer": "sgd"}]
    cfg["targets"] = [{"dataset": n, "optimizer": "sgd"} for n in cuts]
    path = tmp_path / "cuts.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_half_and_subset_are_in_the_job_and_the_trial_key(tmp_path: Path) -> None:
    path = _sweep(
        tmp_path,
        digits_a={"half": "a"},
        digits_b={"half": "b"},
        digits_b_small={"half": "b", "train_subset": 300},
    )
    plan = build_plan(load_sweep(path))
    by_target = {t.axes.target.name: t for t in plan.generation}
    assert {
        k: (t.job.data.name, t.job.data.half, t.job.data.train_subset) for k, t in by_target.items()
    } == {
        "digits_a": ("digits", "a", None),
        "digits_b": ("digits", "b", None),
        "digits_b_small": ("digits", "b", 300),
    }
    keys = {t.key for t in plan.generation}
    assert len(keys) == 3, "half/train_subset are not part of the trial key"
    pairs = {(t.axes.source.name, t.axes.target.name): t for t in plan.transfer if t.axes.source}
    assert ("digits_a", "digits_b") in pairs, "no a -> b transfer (the same-distribution control)"
    control = pairs[("digits_a", "digits_b")].axes
    sizes = (control.source.train_size, control.target.train_size)
    assert control.source.dataset == control.target.dataset == "digits", (
        f"both halves must record their registered dataset, got {control}"
    )
    assert sizes == (1347 // 2, 1347 // 2), f"training-set sizes of the halves: {sizes}"
    small = by_target["digits_b_small"].axes.target
    assert (small.half, small.subset, small.train_size) == ("b", 300, 300), small


@pytest.mark.parametrize(
    ("cut", "expected"),
    [
        ({"train_subset": 2000}, ["datasets.digits_a.train_subset", "1347", "at most"]),
        ({"half": "a", "train_subset": 700}, ["half 'a'", "673"]),
        ({"half": "c"}, ["datasets.digits_a.half", "a or b"]),
    ],
)
def test_bad_cut_is_one_line_exit_2_at_plan(tmp_path: Path, cut: dict, expected: list) -> None:
    result = ltsweep_quick("plan", str(_sweep(tmp_path, digits_a=cut)), cwd=tmp_path)
    assert result.returncode == 2, f"exit {result.returncode}: {result.stderr}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for text in expected:
        assert text in lines[0], f"{text!r} missing from: {lines[0]}"
