"""``ltsweep data list`` and ``ltsweep data convert DATASET --out DIR``.

``list`` shows every registered dataset: classes, the side length the model sees, and where its
files are (embedded, or the path expected under the data root and whether it is there).
``convert`` writes the FFCV ``.beton`` files (train and test) the ``loader: ffcv`` backend reads;
a second run verifies and skips finished files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ltsweep.core.data import DATA_ROOT_ENV, DatasetSpec, get_spec, resolve_root


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", required=True)
    ls = sub.add_parser("list", help="registered datasets, their sizes and where their files are")
    ls.add_argument("--data-root", help=f"where real datasets live (default: ${DATA_ROOT_ENV})")
    conv = sub.add_parser("convert", help="write FFCV .beton files (train and test) for a dataset")
    conv.add_argument("dataset", help="a registered dataset (see `ltsweep data list`)")
    conv.add_argument("--out", required=True, type=Path, help="directory for the .beton files")
    conv.add_argument("--data-root", help=f"where real datasets live (default: ${DATA_ROOT_ENV})")
    conv.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="side length for tensor datasets (default: the dataset's own)",
    )
    conv.add_argument(
        "--split",
        choices=("train", "test"),
        action="append",
        help="only this split (repeatable; default: both)",
    )
    conv.add_argument("--workers", type=int, default=None, help="writer processes (default: CPUs)")


def _location(spec: DatasetSpec, root: Path | None) -> str:
    if spec.embedded:
        return "embedded"
    where = spec.expected.split("{")[0].rstrip("/") or spec.expected
    if root is None:
        return f"<data root>/{spec.expected} (no data root given)"
    found = "found" if (root / where).exists() else "missing"
    return f"{root / spec.expected} ({found})"


def _list(args: argparse.Namespace) -> int:
    from ltsweep.core.data import dataset_names

    root = resolve_root(args.data_root)
    rows = [("dataset", "classes", "size", "storage", "files")]
    for name in dataset_names():
        spec = get_spec(name)
        rows.append(
            (
                name,
                str(spec.num_classes),
                f"{spec.image_size}px",
                spec.storage,
                _location(spec, root),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[4])
    return 0


def _convert(args: argparse.Namespace) -> int:
    from ltsweep.core.data.ffcv_convert import SPLITS, convert_dataset

    splits = tuple(dict.fromkeys(args.split)) if args.split else SPLITS
    done = convert_dataset(
        args.dataset, args.out, args.data_root, args.image_size, splits, args.workers
    )
    for item in done:
        verb = "wrote" if item.status == "written" else "skipped (complete, sha256 verified)"
        print(f"{verb} {item.path} ({item.samples} images)")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.data_command == "list":
        return _list(args)
    return _convert(args)
