"""``python -m bench [--only NAME] [--repeats N] [--quick]``: run the benchmarks, write the table.

Every ``bench/bench_<name>.py`` exposing ``run(repeats=5, quick=False) -> list[dict]`` is a
benchmark. A module that fails (import or run) becomes a row saying so; the others still run.
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

PACKAGE_DIR = Path(__file__).resolve().parent


def discover() -> list[str]:
    """Benchmark names (``bench_<name>.py`` -> ``name``), sorted."""
    return sorted(
        m.name[len("bench_") :]
        for m in pkgutil.iter_modules([str(PACKAGE_DIR)])
        if m.name.startswith("bench_")
    )


def select(names: list[str], only: list[str] | None) -> list[str]:
    wanted = [
        w.strip().removeprefix("bench_").removesuffix(".py")
        for o in only or []
        for w in o.split(",")
    ]
    wanted = [w for w in wanted if w]
    if unknown := [w for w in wanted if w not in names]:
        raise SystemExit(
            f"bench: no benchmark named {', '.join(unknown)}; known: {', '.join(names)}"
        )
    return [n for n in names if n in wanted] if wanted else names


def run_module(name: str, repeats: int | None, quick: bool) -> tuple[list[dict], dict]:
    """Rows of one benchmark, or one error row if it raised; and a line about how it went."""
    started = time.perf_counter()
    info: dict = {"name": name}
    try:
        module = importlib.import_module(f"bench.bench_{name}")
        kwargs = {"quick": quick} if repeats is None else {"quick": quick, "repeats": repeats}
        rows = [common.check_row(r) for r in module.run(**kwargs)]
    except Exception as exc:
        traceback.print_exc()
        rows = [common.error_row(name, exc)]
        info["error"] = f"{type(exc).__name__}: {exc}"
    info["seconds"] = round(time.perf_counter() - started, 1)
    return rows, info


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
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
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = discover()
    if args.list:
        print("\n".join(names))
        return 0
    chosen = select(names, args.only)
    machine = common.machine_info()
    where = common.machine_line(machine)
    started, t0 = time.strftime("%Y-%m-%d %H:%M:%S"), time.perf_counter()
    rows: list[dict] = []
    modules: list[dict] = []
    for name in chosen:
        print(f"bench: {name} ...", flush=True)
        module_rows, info = run_module(name, args.repeats, args.quick)
        for r in module_rows:
            r["machine"] = where
        rows += module_rows
        modules.append(info)
        print(f"bench: {name} done in {info['seconds']:.0f} s", flush=True)
    command = " ".join(["python -m bench", *map(shlex.quote, argv or sys.argv[1:])])
    report = {
        "command": command, "started": started, "seconds": time.perf_counter() - t0,
        "quick": args.quick, "repeats": args.repeats, "machine": machine, "modules": modules,
        "rows": rows, "cwd": os.getcwd(),
    }  # fmt: skip
    md_path, json_path = common.write_results(report, args.out)
    print()
    print(common.format_table(rows, machine))
    print(f"\nbench: wrote {md_path} and {json_path}")
    failed = [m["name"] for m in modules if "error" in m]
    if failed:
        print(f"bench: {len(failed)} benchmark(s) raised: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
