"""GPU check in one call: what ltsweep's core engine does on one GPU, written as one JSON file
and a short table. Needs only torch and numpy (Python 3.12, torch 2.11 and newer); no Ray,
MLflow or FFCV anywhere on its import path.

    python -m bench.gpu_check                      # the full check, < 8 min on one H100
    python -m bench.gpu_check --cpu-tiny --no-compile   # tiny sizes on CPU: what CI runs
    python -m bench.gpu_check --prepare            # copy Fashion-MNIST into bench/data first

Sections, in this order; each is skipped (and says so) when the time budget would be exceeded,
and the JSON is rewritten after each, so a cut-off run still leaves its figures:

1. train-step images/s, eager vs compiled and plain vs 20%-density masked, bf16 autocast and
   channels-last as ``ltsweep.core.train`` uses them, synthetic tensors resident on the GPU;
2. VGG19 IMP with late resetting on real Fashion-MNIST (dense and two levels at 20%), with test
   accuracies (the published band for such networks is 0.93-0.95);
3. four processes sharing the GPU (grid_full's ``gpu: 0.25``) vs the same trials one at a time;
4. GPU-seconds per epoch for every (model, dataset) of grid_full.yaml, printed as YAML.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from bench.common import cpu_model
from ltsweep.core.compile import step_functions
from ltsweep.core.data.loading import make_loader
from ltsweep.core.data.loading.protocol import LoaderOptions
from ltsweep.core.jobs import TrainConfig
from ltsweep.core.masks import Mask, MaskApplier
from ltsweep.core.models import create_model, prunable_parameter_names
from ltsweep.core.optim import OptimizerConfig, build_optimizer
from ltsweep.core.pruning import PruneConfig, prune
from ltsweep.core.train import train, train_step

REPO = Path(__file__).resolve().parent.parent
DATA_ROOT = REPO / "bench" / "data"  # holds fashion-mnist/*.gz (ignored by git, carried)
SYSTEM_FASHION = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
FORBIDDEN = ("ray", "mlflow", "ffcv", "pyarrow", "yaml", "safetensors")
DENSITY = 0.2
# grid_full.yaml's datasets: (training images, image size); tests/test_gpu_check.py keeps it true.
GRID = {
    "fashion_mnist": (60_000, 32),
    "svhn": (73_257, 32),
    "cifar10": (50_000, 32),
    "cifar100": (50_000, 32),
    "imagenet": (1_281_167, 224),
    "places365": (1_803_460, 224),
}
# (grid model, image size) -> the step case whose images/s gives its epoch seconds
GRID_CASES = {
    ("vgg19", 32): "vgg19_32",
    ("resnet50", 32): "resnet50_32",
    ("vgg19", 224): "vgg19_224",
    ("resnet50", 224): "resnet50_224",
}


@dataclass(frozen=True)
class StepCase:
    label: str
    model: str
    options: tuple[tuple[str, str], ...]
    size: int
    batch: int
    classes: int


@dataclass(frozen=True)
class Plan:
    """Sizes of one mode of the check."""

    device: str
    cases: tuple[StepCase, ...]
    steps: int  # per timed block
    pairs: int  # eager/compiled blocks alternated
    imp_model: str
    imp_size: int
    imp_batch: int
    imp_epochs: int
    imp_subset: int | None
    share_model: StepCase
    share_steps: int
    share_procs: int
    budget_s: float
    grid_cases: dict[tuple[str, int], str] = field(default_factory=lambda: dict(GRID_CASES))


FULL = Plan(
    device="cuda",
    cases=(
        StepCase("vgg19_32", "vgg19", (), 32, 512, 10),
        StepCase("resnet50_32", "resnet50", (("stem", "cifar"),), 32, 512, 10),
        StepCase("resnet50_224", "resnet50", (("stem", "imagenet"),), 224, 128, 1000),
        StepCase("vgg19_224", "vgg19", (), 224, 128, 1000),
    ),
    steps=30,
    pairs=3,
    imp_model="vgg19",
    imp_size=32,
    imp_batch=512,
    imp_epochs=8,
    imp_subset=None,
    share_model=StepCase("vgg19_32", "vgg19", (), 32, 512, 10),
    share_steps=150,
    share_procs=4,
    budget_s=400.0,
)
TINY = Plan(
    device="cpu",
    cases=(StepCase("vgg_tiny_8", "vgg_tiny", (), 8, 32, 10),),
    steps=3,
    pairs=1,
    imp_model="vgg_tiny",
    imp_size=8,
    imp_batch=64,
    imp_epochs=2,
    imp_subset=640,
    share_model=StepCase("vgg_tiny_8", "vgg_tiny", (), 8, 32, 10),
    share_steps=3,
    share_procs=2,
    budget_s=120.0,
    grid_cases={key: "vgg_tiny_8" for key in GRID_CASES},  # exercises the arithmetic only
)


@dataclass
class Report:
    mode: str
    device: str
    compile: bool
    torch: str = torch.__version__
    python: str = platform.python_version()
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    seconds: float = 0.0
    steps: list[dict[str, Any]] = field(default_factory=list)
    imp: dict[str, Any] = field(default_factory=dict)
    sharing: dict[str, Any] = field(default_factory=dict)
    epoch_gpu_seconds: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    forbidden_modules: list[str] = field(default_factory=list)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _masked(model: torch.nn.Module) -> Mask:
    names = prunable_parameter_names(model, False)
    ones = Mask.ones_like(model, names)
    return prune(model.state_dict(), ones, PruneConfig("global", 1 - DENSITY))


class Stepper:
    """ltsweep's training step on one synthetic batch: autocast, channels-last, masking."""

    def __init__(self, case: StepCase, device: str, compiled: bool, masked: bool) -> None:
        torch.manual_seed(0)
        self.model = create_model(case.model, case.classes, **dict(case.options)).to(device)
        self.device, self.batch = device, case.batch
        cuda = device == "cuda"
        if cuda:
            self.model = self.model.to(memory_format=torch.channels_last)
        mask = _masked(self.model) if masked else None
        self.applier = MaskApplier(self.model, mask) if mask is not None else None
        if self.applier:
            self.applier.apply_to_weights()
        self.optimizer = build_optimizer(self.model, OptimizerConfig("sgd", 0.01))
        self.steps = step_functions(self.model, mask, compiled, amp=cuda)
        gen = torch.Generator(device=device).manual_seed(1)
        shape = (case.batch, 3, case.size, case.size)
        self.x = torch.randn(shape, generator=gen, device=device)
        if cuda:
            self.x = self.x.contiguous(memory_format=torch.channels_last)
        self.y = torch.randint(0, case.classes, (case.batch,), generator=gen, device=device)
        self.model.train()

    def run(self, n: int) -> float:
        """Images per second over ``n`` steps."""
        _sync(self.device)
        started = time.perf_counter()
        for _ in range(n):
            train_step(self.steps, self.optimizer, self.applier, self.x, self.y)
        _sync(self.device)
        return self.batch * n / (time.perf_counter() - started)


