"""Image folders as datasets (``ltsweep.core.data.image_folder``: ``dataset``, ``listing``,
``decoding``): layouts, classes from disk, the seeded split, the conversion rules for messy
files, refusals that name the file, cached statistics, reading splits and cuts, ``data check`` and
``data list``, and the plan-time refusals through the real CLI (a registered dataset pointed at a
folder with another class count; a bad image)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ltsweep.cli import main
from ltsweep.core.data import Cut, TensorSplit, load_split
from ltsweep.core.data.image_folder.dataset import describe_folder
from ltsweep.core.data.image_folder.decoding import open_rgb
from ltsweep.core.data.image_folder.listing import scan_folder
from ltsweep.errors import UserError
from tests.common.cli import ltsweep_quick


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LTSWEEP_CACHE", str(tmp_path / "cache"))


def solid(path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (10, 12)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, rgb).save(path)


def flat_folder(
    root: Path, per_class: int = 10, classes: tuple[str, ...] = ("b", "a", "c")
) -> Path:
    for c, name in enumerate(classes):
        for i in range(per_class):
            solid(root / name / f"{i:02d}.png", (40 * c, 100, 200))
    return root


def split_folder(root: Path) -> Path:
    for split, n in (("train", 4), ("val", 2)):
        for name in ("x", "y"):
            for i in range(n):
                solid(root / split / name / f"{i}.png", (10, 20, 30))
    return root


def test_train_val_layout_takes_classes_from_disk(tmp_path: Path) -> None:
    listing = scan_folder(split_folder(tmp_path / "d"))
    assert listing.layout == "train/val", listing.layout
    assert listing.classes == ("x", "y"), listing.classes
    assert listing.counts("train") == [4, 4] and listing.counts("test") == [2, 2]


def test_one_folder_is_split_seeded_balanced_and_disjoint(tmp_path: Path) -> None:
    root = flat_folder(tmp_path / "d")
    (root / "a" / "notes.txt").write_text("not an image")
    (root / "a" / ".DS_Store").write_bytes(b"\0")
    first, again = scan_folder(root, 0.2), scan_folder(root, 0.2)
    assert first.classes == ("a", "b", "c"), "classes must be sorted folder names"
    assert first.counts("test") == [2, 2, 2] and first.counts("train") == [8, 8, 8]
    assert first.train == again.train and first.sha256 == again.sha256, "split must be seeded"
    assert not {r for r, _ in first.train} & {r for r, _ in first.test}, "splits overlap"
    assert sorted(first.skipped) == ["a/.DS_Store", "a/notes.txt"], first.skipped
    other = scan_folder(root, 0.3)
    assert other.counts("test") == [3, 3, 3] and other.sha256 != first.sha256


def test_conversion_rules_give_8_bit_rgb(tmp_path: Path) -> None:
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([9, 9, 9, 0, 128, 255] + [0] * 762)
    cases = {
        "gray.png": (Image.new("L", (4, 4), 77), (77, 77, 77)),
        "rgba.png": (Image.new("RGBA", (4, 4), (10, 20, 30, 0)), (10, 20, 30)),
        "deep.png": (Image.fromarray(np.full((4, 4), 257 * 100, np.uint16)), (100, 100, 100)),
        "cmyk.jpg": (Image.new("CMYK", (4, 4), (0, 0, 0, 0)), (255, 255, 255)),
        "palette.png": (palette, (0, 128, 255)),
    }
    for name, (img, want) in cases.items():
        img.save(tmp_path / name)
        rgb, mode = open_rgb(tmp_path / name)
        got = tuple(np.asarray(rgb)[0, 0].tolist())
        assert rgb.mode == "RGB" and got == want, f"{name} (mode {mode}): {got}, want {want}"


def _unreadable(root: Path) -> Path:
    bad = root / "a" / "03.png"
    bad.write_text("this is not a PNG")
    return bad


def _truncated(root: Path) -> Path:
    bad = root / "b" / "01.png"
    bad.write_bytes(bad.read_bytes()[:40])
    return bad


def _empty_class(root: Path) -> Path:
    (root / "empty").mkdir()
    return root / "empty"


def _symlink_loop(root: Path) -> Path:
    os.symlink("..", root / "c" / "again")
    return root / "c" / "again"


def _self_link(root: Path) -> Path:
    os.symlink("self", root / "b" / "self")
    return root / "b" / "self"


def _broken_link(root: Path) -> Path:
    os.symlink("nowhere.png", root / "c" / "gone.png")
    return root / "c" / "gone.png"


def _float_image(root: Path) -> Path:
    bad = root / "a" / "float.tif"
    Image.fromarray(np.ones((4, 4), np.float32)).save(bad)
    return bad


@pytest.mark.parametrize(
    ("spoil", "problem"),
    [
        (_unreadable, "is not a readable image"),
        (_truncated, "is not a readable image"),
        (_empty_class, "has no images"),
        (_symlink_loop, "is a symlink loop"),
        (_self_link, "is a symlink loop"),
        (_broken_link, "is a broken symlink"),
        (_float_image, "floating-point image"),
    ],
)
def test_messy_folders_are_refused_naming_the_file(tmp_path: Path, spoil, problem: str) -> None:
    root = flat_folder(tmp_path / "d", per_class=4)
    culprit = spoil(root)
    with pytest.raises(UserError) as err:
        describe_folder(root)
    text = str(err.value)
    assert problem in text and str(culprit) in text and "\n" not in text, text


def test_statistics_are_computed_once_and_cached_by_file_list(tmp_path: Path, monkeypatch) -> None:
    import ltsweep.core.data.image_folder.decoding as images

    root = tmp_path / "d"
    for i in range(2):
        solid(root / "red" / f"{i}.png", (255, 0, 0))
        solid(root / "blue" / f"{i}.png", (0, 0, 255))
    first = describe_folder(root, 0.5)
    # the training split is one red and one blue image: R and B average 1/2, G is 0
    assert np.allclose(first.mean, (0.5, 0.0, 0.5), atol=1e-4), first.mean
    assert np.allclose(first.std, (0.5, 0.0, 0.5), atol=1e-3), first.std
    assert list((tmp_path / "cache" / "image_folders").glob(f"{first.files_sha256}.json"))

    def no_decoding(listing):
        raise AssertionError("statistics were recomputed although cached")

    monkeypatch.setattr(images, "_compute", no_decoding)
    assert describe_folder(root, 0.5) == first
    solid(root / "red" / "2.png", (255, 0, 0))
    monkeypatch.undo()
    from ltsweep.core.data.image_folder import dataset as image_folder

    image_folder._listing.cache_clear()
    changed = describe_folder(root, 0.5)
    assert changed.files_sha256 != first.files_sha256, "a new file must change the file hash"


def test_splits_read_in_memory_and_on_disk_with_cuts(tmp_path: Path) -> None:
    folder = describe_folder(flat_folder(tmp_path / "d"), 0.2)
    train = load_split("mine", "train", image_size=8, folder=folder)
    assert isinstance(train, TensorSplit) and tuple(train.images.shape) == (24, 3, 8, 8)
    assert train.images.dtype == torch.uint8 and sorted(set(train.labels.tolist())) == [0, 1, 2]
    half = load_split("mine", "train", image_size=8, cut=Cut("a", 6), folder=folder)
    assert torch.bincount(half.labels).tolist() == [2, 2, 2], "cut must stay class-balanced"
    with pytest.raises(UserError, match="train_subset 30 is larger"):
        load_split("mine", "train", image_size=8, cut=Cut(None, 30), folder=folder)
    test = load_split("mine", "test", image_size=96, folder=folder)  # large: decoded per item
    image, label = test[0]
    assert tuple(image.shape) == (3, 96, 96) and label == 0 and len(test) == 6


def test_data_check_and_list_show_an_image_folder(tmp_path: Path, capsys) -> None:
    root = flat_folder(tmp_path / "d", per_class=5)
    Image.new("L", (6, 6), 9).save(root / "a" / "gray.png")
    (root / "a" / "readme.txt").write_text("x")
    assert main(["data", "check", str(root)]) == 0
    out = capsys.readouterr().out
    assert "3 classes (a, b, c)" in out and "converted to RGB: 1 L" in out, out
    assert "skipped: 1 files" in out and "a/readme.txt" in out, out
    sweep = tmp_path / "s.yaml"
    sweep.write_text(SWEEP.format(entry=f"kind: image_folder, path: {root}, image_size: 16"))
    assert main(["data", "list", "--sweep", str(sweep)]) == 0
    row = capsys.readouterr().out.splitlines()[-1].split()
    assert row[:4] == ["mine", "3", "16px", "image"] and row[-1] == str(root), row


SWEEP = """
models: [{{name: vgg_tiny}}]
datasets:
  mine: {{{entry}, batch_size: 8, schedule: {{epochs: 1}}}}
