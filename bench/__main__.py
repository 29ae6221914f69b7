"""``python -m bench [--only NAME] [--repeats N] [--quick]``: run the benchmarks, write the table.

Every ``bench/bench_<name>.py`` exposing ``run(repeats=5, quick=False) -> list[dict]`` is a
benchmark; a module in ``SHARED`` holds several, each as ``run_<name>``. A module that fails
(import or run) becomes a row saying so; the others still run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import shlex
import sys
import time
import traceback
from pathlib import Path

from bench import common

SHARED = {"step": ("compile", "train_step")}  # one step benchmark, two row sets
MODULE_OF = {name: module for module, names in SHARED.items() for name in names}


def discover() -> list[str]:
    """Benchmark names (``bench_<name>.py`` -> ``name``, or its ``SHARED`` names), sorted."""
    modules = pkgutil.iter_modules([str(Path(__file__).resolve().parent)])
    stems = [m.name.removeprefix("bench_") for m in modules if m.name.startswith("bench_")]
    return sorted(name for stem in stems for name in SHARED.get(stem, (stem,)))


def run_module(name: str, repeats: int | None, quick: bool) -> tuple[list[dict], dict]:
    """Rows of one benchmark, or one error row if it raised; and a line about how it went."""
    started, info = time.perf_counter(), {"name": name}
    try:
        module = importlib.import_module(f"bench.bench_{MODULE_OF.get(name, name)}")
        run = getattr(module, f"run_{name}" if name in MODULE_OF else "run")
        kwargs = {"quick": quick} if repeats is None else {"quick": quick, "repeats": repeats}
        rows = [common.check_row(r) for r in run(**kwargs)]
    except Exception as exc:
        traceback.print_exc()
        rows, info["error"] = [common.error_row(name, exc)], f"{type(exc).__name__}: {exc}"
    info["seconds"] = round(time.perf_counter() - started, 1)
    return rows, info


def parse_args(argv: list[str] | None, names: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--only", action="append", metavar="NAME", help="only this benchmark (repeatable, or a,b)")
    add("--repeats", type=int, metavar="N", help="interleaved pairs per row (default: its own)")
    add("--quick", action="store_true", help="smaller workloads, fewer repeats: a smoke run")
    add("--out", type=Path, default=common.RESULTS_DIR, help="where latest.md/.json go")
    add("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    only = [
        w.strip().removeprefix("bench_").removesuffix(".py")
        for o in args.only or []
        for w in o.split(",")
    ]
    if unknown := [w for w in only if w and w not in names]:
        raise SystemExit(
            f"bench: no benchmark named {', '.join(unknown)}; known: {', '.join(names)}"
        )
    args.chosen = [n for n in names if n in only] if any(only) else names
    return args


def main(argv: list[str] | None = None) -> int:
    names = discover()
    args = parse_args(argv, names)
    if args.list:
        print("\n".join(names))
        return 0
    machine = common.machine_info()
    started, t0 = time.strftime("%Y-%m-%d %H:%M:%S"), time.perf_counter()
    rows: list[dict] = []
    modules: list[dict] = []
    for name in args.chosen:
        print(f"bench: {name} ...", flush=True)
        module_rows, info = run_module(name, args.repeats, args.quick)
        rows += [{**r, "machine": common.machine_line(machine)} for r in module_rows]
        modules.append(info)
        print(f"bench: {name} done in {info['seconds']:.0f} s", flush=True)
    report = {
        "command": " ".join(["python -m bench", *map(shlex.quote, argv or sys.argv[1:])]),
        "started": started,
        "seconds": time.perf_counter() - t0,
        "quick": args.quick,
        "repeats": args.repeats,
        "machine": machine,
        "modules": modules,
        "rows": rows,
        "cwd": os.getcwd(),
    }
    md_path, json_path = common.write_results(report, args.out)
    print(f"\n{common.format_table(rows, machine)}\n\nbench: wrote {md_path} and {json_path}")
    if failed := [m["name"] for m in modules if "error" in m]:
        print(f"bench: {len(failed)} benchmark(s) raised: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
