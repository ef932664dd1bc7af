"""Shared fixtures: tiny configs, real MNIST images from the raw-file mirror, the project root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from latentlab.config import QuantizerConfig, TrainConfig, TrunkConfig
from latentlab.datasets import MIRROR_ENV, read_idx

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MIRROR = ROOT.parent / "shared" / "datasets"


def tiny_trunk() -> TrunkConfig:
    return TrunkConfig(channels=(8, 16), hidden=64)


def tiny_quantizer(**changes) -> QuantizerConfig:
    values = dict(codebook_size=16, embed_dim=4, beta=0.25, ema=True, decay=0.9, dead_code_threshold=0.1)
    return QuantizerConfig(**{**values, **changes})


def tiny_train(**changes) -> TrainConfig:
    values = dict(epochs=2, batch_size=32, lr=3.0e-3, weight_decay=0.0)
    return TrainConfig(**{**values, **changes})


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The folder of original raw files (LATENTLAB_DATA_MIRROR, else ../shared/datasets)."""
    path = Path(os.environ.get(MIRROR_ENV, DEFAULT_MIRROR)).resolve()
    if not (path / "MNIST" / "raw").is_dir():
        pytest.fail(f"no MNIST raw files under {path}: set {MIRROR_ENV} to a folder with MNIST/raw/*.gz")
    return path


@pytest.fixture(scope="session")
def mnist_test_images(mirror: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The first 512 MNIST test images as floats in [0, 1], (512, 1, 28, 28), and their labels."""
    images = read_idx(mirror / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz")[:512]
    labels = read_idx(mirror / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz")[:512]
    return images.unsqueeze(1).float() / 255, labels.long()


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)
