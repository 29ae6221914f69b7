"""What a sweep's dataset entries find on disk, at plan time: an image folder listed, checked and
measured (its ``FolderData`` goes into the trial keys), and a registered dataset's files checked
against its class count, so a mismatch stops ``plan`` instead of training a wrong output layer."""

from __future__ import annotations

import functools
from pathlib import Path

from ltsweep.core.data import DATA_ROOT_ENV, FolderData
from ltsweep.core.jobs import DataConfig
from ltsweep.errors import UserError


@functools.lru_cache(maxsize=64)
def folder_data(entry: str, path: str, root: str | None, test_fraction: float | None) -> FolderData:
    """The image folder of entry ``entry``, listed, checked and measured (statistics cached)."""
    from ltsweep.core.data.image_folder.dataset import describe_folder

    where = Path(path).expanduser()
    if not where.is_absolute():
        if root is None:
            raise UserError(
                f"datasets.{entry}.path {path!r} is relative: give an absolute path, or a data "
                f"root it is under (--data-root DIR or {DATA_ROOT_ENV})"
            )
        where = Path(root).expanduser() / where
    return describe_folder(where.resolve(), test_fraction)


def check_files(dataset: str, data: DataConfig) -> None:
    """Plan-time checks of what is on disk: a registered dataset's class folders, a cut of an
    image folder's training split."""
    from ltsweep.core.data import check_class_count, get_spec
    from ltsweep.core.data.subsets import Cut, check_cut

    if data.folder is None:
        problem = check_class_count(get_spec(data.name), data.data_root)
    else:
        problem = check_cut(dataset, data.folder.train_size, Cut(data.half, data.train_subset))
    if problem:
        raise UserError(f"datasets.{dataset}: {problem}")