optimizers: {{sgd: {{lr: 0.1}}}}
sources: [{{dataset: mine, optimizer: sgd}}]
targets: [{{dataset: mine, optimizer: sgd}}]
imp: {{levels: 1}}
seeds: [0]
"""


def _plan(tmp_path: Path, entry: str, *args: str):
    sweep = tmp_path / "s.yaml"
    sweep.write_text(SWEEP.format(entry=entry))
    env = {"LTSWEEP_CACHE": str(tmp_path / "cache")}
    return ltsweep_quick("plan", str(sweep), *args, env=env)


def test_a_registered_dataset_on_a_folder_with_other_classes_is_refused_at_plan(tmp_path) -> None:
    split_folder(tmp_path / "root" / "imagenet")
    result = _plan(tmp_path, "dataset: imagenet", "--data-root", str(tmp_path / "root"))
    err = result.stderr.strip()
    assert result.returncode == 2 and "\n" not in err, f"{result.returncode}: {err}"
    assert "1000 classes" in err and "holds 2 class folders" in err, err
    assert "kind: image_folder" in err, f"the fix is not named: {err}"


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("kind: image_folder, path: {root}, image_size: 8, test_fraction: 0.5", "test_fraction"),
        ("kind: image_folder, path: d, image_size: 8", "is relative: give an absolute path"),
        ("kind: image_folder, path: {root}", "needs image_size"),
        ("kind: image_folder, path: {bad}, image_size: 8", "is not a readable image"),
    ],
)
def test_image_folder_entries_refused_at_plan(tmp_path: Path, entry: str, problem: str) -> None:
    root = split_folder(tmp_path / "d")
    bad = flat_folder(tmp_path / "bad", per_class=3)
    culprit = _unreadable(bad)
    result = _plan(tmp_path, entry.format(root=root, bad=bad))
    err = result.stderr.strip()
    assert result.returncode == 2 and "\n" not in err and problem in err, err
    if "readable" in problem:
        assert str(culprit) in err, err


def test_a_one_class_folder_is_refused_at_plan_and_data_check(tmp_path: Path) -> None:
    """One class would train a one-way head: 100% accuracy that means nothing."""
    root = flat_folder(tmp_path / "d", per_class=4, classes=("cats",))
    planned = _plan(tmp_path, f"kind: image_folder, path: {root}, image_size: 8")
    env = {"LTSWEEP_CACHE": str(tmp_path / "cache")}
    checked = ltsweep_quick("data", "check", str(root), env=env)
    for command, result in (("plan", planned), ("data check", checked)):
        err = result.stderr.strip()
        assert result.returncode == 2 and "\n" not in err, f"{command}: {result.returncode}: {err}"
        assert "one class folder (cats)" in err and "two or more" in err, f"{command}: {err}"


def test_plan_of_an_image_folder_keys_its_files_not_its_place(tmp_path: Path) -> None:
    import json
    import shutil

    root = flat_folder(tmp_path / "d", per_class=4)
    entry = "kind: image_folder, path: {}, image_size: 8"
    first = _plan(tmp_path, entry.format(root), "--json", "--trials")
    shutil.copytree(root, tmp_path / "moved")
    moved = _plan(tmp_path, entry.format(tmp_path / "moved"), "--json", "--trials")
    solid(tmp_path / "moved" / "a" / "new.png", (1, 2, 3))
    grown = _plan(tmp_path, entry.format(tmp_path / "moved"), "--json", "--trials")

    def keys(result):
        assert result.returncode == 0, result.stderr
        return [t["key"] for t in json.loads(result.stdout)["trial_list"]]

    assert keys(first) == keys(moved), "moving the folder changed the trial keys"
    assert not set(keys(first)) & set(keys(grown)), "new files did not change the trial keys"
