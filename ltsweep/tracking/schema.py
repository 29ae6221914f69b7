"""The MLflow layout ltsweep writes and ``ltsweep report`` reads: one place for the names.

* Experiment ``ltsweep/<sweep name>``; one **parent run** per sweep (tag ``ltsweep.role=sweep``).
* One child run per **generation trial** (``ltsweep.role=trial``, ``ltsweep.stage=generate``),
  with tickets logged as artifacts under ``tickets/level_LL/`` and their sha256 as tags.
* Under it, one run per **IMP level** (``ltsweep.role=result``, ``ltsweep.stage=generate``):
  level 0, the dense network, is kind ``dense`` (source axes ``none``); every later level is kind
  ``same``, the target's own ticket at that level.
* One child run per **transfer trial** (``ltsweep.role=trial`` and ``result``,
  ``ltsweep.stage=transfer``, kind ``transferred`` or ``random``; a ``random`` control's
  source axes are ``none``: its mask comes from the target's own ticket).

Every ``result`` run carries all axis tags below, per-epoch metrics (step = epoch) and the final
metrics, so the MLflow UI and the report filter and group by any axis the same way. The kinds
are ``ltsweep.core.jobs.RESULT_KINDS``.
"""

from __future__ import annotations

PREFIX = "ltsweep."
TAG_ROLE = (
    PREFIX + "role"
)  # "sweep", "trial", "result" (a trial that is also a result: "trial,result")
TAG_SWEEP = PREFIX + "sweep"
TAG_TRIAL_KEY = PREFIX + "trial_key"
TAG_STAGE = PREFIX + "stage"  # "generate" | "transfer"
TAG_KIND = PREFIX + "kind"  # one of ltsweep.core.jobs.RESULT_KINDS
TAG_MODEL = PREFIX + "model"
TAG_SOURCE_DATASET = PREFIX + "source_dataset"
TAG_SOURCE_OPTIMIZER = PREFIX + "source_optimizer"
TAG_TARGET_DATASET = PREFIX + "target_dataset"
TAG_TARGET_OPTIMIZER = PREFIX + "target_optimizer"
TAG_LEVEL = PREFIX + "level"
TAG_WEIGHTS_REMAINING = PREFIX + "weights_remaining"
TAG_SEED = PREFIX + "seed"
# "1" while the run's key is in the plan the sweep's store records (set when ``run`` creates the
# run; ``ltsweep ui`` marks "0" the runs of keys an edited sweep file no longer plans)
TAG_IN_PLAN = PREFIX + "in_plan"
TAG_IS_TARGET = PREFIX + "is_target"  # a generation trial whose configuration is a target: 1 | 0
# Per side ("source" | "target") of a trial's typed record (``sweep.trial.Entry``), beside the
# entry's name (TAG_*_DATASET) and optimizer: what the report classifies comparisons by.
# ``bundle`` and ``origin``: an imported source's ticket bundle id and where it came from.
ENTRY_FIELDS = (
    "registered",
    "classes",
    "half",
    "subset",
    "train_size",
    "test_size",
    "bundle",
    "origin",
)


def entry_tag(side: str, field: str) -> str:
    """``ltsweep.source_registered``, ``ltsweep.target_test_size``, ..."""
    return f"{PREFIX}{side}_{field}"


TAG_SOURCE_BUNDLE = entry_tag("source", "bundle")  # an imported source: its ticket bundle id
TAG_SOURCE_ORIGIN = entry_tag("source", "origin")  # ... and where it was imported from


TAG_ERROR = PREFIX + "error"
# Where and when a trial's last attempt ran (from its done record): Ray node, cpu/cuda, times.
TAG_NODE = PREFIX + "node"
TAG_DEVICE = PREFIX + "device"
TAG_TRAIN_NODES = PREFIX + "train_nodes"  # a Ray Train trial: one node per rank, comma-joined
TAG_STARTED_AT = PREFIX + "started_at"  # unix seconds
TAG_ENDED_AT = PREFIX + "ended_at"
TAG_STEPS = PREFIX + "steps"  # "compiled" or "eager: <why>": how the trial's steps ran
TAG_REFUSED = PREFIX + "refused"  # a sweep run `run` refused to start: the one-line reason
TAG_KERNELS = PREFIX + "kernels"  # torch version and kernel family (core/kernels.py)
TAG_PARENT = "mlflow.parentRunId"
TAG_RUN_NAME = "mlflow.runName"

AXIS_TAGS = (
    TAG_STAGE,
    TAG_KIND,
    TAG_MODEL,
    TAG_SOURCE_DATASET,
    TAG_SOURCE_OPTIMIZER,
    TAG_TARGET_DATASET,
    TAG_TARGET_OPTIMIZER,
    TAG_LEVEL,
    TAG_WEIGHTS_REMAINING,
    TAG_SEED,
    TAG_IS_TARGET,
    *(entry_tag(side, f) for side in ("source", "target") for f in ENTRY_FIELDS),
)

ROLE_SWEEP, ROLE_TRIAL, ROLE_RESULT = "sweep", "trial", "result"

# Per-epoch metrics (step = epoch index) and final metrics on every result run.
EPOCH_METRICS = ("test_accuracy", "test_loss", "train_loss", "train_accuracy", "lr")
# Per-epoch too, only for trials with a progressive-resolution schedule: the training side length.
TRAIN_RESOLUTION = "train_resolution"
FINAL_ACCURACY = "final_test_accuracy"  # the paper's figures use the final epoch
BEST_ACCURACY = "best_test_accuracy"

# Kinds with no source (random, dense): the source axes hold "none".
NO_SOURCE = "none"


def experiment_name(sweep: str) -> str:
    return f"ltsweep/{sweep}"
