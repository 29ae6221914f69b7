"""Real datasets in the forms their publishers ship them (tiny files built here): Fashion-MNIST
gzipped or not in every accepted layout, CIFAR read straight from its archive, the restricted
unpickler against a pickle that would run code, and truncated files as one-line errors."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from ltsweep.core.data import find_dataset, get_spec, load_split
from ltsweep.core.data.safe_pickle import UnsafePickleError, load_data_pickle
from tests.common.cli import ltsweep_quick
from tests.common.dataset_files import make_cifar10, make_cifar100, write_idx


def _fashion(folder: Path, gz: bool, n: int = 20) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng, out = np.random.default_rng(1), {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            path = folder / f"{prefix}-{kind}-ubyte"
            write_idx(path, array)
            if gz:
                path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
                path.unlink()
        out[split] = (images, labels)
    return out


@pytest.mark.parametrize(
    ("folder", "gz"),
    [("FashionMNIST/raw", False), ("FashionMNIST/raw", True), ("fashion-mnist", True), ("", True)],
)
def test_fashion_mnist_read_in_each_published_layout(tmp_path: Path, folder: str, gz: bool) -> None:
    made = _fashion(tmp_path / folder, gz)
    assert find_dataset(get_spec("fashion_mnist"), tmp_path) == tmp_path / folder
    for split in ("train", "test"):
        data = load_split("fashion_mnist", split, tmp_path)
        images, labels = made[split]
        assert data.labels.tolist() == labels.tolist(), f"{split} labels differ from the file"
        assert np.array_equal(data.images[:, 1, 2:30, 2:30].numpy(), images), (
            f"{split} pixels differ from the file ({folder!r}, gz={gz})"
        )


def test_fashion_search_order_prefers_torchvision_layout(tmp_path: Path) -> None:
    _fashion(tmp_path, gz=True)
    _fashion(tmp_path / "FashionMNIST" / "raw", gz=False)
    found = find_dataset(get_spec("fashion_mnist"), tmp_path)
    assert found == tmp_path / "FashionMNIST" / "raw", f"search order broken: found {found}"


def _cli_error(*args: str) -> str:
    result = ltsweep_quick(*args)
    assert result.returncode == 2, f"expected exit 2, got {result.returncode}: {result.stderr}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, f"not one line: {result.stderr}"
    return lines[0]


def test_truncated_gz_is_one_line_exit_2(tmp_path: Path) -> None:
    _fashion(tmp_path, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    line = _cli_error("data", "check", "fashion_mnist", "--data-root", str(tmp_path))
    assert str(path) in line and "truncated" in line, f"error does not name the file: {line}"


def _tar(root: Path, folder: str, archive: str) -> None:
    with tarfile.open(root / archive, "w:gz") as tar:
        tar.add(root / folder, arcname=folder)
    for f in (root / folder).iterdir():
        f.unlink()
    (root / folder).rmdir()


@pytest.mark.parametrize(
    ("name", "maker", "folder", "archive"),
    [
        ("cifar10", make_cifar10, "cifar-10-batches-py", "cifar-10-python.tar.gz"),
        ("cifar100", make_cifar100, "cifar-100-python", "cifar-100-python.tar.gz"),
    ],
)
def test_cifar_read_from_official_archive_without_extraction(
    tmp_path: Path, name: str, maker, folder: str, archive: str
) -> None:
    made = maker(tmp_path)
    _tar(tmp_path, folder, archive)
    assert not (tmp_path / folder).exists()
    assert find_dataset(get_spec(name), tmp_path) == tmp_path / archive
    for split in ("train", "test"):
        data = load_split(name, split, tmp_path)
        raw, labels = made[split]
        assert np.array_equal(data.images.numpy(), raw.reshape(-1, 3, 32, 32)), f"{split} pixels"
        assert data.labels.tolist() == list(labels), f"{split} labels differ from the archive"
    assert not (tmp_path / folder).exists(), "reading must not extract the archive"


class _RunsCode:
    """What a hostile 'data file' holds: unpickling it would call os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_restricted_unpickler_builds_data_and_refuses_code(tmp_path: Path) -> None:
    plain = {"data": np.arange(6, dtype=np.uint8).reshape(2, 3), "labels": [1, 2], "b": b"x"}
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        got = load_data_pickle(pickle.dumps(plain, protocol=protocol), "plain")
        assert np.array_equal(got["data"], plain["data"]) and got["labels"] == [1, 2]
    marker = tmp_path / "ran"
    with pytest.raises(UnsafePickleError, match=r"(posix|os)\.system"):
        load_data_pickle(pickle.dumps({"data": _RunsCode(marker)}), "evil")
    assert not marker.exists(), "the malicious pickle ran code"


@pytest.mark.parametrize("archived", [False, True])
def test_malicious_cifar_batch_is_one_line_exit_2(tmp_path: Path, archived: bool) -> None:
    make_cifar10(tmp_path)
    marker = tmp_path / "ran"
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    batch.write_bytes(pickle.dumps({"data": _RunsCode(marker), "labels": [0]}, protocol=2))
    if archived:
        _tar(tmp_path, "cifar-10-batches-py", "cifar-10-python.tar.gz")
    line = _cli_error("data", "check", "cifar10", "--data-root", str(tmp_path))
    assert "data_batch_2" in line and "refused" in line, f"error does not name the file: {line}"
    assert not marker.exists(), "the malicious pickle ran code"


def test_truncated_cifar_archive_is_one_line_exit_2(tmp_path: Path) -> None:
    make_cifar10(tmp_path)
    _tar(tmp_path, "cifar-10-batches-py", "cifar-10-python.tar.gz")
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(path.read_bytes()[:-200])
    line = _cli_error("data", "check", "cifar10", "--data-root", str(tmp_path))
    assert str(path) in line, f"error does not name the archive: {line}"


def test_not_a_pickle_is_a_user_error() -> None:
    from ltsweep.errors import UserError

    with pytest.raises(UserError, match="not a readable data pickle"):
        load_data_pickle(io.BytesIO(b"\x80\x02}q").getvalue(), "short")
