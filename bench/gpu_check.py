"""The GPU check: what ltsweep's engine does on one CUDA GPU, in one command of under ten minutes
(``bash bench/gpu_check.sh`` after ``--prepare``; CI runs ``--cpu-tiny --no-compile``). Sections,
and how their figures become the sweeps' per-epoch GPU-seconds: bench/README.md, "GPU check".
Imports torch, numpy and ``ltsweep.core`` only: the GPU machine lacks ``FORBIDDEN``, and
tests/test_gpu_check.py runs this with them absent.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import torch

from bench.bench_step import StepCase, Stepper, alternate
from bench.common import REPO_ROOT, cpu_model
from ltsweep.core.data import get_spec
from ltsweep.core.data.fashion import PLACES, PREFIX, SYSTEM_DIR
from ltsweep.core.data.locate import locate
from ltsweep.core.resolution import Resolution

DATA_ROOT = REPO_ROOT / "bench" / "data"  # holds fashion-mnist/*.gz (git-ignored; copied along)
SYSTEM_FASHION = Path(SYSTEM_DIR)
FASHION_FILES = tuple(
    f"{p}-{k}-ubyte.gz" for p in PREFIX.values() for k in ("images-idx3", "labels-idx1")
)
FORBIDDEN = ("ray", "mlflow", "ffcv", "pyarrow", "yaml", "safetensors", "scipy", "sklearn")
FORBIDDEN += ("pandas", "matplotlib")  # absent on the GPU machine
# grid_full's datasets (sizes from the registry; tests/test_gpu_check.py keeps it equal to
# search_spaces/grid_full.yaml), and grid_lean's progressive resolution for the 224-px ones.
GRID_DATASETS = ("fashion_mnist", "svhn", "cifar10", "cifar100", "imagenet", "places365")
LEAN, LEAN_EPOCHS = Resolution(160, 192, (67, 78), 224), 90
# Throughput relative to an A100 on these models (bf16): figures are scaled to A100-seconds, the
# unit of every sweep's epoch_gpu_seconds (cost.gpu: A100).
CARDS = {"A100": 1.0, "H100": 1.7, "H200": 1.7}
TARGET_RN50_224 = 3000.0  # images/s per A100 through ltsweep's step (NVIDIA publishes 2,470, AMP)
TARGET_LEAN_EPOCH = 421.0  # A100-seconds per grid_lean ResNet-50 ImageNet epoch (FFCV's figure)


class Case(NamedTuple):
    grid_model: str  # the grid's model and size that this step stands for
    grid_size: int
    step: StepCase
    masked: bool = False


@dataclass(frozen=True)
class Plan:
    """The sizes of one mode. Order of work: ``first`` cases (both targets come from them), IMP,
    ``then`` cases, sharing."""

    device: str
    first: tuple[Case, ...]
    then: tuple[Case, ...]
    steps: int  # per timed block
    pairs: int  # eager/compiled blocks alternated
    estimate_s: dict[str, float]  # what a section, its compile included, typically takes
    imp: dict[str, Any]  # model, size, batch, epochs, subset
    share: tuple[StepCase, int, int]  # (case, eager steps, processes)
    budget_s: float


# The CPU mode's stand-ins for the grid's models and sizes.
TINY_MODELS, TINY_SIZES = (
    {"vgg19": "vgg_tiny", "resnet50": "resnet_tiny"},
    {224: 24, 192: 20, 160: 16, 32: 8},
)


def make_plan(tiny: bool) -> Plan:
    """The GPU plan, or (``tiny``) the same cases on CPU with tiny models at tiny sizes."""

    def case(model: str, size: int, masked: bool = False) -> Case:
        if tiny:
            return Case(model, size, StepCase(TINY_MODELS[model], TINY_SIZES[size], 8), masked)
        stem = (("stem", "imagenet" if size > 32 else "cifar"),) if model == "resnet50" else ()
        batch, classes = (192, 1000) if size > 32 else (512, 10)
        return Case(model, size, StepCase(model, size, batch, classes, stem), masked)

    masked_rn50 = () if tiny else (case("resnet50", 224, True),)
    then = (*(case("vgg19", s) for s in (224, 192, 160)), case("vgg19", 32), case("resnet50", 32))
    imp = ("vgg_tiny", 8, 64, 2, 640) if tiny else ("vgg19", 32, 512, 6, None)
    return Plan(
        device="cpu" if tiny else "cuda",
        first=tuple(case("resnet50", s) for s in (224, 192, 160)),
        then=(*then, *masked_rn50, case("vgg19", 32, True)),
        steps=3 if tiny else 30,
        pairs=1 if tiny else 3,
        estimate_s={} if tiny else {"resnet50": 80.0, "vgg19": 50.0, "imp": 150.0, "sharing": 75.0},
        imp=dict(zip(("model", "size", "batch", "epochs", "subset"), imp)),
        share=(StepCase("vgg_tiny", 8, 32), 3, 2) if tiny else (case("vgg19", 32).step, 150, 4),
        budget_s=240.0 if tiny else 540.0,
    )


@dataclass
class Report:
    mode: str
    device: str
    compile: bool
    card_factor: float | None = None  # this card's throughput in A100s (None: unknown card)
    torch: str = torch.__version__
    python: str = platform.python_version()
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    seconds: float = 0.0
    steps: list[dict[str, Any]] = field(default_factory=list)
    imp: dict[str, Any] = field(default_factory=dict)
    sharing: dict[str, Any] = field(default_factory=dict)
    targets: list[str] = field(default_factory=list)
    yaml: str = ""
    skipped: list[str] = field(default_factory=list)
    forbidden_modules: list[str] = field(default_factory=list)


def card_factor(name: str) -> float | None:
    return next((f for card, f in CARDS.items() if card in name.upper()), None)


def step_row(where: Case, plan: Plan, compile: bool) -> dict[str, Any]:
    """Images/s of the eager and (with ``compile``) the compiled step, blocks alternated."""
    grid_model, grid_size, case, masked = where
    modes = ("eager", "compiled") if compile else ("eager",)
    steppers = [Stepper(case, plan.device, mode == "compiled", masked) for mode in modes]
    first, rates = alternate(steppers, plan.pairs, lambda s: s.images_per_s(plan.steps))
    row: dict[str, Any] = {"grid_model": grid_model, "grid_size": grid_size, "case": case.label}
    row.update(model=case.model, size=case.size, masked=masked, batch=case.batch)
    for mode, seconds, values in zip(modes, first, rates):
        row[f"{mode}_first_s"] = round(seconds, 2)
        row[f"{mode}_images_per_s"] = round(statistics.median(values), 1)
        row[f"{mode}_min_max"] = [round(min(values), 1), round(max(values), 1)]
    if compile:
        row["compiled"] = steppers[1].compiled
        row["ratio"] = round(row["compiled_images_per_s"] / row["eager_images_per_s"], 3)
    return row


def imp_section(plan: Plan, data_root: Path, compile: bool) -> dict[str, Any]:
    """VGG19 IMP with late resetting on real Fashion-MNIST, dense and two levels at 20%, through
    the engine's pieces: a GenerationJob, ``IMPRun``'s loaders and late-reset step, ``prune``,
    ``train``. Weights stay in memory (the engine's files need safetensors, absent here)."""
    from ltsweep.core.imp import IMPRun
    from ltsweep.core.jobs import DataConfig, GenerationJob, IMPConfig, ModelConfig, TrainConfig
    from ltsweep.core.masks import Mask
    from ltsweep.core.models import create_model, prunable_parameter_names
    from ltsweep.core.optim import OptimizerConfig
    from ltsweep.core.pruning import prune
    from ltsweep.core.train import train

    p, epochs = plan.imp, plan.imp["epochs"]
    sgd = OptimizerConfig("sgd", 0.1, momentum=0.9, weight_decay=5e-4)
    schedule = dict(milestones=(epochs * 0.5, epochs * 0.75), warmup_epochs=min(1.0, epochs / 4))
    job = GenerationJob(
        ModelConfig(p["model"]),
        DataConfig(
            "fashion_mnist",
            p["size"],
            workers=0,
            data_root=str(data_root),
            train_subset=p["subset"],
        ),
        TrainConfig(epochs, p["batch"], sgd, **schedule, compile=compile),
        IMPConfig(levels=2, rewind_epochs=1),
        seed=0,
    )
    with tempfile.TemporaryDirectory() as workdir:  # IMPRun writes nothing until a level runs
        run = IMPRun(job, Path(workdir), plan.device)
    rewind: dict[str, torch.Tensor] = {}

    def capture(step: int, model: torch.nn.Module) -> None:
        if step == run.k and not rewind:
            rewind.update({n: t.detach().clone() for n, t in model.state_dict().items()})

    levels, mask, final = [], None, {}
    for level in range(job.imp.levels + 1):
        torch.manual_seed(job.seed)
        model = create_model(p["model"], run.spec.num_classes).to(plan.device)
        names = prunable_parameter_names(model, job.imp.prune.prune_output)
        mask = Mask.ones_like(model, names) if mask is None else prune(final, mask, job.imp.prune)
        if level:
            model.load_state_dict(rewind)
        started = time.perf_counter()
        start, hook = (run.k, None) if level else (0, capture)  # late reset: from step k on
        loaders = run.train_loader, run.test_loader
        state = train(model, *loaders, job.train, mask.to(plan.device), start, on_step=hook)
        final = {n: t.detach().clone() for n, t in state.model.state_dict().items()}
        accuracy = [round(m.test_accuracy, 4) for m in state.history]
        levels.append(
            {
                "level": level,
                "weights_remaining": round(mask.density, 4),
                "test_accuracy": accuracy,
                "final_test_accuracy": accuracy[-1],
                "seconds": round(time.perf_counter() - started, 1),
                "compiled": state.compiled,
            }
        )
    images = run.train_loader.num_examples
    return {**p, "train_images": images, "rewind_step": run.k, "levels": levels}


def sharing_section(plan: Plan, mode_flag: list[str]) -> dict[str, Any]:
    """``processes`` short eager trials at once on one device vs the same one after another."""
    case, steps, n = plan.share
    command = [sys.executable, "-m", "bench.gpu_check", "--trial", *mode_flag]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}

    def at_once(k: int) -> float:
        started = time.perf_counter()
        procs = [subprocess.Popen(command, cwd=REPO_ROOT, env=env) for _ in range(k)]
        if any(p.wait(timeout=600) for p in procs):
            raise RuntimeError("a sharing trial process failed")
        return time.perf_counter() - started

    one_at_a_time = sum(at_once(1) for _ in range(n))
    shared = at_once(n)
    return {
        "trial": f"{case.label}, {steps} eager steps, one process each",
        "processes": n,
        "one_at_a_time_s": round(one_at_a_time, 1),
        "shared_s": round(shared, 1),
        "trials_per_hour_one_at_a_time": round(n / one_at_a_time * 3600, 1),
        "trials_per_hour_shared": round(n / shared * 3600, 1),
        "ratio": round(one_at_a_time / shared, 3),
    }


