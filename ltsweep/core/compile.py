"""The training step and evaluation, compiled with ``torch.compile`` or run eagerly.

Why compile: at the small sizes of a CPU sweep and the large ones of a GPU sweep alike, most of a
step's time is spent between kernels (Python, dispatch, memory traffic of unfused element-wise
ops); inductor fuses them. The mask is folded into the compiled graph: the forward uses
``weight * mask``, so autograd's backward produces gradients that are already zero at pruned
entries, fused with the rest of the backward, and a masked step costs no more than a plain one.
Pruned weights are zero already (``MaskApplier.apply_to_weights`` keeps them so), so the forward's
values are those of the eager step.

The compiled functions take the model as an argument rather than closing over it: every trial of
the same architecture, batch shape and mask-or-not reuses one graph in the process, and a fresh
process finds it in inductor's on-disk cache (``cache_dir()``), so a trial of a few seconds pays
about a second, not a 20-30 s compile. Only full batches run compiled; a ragged last batch runs the
same function eagerly (one graph per shape, no recompilation per dataset size).

Data-parallel training (DDP) composes with compilation the way PyTorch documents it: the model is
wrapped in DDP first and the call of the DDP module is compiled, so that dynamo's DDP optimizer
splits the graph at the gradient buckets and the all-reduce overlaps the backward. The mask is
folded in below DDP: DDP wraps ``MaskFolded(model)``, whose forward is the same ``weight * mask``
functional call, so DDP's gradient hooks see the model's own parameters and all-reduce gradients
that are already zero at pruned entries.

Where compilation is unavailable or fails, training goes on eagerly and says so once per process;
``StepFunctions.mode`` says which of the two ran and why (the trial's record carries it, since a
Ray worker's console is not the user's).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ltsweep.caches import cache_folder
from ltsweep.core.masks import Mask, MaskFolded, folded_weights

CACHE_ENV = "LTSWEEP_COMPILE_CACHE"  # where compiled artifacts live (default: ltsweep.caches)
DISABLE_ENV = "LTSWEEP_NO_COMPILE"  # "1": train eagerly whatever the sweep says

_broken: list[str] = []  # process-wide: why a compile failed (then every later trial is eager)
_said: set[str] = set()  # reasons already printed: each is said once per process
_functions: dict[str, Callable[..., Any]] = {}  # one torch.compile wrapper per function


def cache_dir() -> Path:
    """Inductor's cache for this node: ``$LTSWEEP_COMPILE_CACHE``, else the ``inductor`` folder
    of ltsweep's cache root (``ltsweep.caches``)."""
    return cache_folder("inductor", CACHE_ENV)


def use_disk_cache() -> Path:
    """Point inductor (and Triton, which keeps its cache under it) at ``cache_dir()`` and turn
    on its FX-graph and autograd caches. ``TORCHINDUCTOR_CACHE_DIR`` is overridden: torch sets
    it itself on first use (to /tmp/torchinductor_<user>), so only ltsweep's own variable is a
    reliable choice."""
    path = cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(path)
    except OSError as exc:  # a read-only home: torch's own default under /tmp still caches
        _say_once(f"compile cache {path} is not writable ({exc.strerror}); using torch's default")
    try:
        import torch._inductor.config as inductor_config

        inductor_config.fx_graph_cache = True
        import torch._functorch.config as functorch_config

        if hasattr(functorch_config, "enable_autograd_cache"):
            functorch_config.enable_autograd_cache = True
    except Exception:  # an old torch: the cache is an optimisation, never a requirement
        pass
    return path


def _say_once(message: str, eager: bool = False) -> None:
    if message not in _said:
        _said.add(message)
        tail = f"compile unavailable ({message}); training eagerly" if eager else message
        print(f"ltsweep: {tail}", file=sys.stderr)


def unavailable_reason(model: nn.Module, device: torch.device) -> str | None:
    """Why this model cannot be compiled here, or None."""
    if os.environ.get(DISABLE_ENV) == "1":
        return f"{DISABLE_ENV}=1"
    if _broken:
        return _broken[0]
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile"
    if device.type not in ("cpu", "cuda"):
        return f"device {device.type} is not compiled by ltsweep"
    if isinstance(model, nn.DataParallel):
        return "nn.DataParallel is not compiled by ltsweep (use DistributedDataParallel)"
    if isinstance(model, nn.parallel.DistributedDataParallel) and not isinstance(
        model.module, MaskFolded
    ):
        return "the DDP model does not fold its mask (wrap MaskFolded(model) in DDP)"
    try:
        from torch._dynamo import is_dynamo_supported

        if not is_dynamo_supported():
            return f"torch.compile does not support Python {sys.version.split()[0]} here"
    except Exception as exc:
        return f"torch._dynamo cannot be imported ({type(exc).__name__})"
    return None


def bf16_autocast(device_type: str, amp: bool) -> Any:
    """The one mixed-precision rule, for compiled and eager steps alike: bf16 autocast on CUDA
    when ``amp`` (``TrainConfig.amp``) is on; full precision on every other device."""
    if device_type == "cuda" and amp:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast(device_type, enabled=False)


