"""Raw files are verified before use; every format is read into uint8 images and labels; the prepared
splits are saved and served in batches."""

from __future__ import annotations

import dataclasses
import gzip
import io
import pickle
import re
import shutil
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from latentlab.data import Split, TensorSet, as_input, load_info, load_split, save_prepared
from latentlab.datasets import (
    CIFAR_ARCHIVE,
    MIRROR_ENV,
    RawFile,
    dataset_spec,
    fetch,
    md5sum,
    mirror_from_env,
    prepare,
    read_idx,
)
from latentlab.errors import DataError


def test_mnist_from_the_mirror(mirror, tmp_path):
    splits = prepare(dataset_spec("mnist"), tmp_path, mirror)
    train, test = splits["train"], splits["test"]
    assert train.images.shape == (60000, 1, 28, 28) and train.images.dtype == torch.uint8
    assert test.images.shape == (10000, 1, 28, 28)
    assert train.labels.dtype == torch.int64 and set(train.labels.tolist()) == set(range(10))
    assert torch.bincount(test.labels).min() > 800  # every digit is well represented
    assert train.labels[0] == 5  # the first training image of MNIST is a 5


def test_fashion_mnist_from_the_mirror(mirror, tmp_path):
    splits = prepare(dataset_spec("fashion_mnist"), tmp_path, mirror)
    assert splits["train"].images.shape == (60000, 1, 28, 28)
    assert splits["train"].labels[0] == 9  # an ankle boot


