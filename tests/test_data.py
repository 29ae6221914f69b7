"""Datasets: embedded ones, every real on-disk format (tiny files built here), and the loaders."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from ltsweep.core.data import DATA_ROOT_ENV, TensorSplit, dataset_names, get_spec, load_split
from ltsweep.core.data.adapt import adapt, channel_stats
from ltsweep.core.data.embedded import (
    SHAPES_SEED,
    SHAPES_SIZES,
    SHAPES_SMALL_SEED,
    SHAPES_SMALL_SIZES,
    generate_shapes,
    read_digits,
)
from ltsweep.core.data.loading import LoaderOptions, make_loader
from ltsweep.core.data.loading.torch_backend import TensorLoader
from ltsweep.errors import MissingDatasetError, UserError
from tests.common.dataset_files import (
    make_cifar10,
    make_cifar100,
    make_fashion_mnist,
    make_folder_dataset,
    make_svhn,
)

REAL = ("fashion_mnist", "svhn", "cifar10", "cifar100", "imagenet", "places365")


# --- embedded datasets ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["digits", "shapes", "shapes_small"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_embedded_split_shapes_and_labels(name: str, split: str) -> None:
    spec = get_spec(name)
    data = load_split(name, split)
    assert isinstance(data, TensorSplit)
    size = spec.image_size
    assert data.images.dtype == torch.uint8 and data.labels.dtype == torch.int64
    assert data.images.shape == (len(data), 3, size, size)
    assert int(data.labels.min()) == 0 and int(data.labels.max()) == spec.num_classes - 1
    assert len(data) > 100


def test_digits_split_sizes_and_partition() -> None:
    """Train and test partition sklearn's 1,797 images: no image in both, none left out."""
    from sklearn.datasets import load_digits

    train, test = read_digits(None, "train", 8), read_digits(None, "test", 8)
    assert (len(train), len(test)) == (1347, 450)
    everything = (load_digits().images * (255.0 / 16.0)).round().astype(np.uint8)

    def rows(images: torch.Tensor, labels: torch.Tensor) -> Counter:
        return Counter((bytes(im[0].numpy().tobytes()), int(y)) for im, y in zip(images, labels))

    full = Counter((im.tobytes(), int(y)) for im, y in zip(everything, load_digits().target))
    assert rows(train.images, train.labels) + rows(test.images, test.labels) == full
    # The seeded permutation is fixed: the split does not change between calls.
    assert torch.equal(read_digits(None, "test", 8).labels, test.labels)


