"""Progressive resolution (ltsweep.core.resolution): FFCV's rule for each epoch's size, the
checks a schedule must pass, and the pixel factor ``plan`` prices it by."""

from __future__ import annotations

import pytest

from ltsweep.core.resolution import Resolution

# FFCV's ImageNet ResNet-50, 88 epochs (rn50_88_epochs.yaml): 160 -> 192 px over epochs 65-76
FFCV_88 = Resolution(start=160, end=192, ramp=(65, 76), eval=224)


def test_sizes_follow_ffcvs_rule() -> None:
    sizes = FFCV_88.sizes(88)
    assert sizes[:71] == [160] * 71, "before and early in the ramp: the start size"
    assert sizes[71:] == [192] * 17, "from the ramp's middle on: rounded up to 192 in one step"
    assert set(sizes) <= {160, 192}, "sizes move in steps of 32 px"
    small = Resolution(start=16, end=32, ramp=(0, 3), step=8)
    assert small.sizes(5) == [16, 24, 24, 32, 32]


def test_problems_name_the_fix() -> None:
    assert FFCV_88.problem(88) is None
    assert "ramp ends at epoch 76" in FFCV_88.problem(60)
    assert "multiple of step" in Resolution(start=150, end=192, ramp=(1, 2)).problem(10)
    assert "must be >= start" in Resolution(start=192, end=160, ramp=(1, 2)).problem(10)


def test_pixel_factor_is_the_mean_squared_size_ratio() -> None:
    expected = (71 * (160 / 224) ** 2 + 17 * (192 / 224) ** 2) / 88
    assert FFCV_88.pixel_factor(88, 224) == pytest.approx(expected)
    assert Resolution(start=224, end=224, ramp=(0, 0)).pixel_factor(90, 224) == 1.0


# -- the loaders and the records (CPU, low sizes: 16 -> 24 -> 32 px, tested at 24) ---------------

SMALL = Resolution(start=16, end=32, ramp=(0, 2), eval=24, step=8)  # 16, 24, 32, 32, ... px


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory: pytest.TempPathFactory):
    from tests.common.dataset_files import make_imagenet_jpegs

    root = tmp_path_factory.mktemp("data")
    make_imagenet_jpegs(root)
    return root


def _sizes(loader, epochs: int) -> list[tuple[int, int]]:
    return [tuple(next(iter(loader.batches(e)))[0].shape[-2:]) for e in range(epochs)]


def test_the_torch_loader_follows_the_schedule_for_folders_and_in_memory_data(jpegs) -> None:
    from ltsweep.core.data.image_folder.dataset import describe_folder
    from ltsweep.core.data.loading import LoaderOptions, make_loader

    common = dict(batch_size=4, workers=0, resolution=SMALL)
    folder = make_loader(  # registered ImageNet layout: decoded per image by RandomResizedCrop
        "imagenet", LoaderOptions(train=True, data_root=str(jpegs), image_size=224, **common)
    )
    assert _sizes(folder, 4) == [(16, 16), (24, 24), (32, 32), (32, 32)]
    test = make_loader(
        "imagenet", LoaderOptions(train=False, data_root=str(jpegs), image_size=224, **common)
    )
    assert _sizes(test, 2) == [(24, 24), (24, 24)], "the test split is read at eval"
    data = describe_folder(jpegs / "imagenet")  # kind: image_folder at 32 px: in memory
    in_memory = make_loader("pics", LoaderOptions(train=True, folder=data, image_size=32, **common))
    assert type(in_memory).__name__ == "TensorLoader"
    assert _sizes(in_memory, 3) == [(16, 16), (24, 24), (32, 32)]
    test = make_loader("pics", LoaderOptions(train=False, folder=data, image_size=32, **common))
    assert _sizes(test, 1) == [(24, 24)]


def test_every_imp_level_records_the_schedule(jpegs, tmp_path) -> None:
    """A generation trial on the image folder: level 0 and level 1 (from the late-reset point,
    epoch 1) train each epoch at the schedule's size, and the records say so."""
    import dataclasses
    import json

    from ltsweep.core.data.image_folder.dataset import describe_folder
    from ltsweep.core.imp import IMPRun
    from ltsweep.trial_layout import RESULT_FILE, level_dir
    from tests.common.tiny import tiny_generation_job

    job = tiny_generation_job(levels=1, epochs=3, rewind_epochs=1)
    data = dataclasses.replace(
        job.data, name="pics", folder=describe_folder(jpegs / "imagenet"), image_size=32
    )
    job = dataclasses.replace(job, data=dataclasses.replace(data, resolution=SMALL))
    IMPRun(job, tmp_path).run()
    for level, epochs in ((0, [0, 1, 2]), (1, [1, 2])):
        history = json.loads((level_dir(tmp_path, level) / RESULT_FILE).read_text())["history"]
        got = [(h["epoch"], h["train_resolution"]) for h in history]
        assert got == [(e, SMALL.size_at(e)) for e in epochs], f"level {level}: {got}"
