"""``ltsweep data list`` and ``ltsweep data convert``: output, exit codes, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltsweep.cli import main
from ltsweep.core.data import dataset_names


def test_list_shows_every_dataset_and_where_it_is(capsys, tmp_path: Path) -> None:
    (tmp_path / "cifar-10-batches-py").mkdir()
    assert main(["data", "list", "--data-root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(lines) == set(dataset_names())
    assert "embedded" in lines["digits"] and "16px" in lines["digits"]
    assert "100" in lines["cifar100"].split() and "missing; looked in" in lines["cifar100"]
    # every place of the search order is named: the extracted folder, then the archive
    assert str(tmp_path / "cifar-100-python.tar.gz") in lines["cifar100"], lines["cifar100"]
    assert f"found: {tmp_path / 'cifar-10-batches-py'}" in lines["cifar10"], lines["cifar10"]
    assert "folder" in lines["imagenet"] and str(tmp_path / "imagenet") in lines["imagenet"]


def test_list_without_data_root(capsys, monkeypatch) -> None:
    monkeypatch.delenv("LTSWEEP_DATA", raising=False)
    assert main(["data", "list"]) == 0
    assert "no data root given" in capsys.readouterr().out


def test_convert_then_skip(capsys, tmp_path: Path) -> None:
    pytest.importorskip("ffcv", reason="FFCV is not installed (scripts/setup.sh installs it)")
    args = [
        "data",
        "convert",
        "digits",
        "--out",
        str(tmp_path),
        "--image-size",
        "8",
        "--split",
        "test",
        "--workers",
        "1",
    ]
    assert main(args) == 0
    assert "wrote" in capsys.readouterr().out
    assert (tmp_path / "digits-8px-test.beton").exists()
    assert not (tmp_path / "digits-8px-train.beton").exists()
    assert main(args) == 0
    assert "skipped (complete, sha256 verified)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["data", "convert", "nosuch", "--out", "X"], "unknown dataset 'nosuch'"),
        (
            ["data", "convert", "cifar10", "--out", "X", "--data-root", "/nonexistent"],
            "does not exist",
        ),
        (
            ["data", "convert", "imagenet", "--out", "X", "--image-size", "64"],
            "--image-size applies to tensor datasets",
        ),
    ],
)
def test_convert_errors_are_one_line_exit_2(capsys, tmp_path, argv, message) -> None:
    if "cifar10" in argv:
        pytest.importorskip(  # without FFCV, that is the error reported first
            "ffcv", reason="FFCV is not installed (scripts/setup.sh installs it)"
        )
    argv = [str(tmp_path / a) if a == "X" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


def test_convert_needs_out(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["data", "convert", "digits"])
    assert exc.value.code == 2