def test_digits_read_without_importing_sklearn_equal_load_digits() -> None:
    """Trial processes read sklearn's digits file directly (importing sklearn costs each of them
    about a second): the arrays must be exactly what load_digits returns, and sklearn must stay
    unimported."""
    import subprocess
    import sys

    from sklearn.datasets import load_digits

    from ltsweep.core.data.embedded import digits_arrays

    pixels, labels = digits_arrays()
    bunch = load_digits()
    assert np.array_equal(pixels, bunch.images), "digits pixels differ from load_digits"
    assert np.array_equal(labels, bunch.target), "digits labels differ from load_digits"
    code = (
        "import sys; from ltsweep.core.data.embedded import read_digits; "
        "read_digits(None, 'train', 16); print('sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.stdout.strip() == "False", f"reading digits imported sklearn: {out.stderr[-500:]}"


def test_digits_upsampled_to_registered_size_and_gray_replicated() -> None:
    data = load_split("digits", "train")
    assert data.images.shape[-1] == 16
    assert torch.equal(data.images[:, 0], data.images[:, 1])
    assert torch.equal(data.images[:, 0], data.images[:, 2])


def test_shapes_generation_is_deterministic() -> None:
    a, b = generate_shapes(40, seed=7), generate_shapes(40, seed=7)
    assert a.images.numpy().tobytes() == b.images.numpy().tobytes()
    assert torch.equal(a.labels, b.labels)
    c = generate_shapes(40, seed=8)
    assert not torch.equal(a.images, c.images)


def test_shapes_small_is_another_draw_of_another_size() -> None:
    small, shapes = load_split("shapes_small", "train"), load_split("shapes", "train")
    assert len(small) == SHAPES_SMALL_SIZES["train"] < len(shapes)
    assert torch.bincount(small.labels).tolist() == [SHAPES_SMALL_SIZES["train"] // 10] * 10
    rows = {bytes(x.flatten().numpy()) for x in shapes.images}
    assert not any(bytes(x.flatten().numpy()) in rows for x in small.images), "same images"


def test_shapes_splits_are_balanced_and_distinct() -> None:
    train, test = load_split("shapes", "train"), load_split("shapes", "test")
    assert len(train) == SHAPES_SIZES["train"] and len(test) == SHAPES_SIZES["test"]
    assert torch.bincount(train.labels).tolist() == [SHAPES_SIZES["train"] // 10] * 10
    assert not torch.equal(train.images[: len(test)], test.images)


@pytest.mark.parametrize("name", ["digits", "shapes", "shapes_small"])
def test_registered_mean_std_match_training_split(name: str) -> None:
    """The stored normalization is the training split's, at native size (8 px, 32 px)."""
    if name == "digits":
        images = read_digits(None, "train", 8).images
    elif name == "shapes":
        images = generate_shapes(SHAPES_SIZES["train"], SHAPES_SEED).images
    else:
        images = generate_shapes(SHAPES_SMALL_SIZES["train"], SHAPES_SMALL_SEED).images
    mean, std = channel_stats(images)
    spec = get_spec(name)
    assert np.allclose(mean, spec.mean, atol=1e-3), (mean, spec.mean)
    assert np.allclose(std, spec.std, atol=1e-3), (std, spec.std)


def test_adapt_pads_small_gaps_and_resizes_large_ones() -> None:
    gray = torch.full((2, 1, 28, 28), 200, dtype=torch.uint8)
    padded = adapt(gray, 32)
    assert padded.shape == (2, 3, 32, 32)
    assert int(padded[:, :, :2].sum()) == 0 and int(padded[:, :, 2:30, 2:30].min()) == 200
    resized = adapt(torch.full((1, 1, 8, 8), 100, dtype=torch.uint8), 16)
    assert resized.shape == (1, 3, 16, 16) and int(resized.min()) == int(resized.max()) == 100


# --- real datasets: tiny files in each on-disk format (tests/common/dataset_files.py) -----------


def test_fashion_mnist_idx_files_padded_to_32_and_three_channels(tmp_path: Path) -> None:
    made = make_fashion_mnist(tmp_path)
    for split in ("train", "test"):
        data = load_split("fashion_mnist", split, tmp_path)
        images, labels = made[split]
        assert data.images.shape == (len(labels), 3, 32, 32)
        assert data.images.dtype == torch.uint8
        assert data.labels.tolist() == labels.tolist()
        # centred 28x28 inside a zero border of 2 px, the same in each channel
        for c in range(3):
            assert np.array_equal(data.images[:, c, 2:30, 2:30].numpy(), images)
        border = data.images.clone()
        border[:, :, 2:30, 2:30] = 0
        assert int(border.sum()) == 0


def test_svhn_mat_files_layout_and_label_ten_means_zero(tmp_path: Path) -> None:
    made = make_svhn(tmp_path)
    for split in ("train", "test"):
        data = load_split("svhn", split, tmp_path)
        x, y = made[split]
        n = x.shape[-1]
        assert data.images.shape == (n, 3, 32, 32)
        assert np.array_equal(data.images.numpy(), x.transpose(3, 2, 0, 1))
        expected = [0 if v == 10 else int(v) for v in y[:, 0]]
        assert data.labels.tolist() == expected and 10 not in data.labels.tolist()


@pytest.mark.parametrize(
    ("name", "maker", "classes"), [("cifar10", make_cifar10, 10), ("cifar100", make_cifar100, 100)]
)
def test_cifar_python_batches(tmp_path: Path, name: str, maker, classes: int) -> None:
    made = maker(tmp_path)
    for split in ("train", "test"):
        data = load_split(name, split, tmp_path)
        raw, labels = made[split]
        assert data.images.shape == (len(labels), 3, 32, 32)
        assert np.array_equal(data.images.numpy(), raw.reshape(-1, 3, 32, 32))
        assert data.labels.tolist() == list(labels)
    assert get_spec(name).num_classes == classes


@pytest.mark.parametrize("name", ["imagenet", "places365"])
def test_folder_datasets_resized_to_requested_size(tmp_path: Path, name: str) -> None:
    classes = ("n01440764", "n01443537", "n01484850")
    make_folder_dataset(tmp_path, name, classes)
    for split, size in (("train", 32), ("test", 24)):
        ds = load_split(name, split, tmp_path, image_size=size)
        assert len(ds) == 6
        assert ds.classes == list(classes)
        image, label = ds[3]
        assert image.shape == (3, size, size) and image.dtype == torch.float32
        assert label == 1
    opts = LoaderOptions(
        batch_size=4, train=False, workers=0, data_root=str(tmp_path), image_size=16
    )
    loader = make_loader(name, opts)
    batches = list(loader.batches(0))
    assert [tuple(x.shape) for x, _ in batches] == [(4, 3, 16, 16), (2, 3, 16, 16)]
    assert sorted(torch.cat([y for _, y in batches]).tolist()) == [0, 0, 1, 1, 2, 2]


@pytest.mark.parametrize("name", REAL)
def test_missing_dataset_names_expected_path(tmp_path: Path, name: str) -> None:
    with pytest.raises(MissingDatasetError) as info:
        load_split(name, "train", tmp_path)
    assert str(tmp_path) in str(info.value)
    assert "\n" not in str(info.value)


def test_partly_missing_real_dataset_names_the_missing_file(tmp_path: Path) -> None:
    make_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(MissingDatasetError, match="data_batch_3"):
        load_split("cifar10", "train", tmp_path)
    make_fashion_mnist(tmp_path)
    (tmp_path / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(MissingDatasetError, match="t10k-labels-idx1-ubyte"):
        load_split("fashion_mnist", "test", tmp_path)


def test_real_dataset_without_data_root_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)
    with pytest.raises(UserError, match=DATA_ROOT_ENV) as info:
        load_split("cifar10", "train")
    assert "cifar-10-batches-py" in str(info.value)


def test_data_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_svhn(tmp_path / "env_root")
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path / "env_root"))
    assert len(load_split("svhn", "test")) == 11


def test_data_root_precedence_is_command_line_then_environment_then_sweep_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One rule for ``plan``, ``run`` and ``data check`` alike (``resolve_root``)."""
    from ltsweep.core.data import resolve_root

    monkeypatch.setenv(DATA_ROOT_ENV, "/env")
    assert resolve_root("/cli", "/file") == Path("/cli"), "--data-root must win"
    assert resolve_root(None, "/file") == Path("/env"), "$LTSWEEP_DATA must beat the sweep file"
    monkeypatch.delenv(DATA_ROOT_ENV)
    assert resolve_root(None, "/file") == Path("/file"), "the sweep file's data_root comes last"
    assert resolve_root(None, None) is None


def test_unknown_dataset_lists_known_ones() -> None:
    with pytest.raises(UserError, match="cifar10"):
        get_spec("cifar-10")
    assert set(REAL) | {"digits", "shapes"} <= set(dataset_names())


# --- loaders -------------------------------------------------------------------------------------


def _indexed_split(n: int = 103, size: int = 8) -> TensorSplit:
    """Labels are example ids, so a batch says exactly which examples it holds."""
    images = torch.randint(
        0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(1), dtype=torch.uint8
    )
    return TensorSplit(images, torch.arange(n))


def _ids(loader: TensorLoader, epoch: int) -> list[int]:
    return torch.cat([y for _, y in loader.batches(epoch)]).tolist()


def test_tensor_loader_normalizes_test_batches_in_order() -> None:
    spec, data = get_spec("shapes"), _indexed_split()
    loader = TensorLoader(spec, data, LoaderOptions(batch_size=16, train=False))
    x, y = next(iter(loader.batches(0)))
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    assert y.tolist() == list(range(16))
    assert torch.allclose(x, (data.images[:16].float() / 255 - mean) / std)
    assert _ids(loader, 0) == list(range(103))
    assert len(loader) == 7 == len(list(loader.batches(0)))


def test_tensor_loader_order_depends_on_seed_and_epoch_only() -> None:
    spec, data = get_spec("shapes"), _indexed_split()
    opts = LoaderOptions(batch_size=16, train=True, seed=3)
    a, b = TensorLoader(spec, data, opts), TensorLoader(spec, data, opts)
    assert _ids(a, 2) == _ids(b, 2)
    xa = torch.cat([x for x, _ in a.batches(2)])
    xb = torch.cat([x for x, _ in b.batches(2)])
    assert torch.equal(xa, xb)  # augmentation replays too
    assert _ids(a, 2) != _ids(a, 3)
    other = TensorLoader(spec, data, LoaderOptions(batch_size=16, train=True, seed=4))
    assert _ids(other, 2) != _ids(a, 2)
    assert sorted(_ids(a, 2)) == list(range(103))


def test_train_batches_are_augmented_crops() -> None:
    spec, data = get_spec("shapes"), _indexed_split()
    loader = TensorLoader(spec, data, LoaderOptions(batch_size=103, train=True, seed=0))
    x, y = next(iter(loader.batches(0)))
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    plain = (data.images[y].float() / 255 - mean) / std
    assert x.shape == plain.shape
    assert not torch.equal(x, plain)  # cropped/flipped somewhere
    same = (x == plain).flatten(1).all(1)
    assert 0 < int(same.sum()) < len(y)  # ... but some samples got the identity crop


@pytest.mark.parametrize("train", [True, False])
def test_rank_sharding_is_disjoint_and_equal_sized(train: bool) -> None:
    spec, data = get_spec("shapes"), _indexed_split(n=103)
    world = 3
    shards = []
    for rank in range(world):
        opts = LoaderOptions(batch_size=8, train=train, seed=5, rank=rank, world_size=world)
        loader = TensorLoader(spec, data, opts)
        ids = _ids(loader, 1)
        assert len(ids) == loader.num_examples == 103 // world
        assert len(list(loader.batches(1))) == len(loader)
        shards.append(set(ids))
    for i in range(world):
        for j in range(i + 1, world):
            assert not shards[i] & shards[j]
    assert len(set().union(*shards)) == world * (103 // world)


def test_make_loader_reads_registered_dataset() -> None:
    opts = LoaderOptions(batch_size=64, train=True, image_size=8, workers=0)
    loader = make_loader("digits", opts)
    x, y = next(iter(loader.batches(0)))
    assert x.shape == (64, 3, 8, 8) and x.dtype == torch.float32 and y.shape == (64,)
    assert loader.num_examples == 1347 and len(loader) == 22


def test_unknown_loader_backend_and_ffcv_without_dir() -> None:
    with pytest.raises(UserError, match="torch"):
        make_loader("digits", LoaderOptions(batch_size=8, train=True), backend="tf")
    with pytest.raises(UserError, match="ffcv_dir"):
        make_loader("digits", LoaderOptions(batch_size=8, train=True), backend="ffcv")