# -- from images/s to GPU-seconds per epoch ----------------------------------------------------
def epoch_seconds(train_images: int, test_images: int, rate: float, eval_rate: float) -> float:
    """One epoch: the training steps at ``rate`` images/s, plus the test pass at ``eval_rate``
    (the training step's rate at the evaluation size) counted as a third of a step (a forward)."""
    return train_images / rate + test_images / (3 * eval_rate)


def schedule_epoch_seconds(
    train_images: int, test_images: int, rates: dict[int, float], schedule: Resolution, epochs: int
) -> float:
    """The per-epoch figure of a progressive-resolution schedule: the mean over its epochs, each
    at the rate measured at its size (or the nearest measured size scaled by pixels per image)."""

    def rate(size: int) -> float:
        near = min(rates, key=lambda s: abs(s - size))
        return rates[near] * (near / size) ** 2

    eval_rate = rate(schedule.eval or schedule.end)
    sizes = schedule.sizes(epochs)
    return sum(epoch_seconds(train_images, test_images, rate(s), eval_rate) for s in sizes) / epochs


def lean_mode(report: Report) -> str:
    """grid_lean compiles its steps: its figures come from compiled rates when measured."""
    return "compiled" if any(r.get("compiled_images_per_s") for r in report.steps) else "eager"


