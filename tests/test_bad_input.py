"""The CLI's answer to bad input, case by case through the real entry point: one line on stderr
naming the problem and the fix, exit code 2, no traceback, nothing written."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest
import yaml

from tests.common.cli import REPO, ltsweep, ltsweep_quick, tree

TINY = REPO / "tests" / "sweeps" / "tiny.yaml"


def tiny() -> dict:
    return yaml.safe_load(TINY.read_text())


def edit(fn):
    def make(tmp: Path) -> Path:
        cfg = tiny()
        fn(cfg)
        path = tmp / "sweep.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return path

    return make


def raw(text: str):
    def make(tmp: Path) -> Path:
        path = tmp / "sweep.yaml"
        path.write_text(text)
        return path

    return make


def binary(data: bytes):
    def make(tmp: Path) -> Path:
        path = tmp / "sweep.yaml"
        path.write_bytes(data)
        return path

    return make


def special(kind: str):
    """A sweep path that is not a readable regular file: missing, a directory, a FIFO."""

    def make(tmp: Path) -> Path:
        path = tmp / "sweep.yaml"
        if kind == "directory":
            path.mkdir()
        elif kind == "fifo":
            os.mkfifo(path)  # reading it would block forever
        return path

    return make


def appended(text: str):
    def make(tmp: Path) -> Path:
        path = tmp / "sweep.yaml"
        path.write_text(TINY.read_text() + text)
        return path

    return make


def _set(path: str, value):
    def fn(cfg: dict) -> None:
        *parents, last = path.split(".")
        node = cfg
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        node[last] = value

    return fn


CASES = {
    # name: (sweep-file maker, extra CLI args, substrings the one line must contain)
    "binary file": (
        binary(bytes(range(256)) * 4),
        [],
        ["sweep.yaml", "not UTF-8 text", "binary file"],
    ),
    "gzip file": (
        binary(gzip.compress(TINY.read_bytes())),
        [],
        ["sweep.yaml", "not UTF-8 text", "0x8b at offset 1"],
    ),
    "nul byte in text": (
        binary(b"models:\n  - name: vgg_tiny\x00\n"),
        [],
        ["sweep.yaml", "not YAML text", "U+0000", "line 2"],
    ),
    "sweep file is a directory": (special("directory"), [], ["sweep.yaml", "is a directory"]),
    "sweep file missing": (special("missing"), [], ["sweep.yaml", "does not exist"]),
    "sweep file is a fifo": (special("fifo"), [], ["sweep.yaml", "not a regular file"]),
    "duplicate top-level key": (
        appended("seeds: [5, 6]\n"),
        [],
        ["'seeds'", "given twice", "lines 22 and 27"],
    ),
    "duplicate nested key": (
        raw(TINY.read_text().replace("    workers: 0\n", "    workers: 0\n    batch_size: 64\n")),
        [],
        ["'datasets.digits.batch_size'", "given twice", "lines 7 and 10"],
    ),
    "duplicate key in flow mapping": (
        raw(TINY.read_text().replace("sgd: {lr: 0.05}", "sgd: {lr: 0.05, lr: 0.5}")),
        [],
        ["'optimizers.sgd.lr'", "twice on line 11"],
    ),
    "duplicate key in a list item": (
        raw(
            TINY.read_text().replace(
                "  - name: vgg_tiny\n", "  - name: vgg_tiny\n    name: vgg19\n"
            )
        ),
        [],
        ["'models[0].name'", "lines 3 and 4"],
    ),
    "yaml syntax": (raw("models: [\n  - name: vgg_tiny\n seeds: {"), [], ["YAML syntax", "line"]),
    "unknown key": (edit(_set("imp.levles", 3)), [], ["imp.levles", "did you mean 'levels'"]),
    "resolution ramp past the last epoch": (
        edit(
            _set("datasets.digits.resolution", {"start": 8, "end": 16, "ramp": [0, 2], "step": 8})
        ),
        [],
        ["datasets.digits.resolution", "ramp ends at epoch 2", "epochs 0..1"],
    ),
    "resolution size off its step": (
        edit(_set("datasets.digits.resolution", {"start": 12, "end": 16, "ramp": [0, 1]})),
        [],
        ["datasets.digits.resolution", "start (12) must be a multiple of step (32)"],
    ),
    "unknown model": (
        edit(_set("models.0.name", "vgg_huge")),
        [],
        ["models[0].name", "unknown model", "vgg_tiny"],
    ),
    "unknown dataset": (
        edit(lambda c: c["sources"].__setitem__(0, {"dataset": "mnist", "optimizer": "sgd"})),
        [],
        ["sources[0].dataset", "unknown dataset", "digits"],
    ),
    "unknown optimizer": (
        edit(lambda c: c["optimizers"].__setitem__("rmsprop", {"lr": 0.1})),
        [],
        ["optimizers.rmsprop", "unknown optimizer", "adam"],
    ),
    "unknown strategy": (
        edit(_set("imp.strategy", "random")),
        [],
        ["imp.strategy", "unknown pruning strategy", "global"],
    ),
    "rate out of range": (edit(_set("imp.rate", 1.5)), [], ["imp.rate", "(0, 1)"]),
    "zero epochs": (
        edit(_set("datasets.digits.schedule.epochs", 0)),
        [],
        ["datasets.digits.schedule.epochs", "> 0"],
    ),
    "zero levels": (edit(_set("imp.levels", 0)), [], ["imp.levels", "> 0"]),
    "negative levels": (edit(_set("imp.levels", -3)), [], ["imp.levels"]),
    "fractional gpu with workers": (
        edit(_set("resources.generate", {"gpu": 0.5, "workers": 2})),
        [],
        ["resources.generate.gpu", "workers: 1"],
    ),
    "seeds not integers": (edit(_set("seeds", [0, 1.5])), [], ["seeds[1]", "integer"]),
    "string where number": (edit(_set("imp.rate", "fast")), [], ["imp.rate", "number"]),
    "bool where int": (edit(_set("imp.levels", True)), [], ["imp.levels", "integer"]),
    "missing required": (edit(lambda c: c.pop("seeds")), [], ["seeds", "required"]),
    "target without settings": (
        edit(lambda c: c["targets"].append({"dataset": "shapes", "optimizer": "sgd"})),
        [],
        ["targets[2].dataset", "no entry under 'datasets'"],
    ),
    "transfer level outside": (
        edit(_set("transfer", {"levels": [5]})),
        [],
        ["transfer.levels", "1..imp.levels"],
    ),
    "retired transfer kinds": (
        edit(_set("transfer", {"kinds": ["transferred", "same", "dense"]})),
        [],
        ["transfer.kinds", "same and dense are not trained", "remove same, dense"],
    ),
    "no data root": (
        edit(
            lambda c: (
                c["datasets"].__setitem__("cifar10", c["datasets"]["digits"])
                or c["targets"].append({"dataset": "cifar10", "optimizer": "sgd"})
            )
        ),
        ["--data-root", "/nonexistent/ltsweep-data"],
        ["data root", "does not exist"],
    ),
    "dataset missing under root": (
        edit(
            lambda c: (
                c["datasets"].__setitem__("cifar10", c["datasets"]["digits"])
                or c["targets"].append({"dataset": "cifar10", "optimizer": "sgd"})
            )
        ),
        ["--data-root", "{tmp}"],
        ["cifar10", "cifar-10-batches-py", "download=True"],
    ),
    "ffcv without converted files": (
        edit(_set("datasets.digits.loader", "ffcv")),
        [],
        ["ffcv", "ltsweep data convert"],
    ),
    "unreachable tracking": (
        edit(_set("tracking_uri", "http://127.0.0.1:9")),
        [],
        ["tracking server", "unreachable", "tracking_uri"],
    ),
    "unwritable out": (
        edit(lambda c: None),
        ["--out", "/proc/ltsweep-out"],
        ["not writable", "--out"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_sweep_input_is_one_line_exit_2_nothing_written(case: str, tmp_path: Path) -> None:
    make, extra, expected = CASES[case]
    work = tmp_path / "work"
    work.mkdir()
    sweep = make(tmp_path)
    before = tree(work)
    args = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    result = ltsweep_quick("run", str(sweep), *args, cwd=work)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for text in expected:
        assert text in lines[0], (text, lines[0])
    assert tree(work) == before  # nothing written (no runs/, no store)


NO_FILE_OVERRIDE = "-dac_override,-dac_read_search"  # the capabilities that let root read anything


def test_unreadable_sweep_file_is_one_line_exit_2(tmp_path: Path) -> None:
    """chmod 000 stops a normal user. Root reads any file, so as root the CLI runs without the
    two capabilities that bypass file permissions: then the kernel refuses it as it would anyone."""
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(TINY.read_text())
    sweep.chmod(0)
    work = tmp_path / "work"
    work.mkdir()
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("as root, making a file unreadable needs util-linux's setpriv (missing)")
        prefix = (setpriv, f"--bounding-set={NO_FILE_OVERRIDE}", f"--inh-caps={NO_FILE_OVERRIDE}")
    result = ltsweep("run", str(sweep), cwd=work, prefix=prefix)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, f"want one line, exit 2: {result.stderr}"
    assert "sweep.yaml" in lines[0] and "permission denied" in lines[0], lines[0]
    assert tree(work) == set(), f"something was written: {tree(work)}"


def test_unknown_sweep_name_lists_available(tmp_path: Path) -> None:
    result = ltsweep("plan", "grid_fulll", cwd=tmp_path)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "grid_fulll" in line and "demo" in line and "grid_full" in line
    assert len(line.splitlines()) == 1


def test_corrupt_ticket_is_one_line(tmp_path: Path) -> None:
    import torch

    from ltsweep.core.masks import Mask
    from ltsweep.core.tickets import TicketInfo, save_ticket

    info = TicketInfo("vgg_tiny", "digits", "sgd", 1, 0, 10, 5, 0.5, {"w": 0.5})
    save_ticket(tmp_path / "t", {"w": torch.ones(4)}, Mask({"w": torch.tensor([1, 0, 1, 0])}), info)
    data = bytearray((tmp_path / "t" / "weights.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "t" / "weights.safetensors").write_bytes(bytes(data))
    result = ltsweep_quick("ticket", "show", str(tmp_path / "t"))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "sha256" in result.stderr and "weights.safetensors" in result.stderr


def test_bad_cli_usage_is_one_line(tmp_path: Path) -> None:
    result = ltsweep_quick("run", cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_plan_refuses_incompatible_transfer(tmp_path: Path) -> None:
    cfg = tiny()
    cfg["models"] = [
        {"name": "resnet_tiny", "options_by_dataset": {"shapes": {"stem": "imagenet"}}}
    ]
    cfg["datasets"]["shapes"] = cfg["datasets"]["digits"]
    cfg["sources"].append({"dataset": "shapes", "optimizer": "sgd"})
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = ltsweep_quick("plan", str(path), cwd=tmp_path)
    assert result.returncode == 2 and "skip_incompatible" in result.stderr
    cfg["transfer"] = {"skip_incompatible": True}
    path.write_text(yaml.safe_dump(cfg))
    result = ltsweep_quick("plan", str(path), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # targets digits/sgd and digits/adam each lose shapes/sgd's 2 levels x 1 seed
    assert '"skipped_incompatible": 4' in result.stdout
    shutil.rmtree(tmp_path / "runs", ignore_errors=True)


def test_quick_cli_answers_as_the_real_entry_point_does(tmp_path: Path) -> None:
    """The fork server behind ``ltsweep_quick`` must not change what a user sees: the same exit
    code, stdout and stderr as ``python -m ltsweep`` for a good and a bad command."""
    bad = raw("models: [{name: nope}]\n")(tmp_path)
    for args in (("plan", str(TINY)), ("plan", str(bad)), ("run",)):
        quick, real = ltsweep_quick(*args, cwd=tmp_path), ltsweep(*args, cwd=tmp_path)
        got = (quick.returncode, quick.stdout, quick.stderr)
        assert got == (real.returncode, real.stdout, real.stderr), f"{args}: {got} != {real}"