def step_section(plan: Plan, report: Report, deadline: float, write) -> None:
    for case in plan.cases:
        for masked in (False, True):
            if time.perf_counter() > deadline:
                report.skipped.append(f"steps {case.label} masked={masked}: time budget")
                continue
            row: dict[str, Any] = {"case": case.label, "masked": masked, "batch": case.batch}
            eager = Stepper(case, plan.device, False, masked)
            eager.run(2)
            row["eager_images_per_s"] = []
            compiled = None
            if report.compile:
                compiled = Stepper(case, plan.device, True, masked)
                started = time.perf_counter()
                compiled.run(2)
                row["compile_s"] = round(time.perf_counter() - started, 2)
                row["compiled"] = compiled.steps.compiled
                row["compiled_images_per_s"] = []
            for _ in range(plan.pairs):  # A B A B: drift hits both alike
                row["eager_images_per_s"].append(eager.run(plan.steps))
                if compiled is not None:
                    row["compiled_images_per_s"].append(compiled.run(plan.steps))
            for key in ("eager_images_per_s", "compiled_images_per_s"):
                if key in row:
                    values = row[key]
                    row[key] = round(statistics.median(values), 1)
                    row[key.replace("images_per_s", "min_max")] = [
                        round(min(values), 1),
                        round(max(values), 1),
                    ]
            if compiled is not None:
                row["ratio"] = round(row["compiled_images_per_s"] / row["eager_images_per_s"], 3)
            report.steps.append(row)
            del eager, compiled
            if plan.device == "cuda":
                torch.cuda.empty_cache()
            write()


