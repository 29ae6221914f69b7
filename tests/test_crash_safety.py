"""Issue 7.2: writers killed mid-write leave no partial file under a final name."""

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
