"""The prepared data every stage reads.

Images live in memory as uint8 tensors (N, C, H, W) and become floats in [0, 1] one batch at
a time, so training never decodes an image per sample. The data stage writes three splits:
train, validation (the last `data.validation_size` images of the released training split, held
out so that nothing is ever chosen on the test split) and test.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from latentlab.errors import CheckpointError
from latentlab.io import load_tensors, read_json, restore_hint, save_tensors, write_json

SPLITS = ("train", "validation", "test")


class Batched:
    """Rows of tensors that share their first dimension, served in batches: what `fit` trains on.

    uint8 tensors are images and become float32 in [0, 1] one batch at a time; other integer
    tensors (labels, codes) become int64.
    """

    def columns(self) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.columns()[0])

    def num_batches(self, batch_size: int) -> int:
        return math.ceil(len(self) / batch_size)

    def batches(self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None,
                device: torch.device | str = "cpu") -> Iterator[tuple[torch.Tensor, ...]]:
        order = torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        for index in order.split(batch_size):
            yield tuple(as_input(column[index].to(device)) for column in self.columns())


def as_input(t: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float32 in [0, 1]; other integers -> int64; floats unchanged."""
    if t.dtype == torch.uint8:
        return t.float().div_(255)
    return t if t.is_floating_point() else t.long()


@dataclass(frozen=True)
class Split(Batched):
    """One split of images in memory: uint8 images (N, C, H, W) and int64 labels (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def columns(self) -> tuple[torch.Tensor, ...]:
        return self.images, self.labels

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    def head(self, n: int | None) -> Split:
        """The first n examples (all when n is None)."""
        return self if n is None else Split(self.images[:n], self.labels[:n])

    def hold_out(self, n: int) -> tuple[Split, Split]:
        """(all but the last n examples, the last n examples)."""
        keep = len(self) - n
        return Split(self.images[:keep], self.labels[:keep]), Split(self.images[keep:], self.labels[keep:])

    def float_images(self, index: torch.Tensor | slice, device: torch.device | str = "cpu") -> torch.Tensor:
        """The images at `index` (indices or a slice) as floats in [0, 1], (n, C, H, W)."""
        return as_input(self.images[index].to(device))

    def first_images(self, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return self.float_images(slice(0, n), device)


@dataclass(frozen=True)
class TensorSet(Batched):
    """Any tuple of tensors as a data set, e.g. (codes, labels) for a prior."""

    tensors: tuple[torch.Tensor, ...]

    def columns(self) -> tuple[torch.Tensor, ...]:
        return self.tensors


# --- the prepared data set: what the data stage writes and every other stage reads ----------


def save_prepared(folder: Path, info: dict, splits: dict[str, Split]) -> None:
    """Each split as a tensor file, and info.json: `info` plus the image shape and split sizes."""
    for name in SPLITS:  # cloned: a split is a slice of the released set, and torch.save writes a view's whole storage
        save_tensors(folder / f"{name}.pt", {"images": splits[name].images.clone(), "labels": splits[name].labels.clone()})
    write_json(folder / "info.json", {**info, "image_shape": list(splits["train"].image_shape),
                                      "sizes": {name: len(splits[name]) for name in SPLITS}})


def load_splits(folder: str | Path) -> tuple[Split, Split, Split]:
    """The train, validation and test splits of a prepared data folder."""
    train, validation, test = (load_split(folder, split) for split in SPLITS)
    return train, validation, test


def load_split(folder: str | Path, split: str) -> Split:
    """One prepared split; a file that is not one raises CheckpointError naming it."""
    path = Path(folder) / f"{split}.pt"
    data = load_tensors(path, keys=("images", "labels"))
    images, labels = data["images"], data["labels"]
    if not (isinstance(images, torch.Tensor) and images.dtype == torch.uint8 and images.ndim == 4
            and isinstance(labels, torch.Tensor) and labels.ndim == 1 and len(labels) == len(images)):
        raise CheckpointError(f"{path}: not a prepared split (uint8 images (N, C, H, W) and N labels); "
                              f"{restore_hint(path, in_git=False)}")
    return Split(images, labels)


def load_info(folder: str | Path) -> dict:
    return read_json(Path(folder) / "info.json")