def grid_tables(report: Report) -> dict[str, dict[str, dict[str, float]]]:
    """{"grid_full" (eager steps, fixed size) | "grid_lean" (``lean_mode``; ``LEAN`` on 224-px
    data): {dataset: {model: A100-seconds per epoch}}}, from the plain (unmasked) steps."""
    rates: dict[tuple[str, str], dict[int, float]] = {}
    for r in report.steps:
        for mode in ("eager", "compiled"):
            if not r["masked"] and r.get(f"{mode}_images_per_s"):
                by_size = rates.setdefault((mode, r["grid_model"]), {})
                by_size[r["grid_size"]] = r[f"{mode}_images_per_s"]
    tables: dict[str, dict[str, dict[str, float]]] = {}
    for sweep, mode in (("grid_full", "eager"), ("grid_lean", lean_mode(report))):
        for dataset in GRID_DATASETS:
            spec = get_spec(dataset)
            images, tests, size = spec.train_size, spec.test_size, spec.image_size
            for model in ("vgg19", "resnet50"):
                measured = rates.get((mode, model), {})
                if size == 224 and sweep == "grid_lean":  # the schedule's sizes, or nothing
                    if not {LEAN.start, LEAN.end} <= set(measured):
                        continue
                    seconds = schedule_epoch_seconds(images, tests, measured, LEAN, LEAN_EPOCHS)
                elif size in measured:
                    seconds = epoch_seconds(images, tests, measured[size], measured[size])
                else:
                    continue
                table = tables.setdefault(sweep, {}).setdefault(dataset, {})
                table[model] = round(seconds * (report.card_factor or 1.0), 1)
    return tables