def test_missing_mirror_file_is_named_with_the_fix(mirror, tmp_path):
    partial = tmp_path / "mirror"
    shutil.copytree(mirror / "MNIST", partial / "MNIST")
    (partial / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").chmod(0o644)
    (partial / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"missing .*t10k-labels-idx1-ubyte\.gz.*unset LATENTLAB_DATA_MIRROR"):
        fetch(dataset_spec("mnist"), tmp_path / "work", partial)
    assert not (tmp_path / "work" / "train-images-idx3-ubyte.gz").exists()  # nothing copied


def test_checksum_mismatch_names_file_expected_and_actual(mirror, tmp_path):
    bad = tmp_path / "mirror"
    shutil.copytree(mirror / "MNIST", bad / "MNIST")
    damaged = bad / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    damaged.chmod(0o644)
    damaged.write_bytes(damaged.read_bytes()[:-10])
    spec = dataset_spec("mnist")
    expected = dict((f.name, f.md5) for f in spec.files)["t10k-labels-idx1-ubyte.gz"]
    with pytest.raises(DataError) as error:
        fetch(spec, tmp_path / "work", bad)
    message = str(error.value)
    assert str(damaged) in message and expected in message and md5sum(damaged) in message
    assert "replace" in message or "copy the original" in message


def test_read_idx_checks_the_header(tmp_path):
    good = tmp_path / "good-idx1-ubyte.gz"
    with gzip.open(good, "wb") as f:
        f.write(b"\x00\x00\x08\x01" + struct.pack(">I", 3) + bytes([7, 8, 9]))
    assert read_idx(good).tolist() == [7, 8, 9]
    bad = tmp_path / "bad-idx1-ubyte"
    bad.write_bytes(b"\x00\x00\x0d\x01" + struct.pack(">I", 1) + b"\x00\x00\x00\x00")
    with pytest.raises(DataError, match="not an idx file"):
        read_idx(bad)


def write_fake_cifar(folder: Path, per_batch: int) -> tuple[Path, dict[str, np.ndarray]]:
    """A tar.gz in CIFAR-10's python format: pickled dicts of 'data' (N, 3072) and 'labels'."""
    rng = np.random.default_rng(0)
    arrays = {}
    path = folder / CIFAR_ARCHIVE
    with tarfile.open(path, "w:gz") as archive:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
            arrays[name] = data
            payload = pickle.dumps({"data": data, "labels": list(rng.integers(0, 10, per_batch)), "batch_label": name})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return path, arrays


def test_cifar10_format_is_read_as_nchw(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    archive, arrays = write_fake_cifar(mirror, per_batch=4)
    # The real CIFAR-10 spec, except for the checksum of this generated archive.
    spec = dataclasses.replace(dataset_spec("cifar10"), files=(RawFile(CIFAR_ARCHIVE, md5sum(archive)),))
    splits = prepare(spec, tmp_path / "work", mirror)
    assert splits["train"].images.shape == (20, 3, 32, 32) and splits["test"].images.shape == (4, 3, 32, 32)
    first = arrays["data_batch_1"][0]
    # CIFAR rows hold the red plane, then green, then blue, each 32x32 row-major.
    assert splits["train"].images[0, 1, 0, 0] == first[1024] and splits["train"].images[0, 2, 31, 31] == first[3071]
    assert torch.equal(splits["test"].images.flatten(1), torch.from_numpy(arrays["test_batch"]))


def test_cifar10_archive_is_verified_against_the_published_checksum(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    write_fake_cifar(mirror, per_batch=2)
    with pytest.raises(DataError, match="expected md5 c58f30108f718f92721af3b95e74349a"):
        fetch(dataset_spec("cifar10"), tmp_path / "work", mirror)


def test_split_batches_cover_every_example_once_as_floats():
    images = torch.arange(10 * 4, dtype=torch.uint8).view(10, 1, 2, 2)
    split = Split(images, torch.arange(10))
    seen = []
    for x, y in split.batches(3, shuffle=True, generator=torch.Generator().manual_seed(1)):
        assert x.dtype == torch.float32 and x.max() <= 1
        assert torch.equal((x * 255).round().to(torch.uint8), images[y])
        seen += y.tolist()
    assert sorted(seen) == list(range(10))
    assert len(split.head(4)) == 4 and split.head(None) is split


def test_split_batches_land_on_the_device(device):
    split = Split(torch.arange(6 * 4, dtype=torch.uint8).view(6, 1, 2, 2), torch.arange(6))
    for x, y in split.batches(4, device=device):
        assert x.device.type == device.type and y.device.type == device.type
        assert torch.equal(x.cpu(), split.images[y.cpu()].float() / 255)


def test_tensor_sets_serve_codes_as_int64_and_keep_floats():
    codes = torch.tensor([[1, 2], [3, 4], [5, 6]], dtype=torch.int16)
    data = TensorSet((codes, torch.tensor([0.5, 1.5, 2.5])))
    (c, f), = data.batches(3)
    assert c.dtype == torch.int64 and torch.equal(c, codes.long())
    assert f.dtype == torch.float32 and torch.equal(f, torch.tensor([0.5, 1.5, 2.5]))
    assert len(data) == 3 and data.num_batches(2) == 2


def test_as_input_scales_uint8_images_to_the_unit_interval():
    pixels = torch.tensor([0, 51, 255], dtype=torch.uint8)
    assert torch.equal(as_input(pixels), torch.tensor([0.0, 0.2, 1.0]))


def test_hold_out_takes_the_last_examples():
    split = Split(torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1), torch.arange(10))
    kept, held = split.hold_out(3)
    assert kept.labels.tolist() == list(range(7)) and held.labels.tolist() == [7, 8, 9]
    assert torch.equal(held.images.flatten(), torch.tensor([7, 8, 9], dtype=torch.uint8))


def test_prepared_splits_round_trip(tmp_path):
    splits = {name: Split(torch.full((n, 1, 2, 2), n, dtype=torch.uint8), torch.arange(n))
              for name, n in (("train", 5), ("validation", 2), ("test", 3))}
    save_prepared(tmp_path, {"name": "mnist", "classes": ["0", "1"]}, splits)
    for name, split in splits.items():
        loaded = load_split(tmp_path, name)
        assert torch.equal(loaded.images, split.images) and torch.equal(loaded.labels, split.labels)
    info = load_info(tmp_path)
    assert info == {"name": "mnist", "classes": ["0", "1"], "image_shape": [1, 2, 2],
                    "sizes": {"train": 5, "validation": 2, "test": 3}}


def test_read_idx_names_a_damaged_file(tmp_path):
    truncated = tmp_path / "t-idx1-ubyte.gz"
    with gzip.open(truncated, "wb") as f:
        f.write(b"\x00\x00\x08\x01" + struct.pack(">I", 1000) + bytes(1000))
    truncated.write_bytes(truncated.read_bytes()[:-12])
    with pytest.raises(DataError, match=f"{re.escape(str(truncated))}: damaged gzip file"):
        read_idx(truncated)
    short = tmp_path / "s-idx1-ubyte"
    short.write_bytes(b"\x00\x00\x08\x01" + struct.pack(">I", 5) + bytes(3))
    with pytest.raises(DataError, match=r"header says \(5,\) values, file holds 3"):
        read_idx(short)


def test_an_unknown_data_set_is_named():
    with pytest.raises(DataError, match="data.name: unknown data set 'emnist'; known: mnist, fashion_mnist, cifar10"):
        dataset_spec("emnist")


def test_the_mirror_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    assert mirror_from_env() is None  # unset: download
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path))
    assert mirror_from_env() == tmp_path.resolve()
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "absent"))
    with pytest.raises(DataError, match=f"{MIRROR_ENV}={re.escape(str(tmp_path / 'absent'))}: no such folder"):
        mirror_from_env()
