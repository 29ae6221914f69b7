"""Tiny shared helpers: configurations small enough for 2 CPUs, and a 4-class test dataset."""

from __future__ import annotations

import torch

from ltsweep.core.data import DATASETS, DatasetSpec, TensorSplit, get_spec, register
from ltsweep.core.data.loading import EpochLoader, LoaderOptions, make_loader
from ltsweep.core.jobs import DataConfig, GenerationJob, IMPConfig, ModelConfig, TrainConfig
from ltsweep.core.optim import OptimizerConfig
from ltsweep.core.pruning import PruneConfig

TINY_SIZE = 8  # digits are 8x8 natively: no upsampling, fast convolutions
QUAD = "ltsweep_test_quad4"  # a 4-class dataset for class-count changes


def tiny_train_config(
    epochs: int = 3, lr: float = 0.05, optimizer: str = "sgd", **kwargs: object
) -> TrainConfig:
    opt = OptimizerConfig(name=optimizer, lr=lr)
    return TrainConfig(epochs=epochs, batch_size=64, optimizer=opt, **kwargs)  # type: ignore[arg-type]


def tiny_generation_job(
    levels: int = 2,
    rate: float = 0.5,
    epochs: int = 3,
    seed: int = 0,
    rewind_epochs: float | None = None,
    dataset: str = "digits",
) -> GenerationJob:
    return GenerationJob(
        model=ModelConfig("vgg_tiny"),
        data=DataConfig(dataset, image_size=TINY_SIZE, workers=0),
        train=tiny_train_config(epochs=epochs, milestones=(2,)),
        imp=IMPConfig(levels=levels, prune=PruneConfig(rate=rate), rewind_epochs=rewind_epochs),
        seed=seed,
    )


def digits_loaders(seed: int = 0) -> tuple[EpochLoader, EpochLoader]:
    """Train (batch 64, 22 steps per epoch) and test loaders of digits at 8 px."""
    common = dict(image_size=TINY_SIZE, workers=0, seed=seed)
    train_loader = make_loader("digits", LoaderOptions(batch_size=64, train=True, **common))
    test_loader = make_loader("digits", LoaderOptions(batch_size=512, train=False, **common))
    return train_loader, test_loader


def _read_quad(root: object, split: str, size: int) -> TensorSplit:
    """Digits 0-3 only: a real, learnable 4-class dataset built from the embedded one."""
    from ltsweep.core.data.embedded import read_digits

    digits = read_digits(None, split, size)
    keep = digits.labels < 4
    return TensorSplit(digits.images[keep], digits.labels[keep])


def register_quad() -> str:
    """Register the 4-class test dataset once per process; returns its name."""
    if QUAD not in DATASETS:
        digits = get_spec("digits")
        register(
            DatasetSpec(
                name=QUAD,
                num_classes=4,
                image_size=TINY_SIZE,
                mean=digits.mean,
                std=digits.std,
                flip=False,
                storage="tensor",
                reader=_read_quad,
                embedded=True,
            )
        )
    return QUAD


def assert_state_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    """Bit-identical state dicts (same keys, same dtypes, same values)."""
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert torch.equal(a[k], b[k]), f"{k} differs"


def metrics_without_time(history: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{k: v for k, v in m.items() if k != "seconds"} for m in history]


def tiny_workers_trial(
    compile: bool = True, levels: int = 1, epochs: int = 3, resources: object = None
):
    """A generation trial on 2 Ray Train workers of 0.5 CPU each (fits 2 cores beside the
    test's own process), compiled by default: what ``tune.trainable.execute`` runs."""
    import dataclasses

    from ltsweep.core.jobs import SAME
    from ltsweep.sweep.trial import GENERATE, Entry, Resources, Trial, TrialAxes

    job = tiny_generation_job(levels=levels, epochs=epochs, rewind_epochs=1)
    job = dataclasses.replace(job, train=dataclasses.replace(job.train, compile=compile))
    key = f"g-tiny-workers-{'compiled' if compile else 'eager'}"
    own = Entry("digits", "sgd", "digits", 10)
    axes = TrialAxes(GENERATE, SAME, "vgg_tiny", own, 0, own, None, True)
    res = resources or Resources(cpu=0.5, workers=2)
    return Trial(key, axes, dataclasses.replace(job, key=key), res)  # type: ignore[arg-type]