def grid_yaml(report: Report, tables: dict[str, dict[str, dict[str, float]]]) -> str:
    """The tables as YAML to paste into the sweep files, each headed by how it was measured."""
    unit = (
        f"A100-seconds (x {report.card_factor}, this card's throughput in A100s)"
        if report.card_factor
        else "seconds on this device, unscaled (not a card in CARDS)"
    )
    amp = ", bf16, channels-last" if report.mode == "full" else ""
    lines = []
    for sweep, table in tables.items():
        mode = "eager" if sweep == "grid_full" else lean_mode(report)
        head = f"# {sweep}: epoch_gpu_seconds by bench/gpu_check.py on {report.device}, torch "
        head += f"{report.torch}, {mode} steps{amp}; {unit}; training plus a test pass"
        if sweep == "grid_lean":
            lean = (
                f"start: {LEAN.start}, end: {LEAN.end}, ramp: {list(LEAN.ramp)}, eval: {LEAN.eval}"
            )
            head += f"; 224-px data with resolution: {{{lean}}} over {LEAN_EPOCHS} epochs"
        lines.append(head)
        for dataset, models in table.items():
            inner = ", ".join(f"{m}: {s:g}" for m, s in models.items())
            lines.append(f"{dataset}:\n  epoch_gpu_seconds: {{{inner}}}")
    return "\n".join(lines)


def target_lines(report: Report, tables: dict[str, Any]) -> list[str]:
    """The per-A100 targets, compared on this card's figures scaled to an A100."""
    if report.card_factor is None:
        return [f"targets: {report.device} is not in CARDS {sorted(CARDS)}; not compared"]
    out = []
    key = ("resnet50", 224, False)
    rn50 = [r for r in report.steps if (r["grid_model"], r["grid_size"], r["masked"]) == key]
    if rn50 and (rate := rn50[0].get("compiled_images_per_s")):
        per_a100 = rate / report.card_factor
        verdict = "met" if per_a100 >= TARGET_RN50_224 else "MISSED"
        out.append(
            f"ResNet-50 224 px compiled: {per_a100:,.0f} img/s per A100 (target >= 3,000): {verdict}"
        )
    if (lean := tables.get("grid_lean", {}).get("imagenet", {}).get("resnet50")) is not None:
        verdict = "met" if lean < TARGET_LEAN_EPOCH else "MISSED"
        out.append(f"grid_lean ResNet-50 ImageNet epoch: {lean:g} A100-s (target < 421): {verdict}")
    return out


def table(report: Report) -> str:
    out = [f"GPU check on {report.device} (torch {report.torch}, Python {report.python})", ""]
    head = "| step | masked | eager img/s | compiled img/s | ratio | first call s |"
    out += [head, "|" + "---|" * 6]
    for r in report.steps:
        cells = [r["case"], r["masked"], r["eager_images_per_s"], r.get("compiled_images_per_s")]
        cells += [r.get("ratio"), f"{r['eager_first_s']} / {r.get('compiled_first_s', '-')}"]
        out.append("| " + " | ".join("-" if c is None else str(c) for c in cells) + " |")
    for lv in report.imp.get("levels", []):
        out.append(
            f"IMP {report.imp['model']} Fashion-MNIST level {lv['level']}: "
            f"{lv['weights_remaining']:.0%} remaining, test accuracy "
            f"{lv['final_test_accuracy']:.4f} ({lv['seconds']} s)"
        )
    if s := report.sharing:
        out.append(
            f"sharing: {s['processes']} processes at once {s['trials_per_hour_shared']} trials/h "
            f"vs one at a time {s['trials_per_hour_one_at_a_time']} trials/h ({s['ratio']}x)"
        )
    out += ["", *report.targets, "", report.yaml]
    if report.skipped:
        out += ["", "skipped: " + "; ".join(report.skipped)]
    return "\n".join(out)