def imp_section(plan: Plan, data_root: Path, report: Report, write) -> None:
    """Dense training, then two IMP levels at 20% with late resetting to one epoch's weights."""
    common = dict(
        seed=0,
        device=plan.device,
        workers=0,
        image_size=plan.imp_size,
        data_root=str(data_root),
        train_subset=plan.imp_subset,
    )
    train_loader = make_loader(
        "fashion_mnist", LoaderOptions(batch_size=plan.imp_batch, train=True, **common)
    )
    test_loader = make_loader("fashion_mnist", LoaderOptions(batch_size=512, train=False, **common))
    epochs = plan.imp_epochs
    config = TrainConfig(
        epochs,
        plan.imp_batch,
        OptimizerConfig("sgd", 0.1, momentum=0.9, weight_decay=5e-4),
        milestones=(epochs * 0.5, epochs * 0.75),
        warmup_epochs=min(1.0, epochs / 4),
        compile=report.compile,
    )
    k = len(train_loader)  # late reset: the weights after one epoch
    rewind: dict[str, torch.Tensor] = {}

    def capture(step: int, model: torch.nn.Module) -> None:
        if step == k and not rewind:
            rewind.update({n: t.detach().clone() for n, t in model.state_dict().items()})

    levels = []
    mask: Mask | None = None
    final: dict[str, torch.Tensor] = {}
    for level in range(3):
        torch.manual_seed(0)
        model = create_model(plan.imp_model, 10).to(plan.device)
        names = prunable_parameter_names(model, False)
        if level == 0:
            mask = Mask.ones_like(model, names)
        else:
            assert mask is not None
            mask = prune(final, mask, PruneConfig("global", 0.2))
            model.load_state_dict(rewind)
        started = time.perf_counter()
        state = train(
            model,
            train_loader,
            test_loader,
            config,
            mask=mask.to(plan.device),
            start_step=0 if level == 0 else k,
            on_step=capture if level == 0 else None,
        )
        final = {n: t.detach().clone() for n, t in state.model.state_dict().items()}
        levels.append(
            {
                "level": level,
                "weights_remaining": round(mask.density, 4),
                "test_accuracy": [round(m.test_accuracy, 4) for m in state.history],
                "final_test_accuracy": round(state.history[-1].test_accuracy, 4),
                "seconds": round(time.perf_counter() - started, 1),
                "compiled": state.compiled,
            }
        )
        report.imp = {
            "model": plan.imp_model,
            "image_size": plan.imp_size,
            "batch": plan.imp_batch,
            "epochs": epochs,
            "train_images": train_loader.num_examples,
            "levels": levels,
        }
        write()


def sharing_section(plan: Plan, mode_flag: list[str], report: Report, write) -> None:
    """``share_procs`` trials at once on one device vs the same trials one after another."""
    command = [sys.executable, "-m", "bench.gpu_check", "--trial", *mode_flag]
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def at_once(n: int) -> float:
        started = time.perf_counter()
        procs = [subprocess.Popen(command, cwd=REPO, env=env) for _ in range(n)]
        codes = [p.wait(timeout=600) for p in procs]
        if any(codes):
            raise RuntimeError(f"a trial process exited {codes}")
        return time.perf_counter() - started

    n = plan.share_procs
    one_at_a_time = sum(at_once(1) for _ in range(n))
    shared = at_once(n)
    report.sharing = {
        "trial": f"{plan.share_model.label}, batch {plan.share_model.batch}, "
        f"{plan.share_steps} eager steps, one process each",
        "processes": n,
        "one_at_a_time_s": round(one_at_a_time, 1),
        "shared_s": round(shared, 1),
        "trials_per_hour_one_at_a_time": round(n / one_at_a_time * 3600, 1),
        "trials_per_hour_shared": round(n / shared * 3600, 1),
        "ratio": round(one_at_a_time / shared, 3),
    }
    write()


def run_trial(plan: Plan) -> None:
    """One sharing trial (a subprocess): eager steps, as a short ``gpu: 0.25`` trial."""
    stepper = Stepper(plan.share_model, plan.device, False, False)
    stepper.run(plan.share_steps)


def grid_section(plan: Plan, report: Report) -> None:
    """Seconds of training steps per epoch from the measured plain images/s (one GPU)."""
    by_case = {r["case"]: r for r in report.steps if not r["masked"]}
    for mode in ("eager", "compiled"):
        table: dict[str, dict[str, float]] = {}
        for dataset, (images, size) in GRID.items():
            for model in ("vgg19", "resnet50"):
                row = by_case.get(plan.grid_cases[(model, size)])
                rate = row and row.get(f"{mode}_images_per_s")
                if rate:
                    table.setdefault(dataset, {})[model] = round(images / rate, 1)
        if table:
            report.epoch_gpu_seconds[mode] = table


def grid_yaml(report: Report, device_name: str) -> str:
    lines = []
    for mode, table in report.epoch_gpu_seconds.items():
        lines.append(
            f"# epoch_gpu_seconds measured by bench/gpu_check.py on {device_name}, "
            f"torch {report.torch}, {mode} steps, bf16, channels-last, 1 GPU (training steps only)"
        )
        for dataset, models in table.items():
            inner = ", ".join(f"{m}: {s:g}" for m, s in models.items())
            lines.append(f"{dataset}:\n  epoch_gpu_seconds: {{{inner}}}")
    return "\n".join(lines)