def masked_loss(
    model: nn.Module,
    params: dict[str, torch.Tensor],
    factors: dict[str, torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    amp: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits [B, classes] and mean cross-entropy, with ``weight * mask`` for masked weights."""
    from torch.func import functional_call

    with bf16_autocast(x.device.type, amp):
        logits = functional_call(model, folded_weights(params, factors), (x,))
        loss = F.cross_entropy(logits.float(), y)
    return logits, loss


def module_loss(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, amp: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and mean cross-entropy of a model that folds its mask itself (DDP of
    ``MaskFolded``): compiled as a whole, DDP's own forward runs between graphs."""
    with bf16_autocast(x.device.type, amp):
        logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
    return logits, loss


def predict(model: nn.Module, x: torch.Tensor, amp: bool) -> torch.Tensor:
    with bf16_autocast(x.device.type, amp):
        return model(x)


# One process may train many architectures and shapes (a Ray worker runs trial after trial);
# each is one entry of the function's dynamo cache, whose default limit (8) would silently turn
# the ninth into eager code.
RECOMPILE_LIMIT = 64


def _compiled(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    if name not in _functions:
        import torch._dynamo.config as dynamo_config

        for option in ("recompile_limit", "cache_size_limit"):  # renamed in torch 2.7
            if getattr(dynamo_config, option, RECOMPILE_LIMIT) < RECOMPILE_LIMIT:
                setattr(dynamo_config, option, RECOMPILE_LIMIT)
        _functions[name] = torch.compile(fn, dynamic=False)
    return _functions[name]


COMPILED = "compiled"
EAGER = "eager"


@dataclass
class StepFunctions:
    """The step and evaluation a ``train()`` call uses. ``compiled`` says which mode runs now; it
    becomes False (and stays so in this process) if a compile fails; ``why`` says why a step
    runs eagerly. ``folds_mask``: the model (DDP of ``MaskFolded``) masks in its own forward."""

    model: nn.Module
    factors: dict[str, torch.Tensor]  # masked parameter name -> 0/1 factor (all-ones omitted)
    amp: bool
    compiled: bool
    full_batch: int = 0  # only this batch size runs compiled (0: the first one seen)
    eval_batch: int = 0
    why: str = ""  # why the steps run eagerly ("" while compiled)
    folds_mask: bool = False
    params: dict[str, torch.Tensor] = field(init=False)
    grads_masked: bool = field(init=False, default=False)  # did the last loss() mask gradients?

    def __post_init__(self) -> None:
        self.params = dict(self.model.named_parameters())

    @property
    def mode(self) -> str:
        """``"compiled"``, or ``"eager: <why>"`` — what a trial's record says of its steps."""
        return COMPILED if self.compiled else f"{EAGER}: {self.why}"

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.folds_mask:
            return self._module_loss(x, y)
        self.grads_masked = self.compiled
        self.full_batch = self.full_batch or x.shape[0]
        if self.compiled and x.shape[0] == self.full_batch:
            result = self._try("train", masked_loss, self.params, self.factors, x, y, self.amp)
            if result is not None:
                return result
        if self.compiled:  # a ragged batch: the same function, eagerly
            return masked_loss(self.model, self.params, self.factors, x, y, self.amp)
        self.grads_masked = False
        with bf16_autocast(x.device.type, self.amp):
            logits = self.model(x)  # [B, classes]
            return logits, F.cross_entropy(logits.float(), y)

    def _module_loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.grads_masked = True  # the forward folds the mask, compiled or not
        self.full_batch = self.full_batch or x.shape[0]
        if self.compiled and x.shape[0] == self.full_batch:
            result = self._try("train_module", module_loss, x, y, self.amp)
            if result is not None:
                return result
        return module_loss(self.model, x, y, self.amp)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        self.eval_batch = self.eval_batch or x.shape[0]
        if self.compiled and x.shape[0] == self.eval_batch:
            result = self._try("eval", predict, x, self.amp)
            if result is not None:
                return result
        return predict(self.model, x, self.amp)

    def _try(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return _compiled(name, fn)(self.model, *args)
        except torch.cuda.OutOfMemoryError:
            raise  # the trial's size, not the compiler: eager steps would not fit either
        except Exception as exc:  # no C compiler, an unsupported op, a backend bug...
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            _broken.append(f"{type(exc).__name__}: {first}")
            _say_once(_broken[0], eager=True)
            self.compiled, self.why = False, f"compile failed ({_broken[0]})"
            return None


def mask_factors(model: nn.Module, mask: Mask | None) -> dict[str, torch.Tensor]:
    """Masked parameter name -> 0/1 factor in the parameter's dtype and device; entries that keep
    everything are left out (a dense level compiles the plain graph)."""
    if mask is None:
        return {}
    params = dict(model.named_parameters())
    return {
        n: m.to(device=params[n].device, dtype=params[n].dtype)
        for n, m in mask.items()
        if not bool(m.all())
    }


def mask_folder(model: nn.Module) -> MaskFolded | None:
    """The ``MaskFolded`` a DDP model wraps, else None."""
    inner = getattr(model, "module", None)
    if isinstance(model, nn.parallel.DistributedDataParallel) and isinstance(inner, MaskFolded):
        return inner
    return None


def step_functions(
    model: nn.Module, mask: Mask | None, want_compile: bool, amp: bool
) -> StepFunctions:
    """Compiled steps if asked for and possible here, else eager ones (said once, with why)."""
    device = next(model.parameters()).device
    compiled, why = False, "compile is off (sweep key compile: false)"
    if want_compile:
        reason = unavailable_reason(model, device)
        if reason is None:
            use_disk_cache()
            compiled, why = True, ""
        else:
            _say_once(reason, eager=True)
            why = reason
    folder = mask_folder(model)
    if folder is not None:  # DDP: the mask lives in the forward, compiled or not
        folder.factors = mask_factors(folder.model, mask)
        return StepFunctions(model, {}, amp, compiled, why=why, folds_mask=True)
    factors = mask_factors(model, mask) if compiled else {}
    return StepFunctions(model, factors, amp, compiled, why=why)