def prepare(source: Path) -> Path:
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
    add = parser.add_argument
    add("--cpu-tiny", action="store_true", help="tiny sizes on CPU (CI)")
    add("--no-compile", action="store_true", help="eager steps only")
    add("--out", type=Path, default=REPO_ROOT / "bench" / "results" / "gpu_check")
    add("--budget-s", type=float, help="time budget (default: the mode's)")
    add("--prepare", action="store_true", help="copy Fashion-MNIST, then exit")
    add("--from", dest="source", type=Path, default=SYSTEM_FASHION)
    add("--data-root", type=Path, default=DATA_ROOT, help="holds fashion-mnist/")
    add("--trial", action="store_true", help=argparse.SUPPRESS)  # one sharing trial
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.prepare:
        print(f"gpu_check: Fashion-MNIST copied to {prepare(args.source)}")
        return 0
    plan = make_plan(args.cpu_tiny)
    if args.trial:
        Stepper(plan.share[0], plan.device).seconds(plan.share[1])
        return 0
    if plan.device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; use --cpu-tiny for the CPU mode", file=sys.stderr)
        return 2
    if locate(PLACES, args.data_root) is None:
        print(f"gpu_check: no Fashion-MNIST under {args.data_root}; run --prepare", file=sys.stderr)
        return 2
    if plan.device == "cpu":
        torch.set_num_threads(1)
    device = cpu_model() if plan.device == "cpu" else torch.cuda.get_device_name(0)
    mode = "cpu-tiny" if args.cpu_tiny else "full"
    report = Report(mode, device, not args.no_compile, card_factor(device))
    started = time.perf_counter()
    deadline = started + (args.budget_s or plan.budget_s)
    estimates = dict(plan.estimate_s)
    args.out.mkdir(parents=True, exist_ok=True)

    def write() -> None:  # after every section: an interrupted run keeps what it measured
        tables = grid_tables(report)
        report.yaml, report.targets = grid_yaml(report, tables), target_lines(report, tables)
        report.seconds = round(time.perf_counter() - started, 1)
        report.forbidden_modules = sorted({m.split(".")[0] for m in sys.modules} & set(FORBIDDEN))
        (args.out / "gpu_check.json").write_text(json.dumps(asdict(report), indent=1))
        (args.out / "gpu_check.md").write_text(table(report) + "\n")

    def section(name: str, kind: str, measure: Callable[[], Any], keep: Callable) -> None:
        """``keep(measure())``, unless the time left cannot hold the section (estimated by
        ``kind``, grown to the slowest seen) or it fails (out of memory, a compiler error):
        then it is named in ``skipped``, and the sections after it still run."""
        if time.perf_counter() + estimates.get(kind, 0.0) > deadline:
            why = f"the time budget left cannot hold it (~{estimates.get(kind, 0.0):.0f} s)"
            report.skipped.append(f"{name}: {why}")
            return
        began = time.perf_counter()
        try:
            keep(measure())
        except Exception as exc:
            report.skipped.append(f"{name}: failed: {type(exc).__name__}: {str(exc)[:200]}")
        estimates[kind] = max(estimates.get(kind, 0.0), time.perf_counter() - began)
        if plan.device == "cuda":
            torch.cuda.empty_cache()
        write()

    def steps(cases: tuple[Case, ...]) -> None:
        for case in cases:
            name = f"step {case.step.label}{' masked' if case.masked else ''}"
            measure = functools.partial(step_row, case, plan, report.compile)
            section(name, case.step.model, measure, report.steps.append)

    steps(plan.first)
    measure = functools.partial(imp_section, plan, args.data_root, report.compile)
    section("imp", "imp", measure, report.imp.update)
    steps(plan.then)
    measure = functools.partial(sharing_section, plan, ["--cpu-tiny"] if args.cpu_tiny else [])
    section("sharing", "sharing", measure, report.sharing.update)
    write()
    print(table(report))
    print(f"\ngpu_check: wrote {args.out / 'gpu_check.json'} and gpu_check.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
