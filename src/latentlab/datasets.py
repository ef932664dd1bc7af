"""The released data sets: fetch the original raw files, verify them by checksum, read them.

Raw files come from torchvision's download sources, or from a local folder in torchvision's
layout (`LATENTLAB_DATA_MIRROR`) on machines without internet. Only the data stage uses this
module; every other stage reads the prepared splits (`latentlab.data`).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import pickle
import struct
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latentlab.data import Split
from latentlab.errors import DataError

MIRROR_ENV = "LATENTLAB_DATA_MIRROR"

# --- readers of the released formats ------------------------------------------------------


def read_idx(path: Path) -> torch.Tensor:
    """An idx file of unsigned bytes (the MNIST format), gzip-compressed or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DataError(f"{path}: damaged gzip file ({error}); replace it with the original release") from error
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise DataError(f"{path}: not an idx file of unsigned bytes (bad header {data[:4]!r})")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    values = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if values.size != math.prod(dims):
        raise DataError(f"{path}: header says {dims} values, file holds {values.size}")
    return torch.from_numpy(values.copy()).reshape(dims)


def read_mnist_format(folder: Path) -> dict[str, Split]:
    """MNIST and Fashion-MNIST: four idx files, 28x28 grey images."""
    prefixes = {"train": "train", "test": "t10k"}
    return {
        split: Split(
            images=read_idx(folder / f"{prefix}-images-idx3-ubyte.gz").unsqueeze(1),  # (N, 28, 28) -> (N, 1, 28, 28)
            labels=read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz").long(),
        )
        for split, prefix in prefixes.items()
    }


CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def read_cifar10(folder: Path) -> dict[str, Split]:
    """CIFAR-10's python release: pickled batches inside one tar.gz, 32x32 colour images."""
    splits = {}
    with tarfile.open(folder / CIFAR_ARCHIVE, "r:gz") as archive:
        members = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}
        for split, names in CIFAR_BATCHES.items():
            images, labels = [], []
            for name in names:
                if name not in members:
                    raise DataError(f"{folder / CIFAR_ARCHIVE}: no batch '{name}' inside; is it CIFAR-10's python release?")
                # The archive's md5 was verified before: this pickle is the published one.
                batch = pickle.load(archive.extractfile(members[name]), encoding="latin1")
                images.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))  # rows are R, G, B planes
                labels.append(np.asarray(batch["labels"], dtype=np.int64))
            splits[split] = Split(torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels)))
    return splits


# --- the data sets -------------------------------------------------------------------------


@dataclass(frozen=True)
class RawFile:
    name: str
    md5: str


@dataclass(frozen=True)
class DatasetSpec:
    """Where a data set's raw files come from, how to check them, and how to read them."""

    name: str
    folder: str  # the raw files' folder under a torchvision root, e.g. "MNIST/raw"
    urls: tuple[str, ...]  # base URLs, tried in order
    files: tuple[RawFile, ...]
    classes: tuple[str, ...]
    read: Callable[[Path], dict[str, Split]]


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of a data set, with torchvision's download sources and checksums."""
    from torchvision import datasets as tv  # imported here: it costs a second and a half per process

    def mnist_like(source: type[tv.MNIST]) -> DatasetSpec:
        return DatasetSpec(
            name=name,
            folder=f"{source.__name__}/raw",
            urls=tuple(source.mirrors),
            files=tuple(RawFile(file, md5) for file, md5 in source.resources),
            classes=tuple(source.classes),
            read=read_mnist_format,
        )

    specs = {
        "mnist": lambda: mnist_like(tv.MNIST),
        "fashion_mnist": lambda: mnist_like(tv.FashionMNIST),
        "cifar10": lambda: DatasetSpec(
            name=name,
            folder=".",
            urls=(tv.CIFAR10.url.rsplit("/", 1)[0] + "/",),
            files=(RawFile(tv.CIFAR10.filename, tv.CIFAR10.tgz_md5),),
            classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
            read=read_cifar10,
        ),
    }
    if name not in specs:
        raise DataError(f"data.name: unknown data set {name!r}; known: {', '.join(specs)}")
    return specs[name]()


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, expected_md5: str, remedy: str) -> None:
    actual = md5sum(path)
    if actual != expected_md5:
        raise DataError(
            f"{path}: checksum mismatch: expected md5 {expected_md5}, got {actual}. "
            f"The file is damaged or not the original release; {remedy}"
        )


def fetch(spec: DatasetSpec, dest: Path, mirror: Path | None) -> Path:
    """The folder that holds the raw files of `spec`, verified: `mirror`'s own folder (read in place, not
    copied), or `dest`, where they are downloaded."""
    if mirror is None:
        dest.mkdir(parents=True, exist_ok=True)
        for file in spec.files:
            _download(spec, file, dest)
        return dest
    folder = mirror / spec.folder
    missing = [str(folder / file.name) for file in spec.files if not (folder / file.name).is_file()]
    if missing:
        raise DataError(
            f"{MIRROR_ENV}={mirror}: missing {', '.join(missing)}. The folder must hold the original raw "
            f"files of {spec.name} in torchvision's layout ({spec.folder}/{{{', '.join(f.name for f in spec.files)}}}); "
            f"copy them there, or unset {MIRROR_ENV} to download them."
        )
    remedy = f"copy the original file into {folder}, or unset {MIRROR_ENV} to download it."
    for file in spec.files:
        verify(folder / file.name, file.md5, remedy)
    return folder


def _download(spec: DatasetSpec, file: RawFile, dest: Path) -> None:
    from torchvision.datasets.utils import download_url

    errors = []
    for base in spec.urls:
        try:
            download_url(base + file.name, dest, file.name)
            break
        except Exception as error:  # noqa: BLE001 - any failure means: try the next source
            errors.append(f"{base}: {error}")
    else:
        raise DataError(
            f"could not download {file.name} of {spec.name} ({'; '.join(errors)}). Without internet, set "
            f"{MIRROR_ENV} to a folder that holds the raw files as <folder>/{spec.folder}/{file.name}."
        )
    verify(dest / file.name, file.md5, "delete it and run again to download a fresh copy.")


def prepare(spec: DatasetSpec, workdir: Path, mirror: Path | None) -> dict[str, Split]:
    """Fetch and verify the raw files (downloads go to `workdir`), then read the released train and test splits."""
    return spec.read(fetch(spec, workdir, mirror))


def mirror_from_env() -> Path | None:
    """The folder LATENTLAB_DATA_MIRROR names, checked to exist; None when it is unset (download)."""
    value = os.environ.get(MIRROR_ENV)
    if not value:
        return None
    mirror = Path(value).expanduser().resolve()
    if not mirror.is_dir():
        raise DataError(f"{MIRROR_ENV}={value}: no such folder; point it at a folder that holds the raw files "
                        f"in torchvision's layout (e.g. <folder>/MNIST/raw/*.gz), or unset it to download them")
    return mirror
