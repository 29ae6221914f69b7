"""The FFCV loader backend: ``.beton`` files written by ``ltsweep data convert``.

Same contract as the torch backend (``TensorLoader`` / ``FolderLoader``): ``batches(epoch)``
yields normalized float images ``[B, 3, S, S]`` on ``opts.device`` and int64 labels ``[B]``;
``len()`` is the number of batches per epoch. Augmentation matches the torch backend:

* tensor datasets (32x32, embedded): random crop with ``size // 8`` zero padding
  (``RandomTranslate``) and a horizontal flip when the dataset allows it; test images as stored.
* folder datasets (ImageNet, Places365): random-resized crop (scale 0.08-1, ratio 3/4-4/3) and a
  flip; test: centre crop of ratio 224/256 resized to the model's size (= resize + centre crop).

Order: ``RANDOM`` (seeded by ``opts.seed``; the epoch number picks the permutation, so an epoch
replays its order after a resume). With ``world_size > 1`` the loader runs with
``distributed=True`` (FFCV shards through torch's ``DistributedSampler``, so the process group
must be up, as it is inside Ray Train workers) and ``os_cache=True``: every process on a node
shares the page cache instead of each holding its own copy. ``QUASI_RANDOM`` is not used: FFCV
raises ``NotImplementedError`` for it under ``distributed=True``. FFCV's augmentations draw from
numba's per-thread generators, so unlike the torch backend they are not bit-reproducible.
Normalization: on the CPU by FFCV's ``NormalizeImage`` in its worker threads; on a GPU in torch
after the copy (FFCV's GPU ``NormalizeImage`` would need cupy).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch

from ltsweep.core.data import DatasetSpec, get_spec
from ltsweep.core.data.ffcv_convert import (
    beton_path,
    convert_command,
    is_complete,
    read_sidecar,
    require_ffcv,
    settings_for,
)
from ltsweep.core.data.loading.protocol import LOADER_BACKENDS, Batch, LoaderOptions
from ltsweep.core.data.transforms import normalize, resize_batch
from ltsweep.errors import UserError

TEST_CROP_RATIO = 224 / 256  # torch backend: Resize(size * 256 / 224) + CenterCrop(size)


def _image_pipeline(spec: DatasetSpec, size: int, train: bool, device: torch.device) -> list:
    import numpy as np
    from ffcv.fields.rgb_image import (
        CenterCropRGBImageDecoder,
        RandomResizedCropRGBImageDecoder,
        SimpleRGBImageDecoder,
    )
    from ffcv.transforms import (
        NormalizeImage,
        RandomHorizontalFlip,
        RandomTranslate,
        ToDevice,
        ToTensor,
        ToTorchImage,
    )

    if spec.storage == "tensor":
        ops: list = [SimpleRGBImageDecoder()]  # stored at ``size`` already
        if train:
            ops.append(RandomTranslate(padding=max(1, size // 8)))  # zero fill, as F.pad
    elif train:
        ops = [RandomResizedCropRGBImageDecoder((size, size))]
    else:
        ops = [CenterCropRGBImageDecoder((size, size), ratio=TEST_CROP_RATIO)]
    if train and spec.flip:
        ops.append(RandomHorizontalFlip())
    if device.type == "cpu":  # normalize in FFCV's worker threads (a lookup table, uint8 -> f32)
        mean, std = np.array(spec.mean) * 255, np.array(spec.std) * 255
        ops.append(NormalizeImage(mean, std, np.float32))
    non_blocking = device.type == "cuda"
    return [*ops, ToTensor(), ToDevice(device, non_blocking=non_blocking), ToTorchImage()]


def _label_pipeline(device: torch.device) -> list:
    from ffcv.fields.basics import IntDecoder
    from ffcv.transforms import Squeeze, ToDevice, ToTensor

    return [IntDecoder(), ToTensor(), Squeeze(1), ToDevice(device, non_blocking=False)]


def _check_distributed(opts: LoaderOptions) -> None:
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError(
            "the FFCV loader with world_size > 1 needs torch.distributed "
            "initialized (it shards with DistributedSampler)"
        )
    if (dist.get_rank(), dist.get_world_size()) != (opts.rank, opts.world_size):
        raise RuntimeError(
            f"LoaderOptions rank/world {opts.rank}/{opts.world_size} disagree "
            f"with torch.distributed {dist.get_rank()}/{dist.get_world_size()}"
        )


class FFCVLoader:
    """An ``EpochLoader`` over one ``.beton`` split. Under a resolution schedule a folder-stored
    split's decoder crops at the epoch's size (its ``output_size`` set before each epoch, as
    FFCV's own ImageNet training does; the test split at ``eval``); a tensor-stored split is
    resized on the device, as the torch backend does."""

    def __init__(self, spec: DatasetSpec, path: Path, size: int, opts: LoaderOptions) -> None:
        from ffcv.loader import Loader, OrderOption

        self.opts = opts
        self.device = torch.device(opts.device)
        distributed = opts.world_size > 1
        if distributed:
            _check_distributed(opts)
        self.decodes_size = spec.storage != "tensor"  # the decoder crops to the output size
        first = opts.size_at(0) if self.decodes_size else None
        image_pipeline = _image_pipeline(spec, first or size, opts.train, self.device)
        self.decoder = image_pipeline[0]
        self.loader = Loader(
            str(path),
            batch_size=opts.batch_size,
            num_workers=max(1, opts.workers),
            order=OrderOption.RANDOM if opts.train else OrderOption.SEQUENTIAL,
            os_cache=distributed,
            distributed=distributed,
            seed=opts.seed,
            drop_last=False,  # as the torch backend: every example every epoch
            pipelines={
                "image": image_pipeline,
                "label": _label_pipeline(self.device),
            },
        )
        self.mean = torch.tensor(spec.mean, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(spec.std, device=self.device).view(1, 3, 1, 1)
        n = len(self.loader.indices)
        self.num_examples = -(-n // opts.world_size) if distributed else n

    def __len__(self) -> int:
        return len(self.loader)

    def batches(self, epoch: int) -> Iterator[Batch]:
        # FFCV derives the permutation from its own epoch counter: set it, so epoch e's order
        # is the same whichever epoch the process started at.
        self.loader.next_epoch = epoch
        size = self.opts.size_at(epoch)
        if size is not None and self.decodes_size:
            self.decoder.output_size = (size, size)
        resize = size if size is not None and not self.decodes_size else None
        iterator = iter(self.loader)
        try:
            for images, labels in iterator:
                # FFCV reuses its output buffers a few batches later: hand out copies.
                if images.dtype == torch.uint8:  # on a GPU: normalize there, in torch
                    x = normalize(images, self.mean, self.std)  # [B, 3, S, S] float, new tensor
                else:  # normalized by FFCV on the CPU
                    x = images.clone(memory_format=torch.contiguous_format)  # [B, 3, S, S]
                if resize is not None:
                    x = resize_batch(x, resize)  # [B, 3, size, size]
                yield x, labels.long().clone()  # [B] int64
        finally:
            iterator.close()


def _ready_path(spec: DatasetSpec, ffcv_dir: Path, split: str, size: int) -> Path:
    stored = size if spec.storage == "tensor" else None
    path = beton_path(Path(ffcv_dir), spec, split, stored)
    if not is_complete(path, settings_for(spec, split, stored), verify_hash=False):
        found = "incomplete or written with other settings" if path.exists() else "missing"
        raise UserError(
            f"FFCV file {path} is {found}: run `{convert_command(spec, Path(ffcv_dir), stored)}`"
        )
    if int((read_sidecar(path) or {}).get("samples", 0)) < 1:
        raise UserError(f"FFCV file {path} holds no samples: re-run `ltsweep data convert`")
    return path


def check_ready(spec: DatasetSpec, ffcv_dir: Path | str | None, image_size: int | None) -> None:
    """Pre-flight for a sweep (before any trial starts): FFCV importable and both splits
    converted, else the same one-line ``UserError`` the loader would raise inside a trial."""
    if not ffcv_dir:
        raise UserError(
            f"loader 'ffcv' for {spec.name!r} needs ffcv_dir in the sweep file "
            f"(where `{convert_command(spec, Path('DIR'), image_size)}` wrote)"
        )
    require_ffcv()
    for split in ("train", "test"):
        _ready_path(spec, Path(ffcv_dir), split, image_size or spec.image_size)


def make_ffcv_loader(spec: DatasetSpec, ffcv_dir: Path, opts: LoaderOptions) -> FFCVLoader:
    """The FFCV loader for one split of ``spec``; one-line ``UserError`` if it cannot be built."""
    require_ffcv()
    size = opts.image_size or spec.image_size
    path = _ready_path(spec, Path(ffcv_dir), "train" if opts.train else "test", size)
    return FFCVLoader(spec, path, size, opts)


def _ffcv_backend(name: str, opts: LoaderOptions) -> FFCVLoader:
    if not opts.ffcv_dir:
        raise UserError(f"loader 'ffcv' for {name!r} needs ffcv_dir (run `ltsweep data convert`)")
    if opts.train and (opts.half or opts.train_subset):
        raise UserError(
            f"loader 'ffcv' for {name!r} reads whole splits: use loader: torch with "
            "half or train_subset"
        )
    return make_ffcv_loader(get_spec(name), Path(opts.ffcv_dir), opts)


LOADER_BACKENDS.register("ffcv", _ffcv_backend)
