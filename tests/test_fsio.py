"""Atomic writes (``ltsweep.fsio``, and the ticket and checkpoint writers built on it): writers
killed mid-write leave no partial file under a final name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

WRITER = textwrap.dedent(
    """
    import sys, torch
    from pathlib import Path
    from ltsweep.core.checkpoint import save_checkpoint
    from ltsweep.core.masks import Mask
    from ltsweep.core.models import create_model, prunable_parameter_names
    from ltsweep.core.tickets import TicketInfo, save_ticket
    from ltsweep.core.train import TrainState
    from ltsweep.fsio import write_text
    out = Path(sys.argv[1])
    model = create_model("vgg19", 10)                     # ~80 MB of tensors: slow enough to kill
    mask = Mask.ones_like(model, prunable_parameter_names(model))
    info = TicketInfo("vgg19", "cifar10", "sgd", 0, 0, 10, 0, 1.0, mask.layer_density())
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    print("ready", flush=True)
    for i in range(1000):
        save_ticket(out / "ticket", model.state_dict(), mask, info)
        save_checkpoint(out / "checkpoint.pt", TrainState(model, opt, i, []))
        write_text(out / "report.html", "<p>" + "x" * 5_000_000 + "</p>")
    """
)


@pytest.mark.parametrize("delay", [0.05, 0.3, 0.8, 1.5])
def test_killed_writer_leaves_only_complete_files(tmp_path: Path, delay: float) -> None:
    import torch

    from ltsweep.core.tickets import load_ticket

    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if (tmp_path / "ticket").exists():
        load_ticket(tmp_path / "ticket")  # hash verified: complete
    if (tmp_path / "checkpoint.pt").exists():
        payload = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
        assert "model" in payload and "optimizer" in payload
    if (tmp_path / "report.html").exists():
        assert (tmp_path / "report.html").read_text().endswith("</p>")


DIR_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ltsweep.fsio import atomic_dir
    out, files = Path(sys.argv[1]), int(sys.argv[2])
    generation = 0
    while True:
        with atomic_dir(out / "ticket") as tmp:
            for i in range(files):
                (tmp / f"part{i:04d}").write_text(str(generation))
            (tmp / "complete").write_text(str(generation))  # written last
        if generation == 0:
            print("ready", flush=True)
        generation += 1
    """
)


def test_replacing_a_directory_killed_at_any_moment_leaves_one_whole_version(
    tmp_path: Path,
) -> None:
    """A directory replaced over and over (an IMP ticket rewritten on resume) and SIGKILLed at
    twelve moments: what carries the final name is always one complete version, never a mix
    or a half-deleted one. Deleting the old directory in place, file by file, failed this: its
    delete takes a third of each cycle with 1,500 files."""
    files = 1500
    for attempt in range(12):
        out = tmp_path / f"run{attempt}"
        proc = subprocess.Popen(
            [sys.executable, "-c", DIR_WRITER, str(out), str(files)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "ready", "the writer did not start"
        time.sleep(0.05 + 0.037 * attempt)  # spread over several replace cycles
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        final = out / "ticket"
        if not final.exists():
            continue  # killed between the two renames: no version, never a partial one
        contents = [p.read_text() for p in final.iterdir()]
        assert len(contents) == files + 1, (
            f"kill {attempt}: {final} holds {len(contents)} of {files + 1} files: a partial "
            "directory"
        )
        versions = set(contents)
        assert len(versions) == 1, f"kill {attempt}: {final} mixes versions {sorted(versions)}"
