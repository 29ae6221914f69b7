"""Result rows whose values are chosen by hand, shaped as the report's summary (the axes a
result's typed record gives), for the claims and study-document tests."""

from __future__ import annotations

import pandas as pd

from ltsweep.report import stats

SIZES = {"digits": 1347, "shapes": 3000, "fashion_mnist": 60_000}  # training images used


def run(kind, src, tgt, level, wr, seed, acc, **axes) -> dict:
    sd, so = src or ("none", "none")
    return {
        "source_train_size": SIZES.get(sd),
        "target_classes": 10,
        "target_test_size": 1000,
        **axes,
        "model": "vgg_tiny",
        "target_dataset": tgt[0],
        "target_optimizer": tgt[1],
        "kind": kind,
        "source_dataset": sd,
        "source_optimizer": so,
        "level": level,
        "weights_remaining": wr,
        "seed": seed,
        stats.VALUE: acc,
    }


DIGITS, SHAPES, FMNIST, SHAPES_ADAM = (
    ("digits", "sgd"),
    ("shapes", "sgd"),
    ("fashion_mnist", "sgd"),
    ("shapes", "adam"),
)


def runs() -> pd.DataFrame:
    rows = []
    for seed, (own, rand, small, large) in enumerate(
        [(0.90, 0.60, 0.905, 0.95), (0.91, 0.60, 0.905, 0.96), (0.92, 0.63, 0.925, 0.97)]
    ):
        rows += [
            run("dense", None, DIGITS, 0, 1.0, seed, 0.93),
            run("same", DIGITS, DIGITS, 1, 0.5, seed, 0.5),  # not sparse: never a claim level
            run("random", DIGITS, DIGITS, 1, 0.5, seed, 0.9),
            run("same", DIGITS, DIGITS, 2, 0.05, seed, own),
            run("random", DIGITS, DIGITS, 2, 0.05, seed, rand),
            run("transferred", SHAPES, DIGITS, 2, 0.05, seed, small),
            run("transferred", FMNIST, DIGITS, 2, 0.05, seed, large),
        ]
    rows += [  # shapes/adam: a single seed, so no interval anywhere
        run("same", SHAPES_ADAM, SHAPES_ADAM, 2, 0.05, 0, 0.8),
        run("random", SHAPES_ADAM, SHAPES_ADAM, 2, 0.05, 0, 0.5),
        run("transferred", SHAPES, SHAPES_ADAM, 2, 0.05, 0, 0.81),
    ]
    return stats.add_labels(pd.DataFrame(rows))


def pairs(a_line: tuple, b_line: tuple, target: tuple, diffs_points: list[float]) -> list[dict]:
    """Runs whose paired differences a − b on ``target`` are ``diffs_points`` (one per seed)."""
    rows = []
    for seed, d in enumerate(diffs_points):
        rows.append(run(*b_line, target, 3, 0.05, seed, 0.80))
        rows.append(run(*a_line, target, 3, 0.05, seed, 0.80 + d / 100))
    return rows
