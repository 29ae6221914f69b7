"""Which arithmetic a trial's numbers came from: torch's version and the kernel family it ran
(the CPU's vector instructions, or the CUDA device). Runs agree bit for bit only between equal
kernel families; elsewhere the first steps differ in the last float digits and training
amplifies that, as it would any perturbation (docs/compile.md, "Numerics")."""

from __future__ import annotations

import torch


def kernel_family(device: str) -> str:
    """``"torch 2.14.1, cpu AVX512"`` or ``"torch 2.14.1, cuda 13.0, NVIDIA H100 80GB HBM3"``."""
    if device == "cuda":
        return (
            f"torch {torch.__version__}, cuda {torch.version.cuda}, {torch.cuda.get_device_name()}"
        )
    return f"torch {torch.__version__}, cpu {torch.backends.cpu.get_cpu_capability()}"
