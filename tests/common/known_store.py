"""An MLflow store whose values are known, for the report, export and UI tests.

It follows ``ltsweep.tracking.schema``: one model, three configurations (digits/sgd,
digits/adam, shapes/sgd) that are both sources and targets, three levels, two seeds, the
``same`` / ``random`` / ``dense`` controls, one FAILED and one RUNNING run, one point missing
entirely (shapes/sgd -> digits/sgd at level 2) and one with a single seed.
"""

from __future__ import annotations

import random
from pathlib import Path

from ltsweep.tracking import schema

NAME = "known"
MODEL = "vgg_tiny"
CONFIGS = [("digits", "sgd"), ("digits", "adam"), ("shapes", "sgd")]
LEVELS = {1: "0.5", 2: "0.2", 3: "0.05"}
SEEDS = (0, 1)
MISSING = (("shapes", "sgd"), ("digits", "sgd"), 2)  # no finished run at all (one FAILED)
ONE_SEED = (("digits", "adam"), ("shapes", "sgd"), 3, 1)  # seed 1 absent


def label(cfg: tuple[str, str]) -> str:
    return f"{cfg[0]}/{cfg[1]}"


def _planned() -> list[dict]:
    """Every finished result run of the known store: tags and accuracy."""
    rng = random.Random(1906)
    runs = []

    def add(kind: str, src: tuple[str, str] | None, tgt: tuple[str, str], level: int, seed: int):
        wr = LEVELS.get(level, "1.0")
        runs.append(
            {
                "kind": kind,
                "src": src,
                "tgt": tgt,
                "level": level,
                "wr": wr,
                "seed": seed,
                "acc": rng.uniform(0.5, 0.99),
            }
        )

    for tgt in CONFIGS:
        for seed in SEEDS:
            add("dense", None, tgt, 0, seed)
            for level in LEVELS:
                add("same", tgt, tgt, level, seed)
                add("random", tgt, tgt, level, seed)
                for src in CONFIGS:
                    if (
                        src == tgt
                        or (src, tgt, level) == MISSING
                        or (src, tgt, level, seed) == ONE_SEED
                    ):
                        continue
                    add("transferred", src, tgt, level, seed)
    return runs


def _tags(run: dict) -> dict[str, str]:
    src = run["src"] or (schema.NO_SOURCE, schema.NO_SOURCE)
    same = run["kind"] == "same"
    key = f"{run['kind']}-{label(src)}-{label(run['tgt'])}-{run['level']}-{run['seed']}"
    return {
        schema.TAG_ROLE: "result" if same else "trial,result",
        schema.TAG_STAGE: "generate" if same else "transfer",
        schema.TAG_KIND: run["kind"],
        schema.TAG_MODEL: MODEL,
        schema.TAG_SOURCE_DATASET: src[0],
        schema.TAG_SOURCE_OPTIMIZER: src[1],
        schema.TAG_TARGET_DATASET: run["tgt"][0],
        schema.TAG_TARGET_OPTIMIZER: run["tgt"][1],
        schema.TAG_LEVEL: str(run["level"]),
        schema.TAG_WEIGHTS_REMAINING: run["wr"],
        schema.TAG_SEED: str(run["seed"]),
        schema.TAG_TRIAL_KEY: key,
    }


RESOLUTIONS = [16, 24, 32]  # the first planned run trained on a resolution schedule


def _log(client, run_id: str, acc: float, resolution: bool = False) -> None:
    from mlflow.entities import Metric

    curve = [acc - 0.05, acc + 0.01, acc]
    metrics = [Metric("test_accuracy", v, 0, step) for step, v in enumerate(curve)]
    metrics += [Metric("test_loss", 1.0 - v, 0, step) for step, v in enumerate(curve)]
    metrics += [Metric("train_loss", 0.9 - v / 2, 0, s) for s, v in enumerate(curve)]
    metrics += [Metric("train_accuracy", min(1.0, v + 0.02), 0, s) for s, v in enumerate(curve)]
    metrics += [Metric("lr", 0.1 / 10**s, 0, s) for s in range(3)]
    if resolution:
        metrics += [Metric(schema.TRAIN_RESOLUTION, r, 0, s) for s, r in enumerate(RESOLUTIONS)]
    metrics += [
        Metric(schema.FINAL_ACCURACY, acc, 0, 2),
        Metric(schema.BEST_ACCURACY, max(curve), 0, 2),
    ]
    client.log_batch(run_id, metrics=metrics)


def build(root: Path) -> dict:
    """A sweep directory ``<root>/runs/known`` with its store, and the planned runs."""
    import mlflow

    out = root / "runs" / NAME
    out.mkdir(parents=True)
    uri = f"sqlite:///{out / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.create_experiment(
        schema.experiment_name(NAME), artifact_location=str(out / "artifacts")
    )
    parent = client.create_run(
        exp, tags={schema.TAG_ROLE: "sweep", schema.TAG_SWEEP: NAME}
    ).info.run_id
    child = {schema.TAG_PARENT: parent}
    gen = client.create_run(
        exp, tags={**child, schema.TAG_ROLE: "trial", schema.TAG_STAGE: "generate"}
    )
    client.set_terminated(gen.info.run_id)  # a trial that is not a result: never in the summary
    planned = _planned()
    for run in planned:
        run_id = client.create_run(exp, tags={**child, **_tags(run)}).info.run_id
        _log(client, run_id, run["acc"], resolution=run is planned[0])
        client.set_terminated(run_id)
        run["run_id"] = run_id
    src, tgt, level = MISSING  # the missing point's trial failed: it must not count
    failed = {
        "kind": "transferred",
        "src": src,
        "tgt": tgt,
        "level": level,
        "wr": LEVELS[level],
        "seed": 0,
    }
    failed_id = client.create_run(exp, tags={**child, **_tags(failed)}).info.run_id
    _log(client, failed_id, 0.0)
    client.set_terminated(failed_id, status="FAILED")
    running = dict(failed, seed=1)  # and another is still running
    running_id = client.create_run(exp, tags={**child, **_tags(running)}).info.run_id
    return {
        "root": root,
        "uri": uri,
        "planned": planned,
        "parent": parent,
        "excluded": {failed_id, running_id},
    }


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def accuracies(known: dict, kind: str, src, tgt, level: int) -> list[float]:
    return [
        r["acc"]
        for r in known["planned"]
        if (r["kind"], r["src"], r["tgt"], r["level"]) == (kind, src, tgt, level)
    ]
