"""``ltsweep data list``, ``ltsweep data check`` and ``ltsweep data convert DATASET --out DIR``.

``list`` shows every registered dataset (plugins' included): classes, the side length the model
sees, and where its files are: embedded, where they were found, or every place looked and how to
get them (the same search order the readers use; without a data root, system locations such as
Debian's ``/usr/share/datasets/fashion-mnist``); with ``--sweep``, the sweep's image folders too.
``check`` reads both splits as a trial would and prints their sizes per class; given a directory,
it checks it as an image folder: classes, split sizes, statistics, converted and skipped files.
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
    ls.add_argument("--sweep", help="also list this sweep's image folders (name or YAML path)")
    chk = sub.add_parser("check", help="read a dataset's splits and print their sizes per class")
    chk.add_argument(
        "dataset", help="a registered dataset (see `ltsweep data list`), or an image folder's path"
    )
    chk.add_argument("--data-root", help=f"where real datasets live (default: ${DATA_ROOT_ENV})")
    chk.add_argument(
        "--test-fraction",
        type=float,
        default=None,
        help="image folder without train/ and val/: the share of each class held out to test "
        "(default 0.2, as in a sweep)",
    )
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
    """Where the files were found, or every place looked (the reader's own search order)."""
    from ltsweep.core.data.locate import candidates, locate

    if spec.embedded:
        return "embedded"
    looked = candidates(spec.places, root)
    if not looked:
        return f"<data root>/{spec.places[0].path} (no data root given; {spec.how_to_get})"
    found = locate(spec.places, root)
    if found is not None:
        return f"found: {found}"
    return f"missing; looked in {', '.join(map(str, looked))} (get it: {spec.how_to_get})"


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
    rows += _sweep_folder_rows(args.sweep, args.data_root) if args.sweep else []
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[4])
    return 0


def _sweep_folder_rows(sweep: str, data_root: str | None) -> list[tuple[str, ...]]:
    """One row per image folder of ``sweep``, listed and checked as ``plan`` does."""
    from ltsweep.sweep.data_check import folder_data
    from ltsweep.sweep.files import find_sweep

    config = find_sweep(sweep).require_config()
    root = resolve_root(data_root, config.data_root)
    rows = []
    for name, s in config.datasets.items():
        if not s.is_folder or s.path is None:
            continue
        folder = folder_data(name, s.path, str(root) if root else None, s.test_fraction)
        size = f"{s.image_size}px"
        rows.append((name, str(len(folder.classes)), size, "image folder", folder.path))
    return rows


def _check_folder(path: Path, test_fraction: float | None) -> int:
    """Check an image folder as ``plan`` does and say what it found and what it converted."""
    from ltsweep.core.data.image_folder.decoding import cache_dir, converted_modes, folder_stats
    from ltsweep.core.data.image_folder.listing import scan_folder

    listing = scan_folder(path.resolve(), test_fraction)
    stats = folder_stats(listing)
    names = ", ".join(listing.classes[:10]) + (", …" if len(listing.classes) > 10 else "")
    print(
        f"image folder {listing.root} ({listing.layout}): {len(listing.classes)} classes ({names})"
    )
    for split in ("train", "test"):
        counts = listing.counts(split)
        per = str(min(counts)) if min(counts) == max(counts) else f"{min(counts)}-{max(counts)}"
        print(f"  {split}: {sum(counts)} images, {per} per class")
    fmt = " ".join(f"{v:.4f}" for v in stats["mean"]), " ".join(f"{v:.4f}" for v in stats["std"])
    print(f"  mean {fmt[0]}  std {fmt[1]}  (training split; cached in {cache_dir()})")
    converted = converted_modes(stats["modes"])
    if converted:
        modes = ", ".join(f"{n} {m}" for m, n in converted.items())
        print(f"  converted to RGB: {modes} (rules: docs/datasets.md)")
    if listing.skipped:
        shown = ", ".join(listing.skipped[:3]) + (", …" if len(listing.skipped) > 3 else "")
        print(f"  skipped: {len(listing.skipped)} files that are not images ({shown})")
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


def _check(args: argparse.Namespace) -> int:
    """Read both splits as a trial would; a corrupt or unsafe file is a one-line error."""
    from collections import Counter

    from ltsweep.core.data import TensorSplit, find_dataset, load_split

    if Path(args.dataset).is_dir() or "/" in args.dataset:
        return _check_folder(Path(args.dataset).expanduser(), args.test_fraction)
    spec = get_spec(args.dataset)
    where = "embedded" if spec.embedded else str(find_dataset(spec, args.data_root))
    for split in ("train", "test"):
        data = load_split(spec.name, split, args.data_root)
        labels = data.labels.tolist() if isinstance(data, TensorSplit) else data.targets  # type: ignore[attr-defined]
        counts = sorted(Counter(labels).values())
        per = str(counts[0]) if counts[0] == counts[-1] else f"{counts[0]}-{counts[-1]}"
        print(f"{spec.name} {split}: {len(labels)} images, {len(counts)} classes, {per} per class")
    print(f"read from {where}")
    return 0


COMMANDS = {"list": _list, "check": _check, "convert": _convert}


def run(args: argparse.Namespace) -> int:
    return COMMANDS[args.data_command](args)