def table(report: Report, device_name: str) -> str:
    out = [f"GPU check on {device_name} (torch {report.torch}, Python {report.python})", ""]
    out.append("| step | masked | eager img/s | compiled img/s | ratio | compile s |")
    out.append("|---|---|---|---|---|---|")
    for r in report.steps:
        out.append(
            f"| {r['case']} b{r['batch']} | {r['masked']} | {r['eager_images_per_s']} | "
            f"{r.get('compiled_images_per_s', '-')} | {r.get('ratio', '-')} | "
            f"{r.get('compile_s', '-')} |"
        )
    if report.imp:
        out.append("")
        for lv in report.imp["levels"]:
            out.append(
                f"IMP {report.imp['model']} Fashion-MNIST level {lv['level']}: "
                f"{lv['weights_remaining']:.0%} remaining, test accuracy "
                f"{lv['final_test_accuracy']:.4f} ({lv['seconds']} s)"
            )
    if report.sharing:
        s = report.sharing
        out.append("")
        out.append(
            f"sharing: {s['processes']} processes at once {s['trials_per_hour_shared']} trials/h "
            f"vs one at a time {s['trials_per_hour_one_at_a_time']} trials/h ({s['ratio']}x)"
        )
    if report.epoch_gpu_seconds:
        out += ["", grid_yaml(report, device_name)]
    if report.skipped:
        out += ["", "skipped: " + "; ".join(report.skipped)]
    return "\n".join(out)


def prepare(source: Path = SYSTEM_FASHION) -> Path:
    """Copy the four Fashion-MNIST .gz files into bench/data/fashion-mnist (ignored by git)."""
    dest = DATA_ROOT / "fashion-mnist"
    dest.mkdir(parents=True, exist_ok=True)
    for name in FASHION_FILES:
        if not (source / name).is_file():
            raise SystemExit(f"gpu_check: {source / name} is missing; pass --from DIR")
        shutil.copyfile(source / name, dest / name)
    return dest


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu_check", description=__doc__)
    parser.add_argument("--cpu-tiny", action="store_true", help="tiny sizes on CPU (CI)")
    parser.add_argument("--no-compile", action="store_true", help="eager steps only")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "gpu_check")
    parser.add_argument("--budget-s", type=float, help="time budget (default: the mode's)")
    parser.add_argument("--prepare", action="store_true", help="copy Fashion-MNIST, then exit")
    parser.add_argument("--from", dest="source", type=Path, default=SYSTEM_FASHION)
    parser.add_argument(
        "--data-root", type=Path, default=DATA_ROOT, help="holds fashion-mnist/ (bench/data)"
    )
    parser.add_argument("--trial", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.prepare:
        print(f"gpu_check: Fashion-MNIST copied to {prepare(args.source)}")
        return 0
    plan = TINY if args.cpu_tiny else FULL
    mode_flag = ["--cpu-tiny"] if args.cpu_tiny else []
    if args.trial:
        run_trial(plan)
        return 0
    if plan.device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; use --cpu-tiny for the CPU mode", file=sys.stderr)
        return 2
    if not (args.data_root / "fashion-mnist" / FASHION_FILES[0]).is_file():
        print(
            f"gpu_check: {args.data_root}/fashion-mnist has no Fashion-MNIST; run with --prepare",
            file=sys.stderr,
        )
        return 2
    if plan.device == "cpu":
        torch.set_num_threads(1)
    device_name = torch.cuda.get_device_name(0) if plan.device == "cuda" else cpu_model()
    report = Report("cpu-tiny" if args.cpu_tiny else "full", device_name, not args.no_compile)
    started = time.perf_counter()
    budget = args.budget_s or plan.budget_s
    args.out.mkdir(parents=True, exist_ok=True)

    def write() -> None:
        report.seconds = round(time.perf_counter() - started, 1)
        report.forbidden_modules = sorted({m.split(".")[0] for m in sys.modules} & set(FORBIDDEN))
        (args.out / "gpu_check.json").write_text(json.dumps(asdict(report), indent=1))
        (args.out / "gpu_check.md").write_text(table(report, device_name) + "\n")

    # Priority: the step table (it feeds the grid's figures), IMP, then sharing; a section is
    # started only when the time it typically takes is left.
    step_section(plan, report, started + budget * 0.55, write)
    grid_section(plan, report)
    write()
    for name, section, share in (
        ("imp", lambda: imp_section(plan, args.data_root, report, write), 0.25),
        ("sharing", lambda: sharing_section(plan, mode_flag, report, write), 0.15),
    ):
        if time.perf_counter() - started > budget * (1 - share):
            report.skipped.append(f"{name}: time budget")
            continue
        section()
    write()
    print(table(report, device_name))
    print(f"\ngpu_check: wrote {args.out / 'gpu_check.json'} and gpu_check.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
