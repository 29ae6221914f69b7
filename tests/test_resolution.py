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
