"""Shared fixtures: tiny configs and models, real MNIST images from the raw-file mirror, the devices."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import torch

from latentlab.config import (
    AEConfig,
    ClassifierModelConfig,
    FSQConfig,
    PixelCNNModelConfig,
    QuantizerConfig,
    TrainConfig,
    TrunkConfig,
    VAEConfig,
    VQVAE2ModelConfig,
)
from latentlab.datasets import MIRROR_ENV, read_idx
from latentlab.models import build_model
from latentlab.models.pixelcnn import ConditionCodes, PixelCNN
from latentlab.schema import to_plain

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MIRROR = ROOT.parent / "shared" / "datasets"
SHAPE = (1, 28, 28)

# --- tiny configs ----------------------------------------------------------------------------


def tiny_trunk() -> TrunkConfig:
    return TrunkConfig(channels=(8, 16), hidden=64)


def tiny_quantizer(**changes) -> QuantizerConfig:
    values = dict(codebook_size=16, embed_dim=4, beta=0.25, ema=True, decay=0.9, dead_code_threshold=0.1,
                  gradient="straight_through")
    return QuantizerConfig(**{**values, **changes})


def tiny_train(**changes) -> TrainConfig:
    values = dict(epochs=2, batch_size=32, lr=3.0e-3, weight_decay=0.0)
    return TrainConfig(**{**values, **changes})


def tiny_pixelcnn(layers: int = 2, **changes) -> PixelCNNModelConfig:
    return PixelCNNModelConfig(**{**dict(channels=8, layers=layers, kernel_size=3), **changes})


def tiny_vqvae2_model(image_size: int = 32, **quantizer) -> VQVAE2ModelConfig:
    return VQVAE2ModelConfig(image_size=image_size, channels=16, res_channels=8, res_blocks=1,
                             top=tiny_quantizer(**quantizer), bottom=tiny_quantizer(**quantizer))


BOTTLENECKS = {"ae": AEConfig(), "vae": VAEConfig(beta=1.0), "fsq": FSQConfig(levels=(5, 4, 3))}  # VQ-VAE: tiny_quantizer()


def sweep_config(name: str, latent: int = 4, **quantizer) -> dict:
    """The plain config of an AE, VAE or VQ-VAE on 28x28 images, as a checkpoint stores it."""
    bottleneck = tiny_quantizer(**quantizer) if name == "vqvae" else BOTTLENECKS[name]
    return {"image_shape": list(SHAPE), "latent": latent, "trunk": to_plain(tiny_trunk()),
            "bottleneck": to_plain(bottleneck)}


def vqvae2_config(image_size: int = 32, **quantizer) -> dict:
    return {"image_shape": list(SHAPE), "model": to_plain(tiny_vqvae2_model(image_size, **quantizer))}


def classifier_config(dropout: float = 0.0) -> dict:
    model = ClassifierModelConfig(channels=(8, 16), hidden=32, dropout=dropout)
    return {"image_shape": list(SHAPE), "num_classes": 10, "model": to_plain(model)}


def model_config(name: str, latent: int = 4) -> dict:
    if name == "vqvae2":
        return vqvae2_config()
    if name == "classifier":
        return classifier_config()
    return sweep_config(name, latent)


# --- tiny models -----------------------------------------------------------------------------


def latent_model(name: str, latent: int = 4):
    """A tiny AE, VAE, VQ-VAE or VQ-VAE-2 in eval mode; VQ codebooks started on encoder outputs, as in training."""
    model = build_model(name, model_config(name, latent))
    model.train().losses((torch.rand(16, *SHAPE),))
    return model.eval()


def classifier():
    return build_model("classifier", classifier_config()).eval()


def priors(layers: int = 2, codebook_size: int = 16) -> tuple[PixelCNN, PixelCNN]:
    """A top prior over 4x4 codes and a bottom prior over 8x8 codes given them (the tiny VQ-VAE-2's grids)."""
    top = PixelCNN((4, 4), codebook_size, 10, tiny_pixelcnn(layers), None)
    bottom = PixelCNN((8, 8), codebook_size, 10, tiny_pixelcnn(layers), ConditionCodes((4, 4), codebook_size, 1))
    return top.eval(), bottom.eval()


def uint8_images(n: int, seed: int = 0) -> torch.Tensor:
    """n random uint8 images (n, 1, 28, 28)."""
    return torch.randint(256, (n, *SHAPE), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def moved(model, device: torch.device):
    """A copy of `model` on `device` (the original stays on the CPU, for the reference result)."""
    return copy.deepcopy(model).to(device)


# --- fixtures --------------------------------------------------------------------------------


def pytest_configure(config) -> None:
    """One thread per library (torch, BLAS, OpenMP), in this process only (stages run by the end-to-end
    tests keep theirs): the machine's cores are shared, tiny problems gain nothing from more threads, and
    threads that wait for a busy core make each step many times slower."""
    import scipy.linalg  # noqa: F401 - load the thread pools of scipy and scikit-learn, so they are limited too
    import sklearn.mixture  # noqa: F401
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)


@pytest.fixture(params=["cpu", "cuda"])
def device(request) -> torch.device:
    """Each device a stage may run on; CUDA only where there is one."""
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    return torch.device(request.param)


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


def needs_tiny_run(item: pytest.Item) -> bool:
    return "tiny_run" in item.fixturenames  # asked for directly or through another fixture


def pytest_collection_modifyitems(items) -> None:
    """The tests of the tiny run last, in their order: the run starts with the session, on one core
    (tiny_run_started), and the tests that need nothing of it use the other core meanwhile."""
    items.sort(key=needs_tiny_run)


@pytest.fixture(scope="session", autouse=True)
def tiny_run_started(request, tmp_path_factory):
    """The whole study on tiny params (tests/project.py), started at once in the background: run from a
    clean clone by benchmarks/pipeline.py (which times it: tests/test_benchmarks.py reads its table);
    each stage records the params it reads (tests/support/sitecustomize.py). tiny_run waits for it.

    Its processes run on one core, so with one thread each: a stage run again elsewhere on one core (the
    failure cases' copies run side by side, one per core) gives the same bytes, which thread counts
    would not (a convolution's sums are split differently between two threads)."""
    import json
    import sys

    import yaml

    from project import ROOT, SUPPORT, TINY, Project

    if not any(map(needs_tiny_run, request.session.items)):
        yield None  # no test of this session needs it
        return
    source = Project(tmp_path_factory.mktemp("source"), request.getfixturevalue("mirror"), TINY)
    source.cores = {min(os.sched_getaffinity(0))}
    # A committed output of a bigger run in an older format (as a commit of this repository carries an
    # older run's): the benchmark's clone must start without it (sweep_summary reads all of metrics/train).
    (source.path / "metrics" / "train").mkdir(parents=True)
    (source.path / "metrics" / "train" / "ae-2.json").write_text(json.dumps({"epochs": 3, "test": {"loss": 142.2}}))
    (source.path / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"train@ae-2": {
        "cmd": "python stages/train.py ae 2", "outs": [{"path": "metrics/train/ae-2.json"}]}}}))
    source.commit("the outputs of an older, bigger run")
    work, reads = tmp_path_factory.mktemp("bench"), tmp_path_factory.mktemp("reads")
    env = {"LATENTLAB_RECORD_PARAMS": str(reads), "PYTHONPATH": str(SUPPORT)}
    command = [sys.executable, str(ROOT / "benchmarks" / "pipeline.py"), "--project", str(source.path),
               "--steps", "3", "--workdir", str(work), "--json", str(work / "measured.json")]
    with open(work / "stdout", "w") as stdout, open(work / "stderr", "w") as stderr:
        process = source.start(*command, env=env, stdout=stdout, stderr=stderr)
    yield source, process, work, reads
    if process.poll() is None:  # the session ended (or was stopped) before a test needed the run
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def tiny_run(tiny_run_started):
    """The tiny run (tiny_run_started), finished and committed. Tests restore it before use."""
    import json

    source, process, work, reads = tiny_run_started
    if process.wait() != 0:
        pytest.fail(f"benchmarks/pipeline.py exited {process.returncode}\n{(work / 'stdout').read_text()}\n"
                    f"{(work / 'stderr').read_text()}")
    p = source.adopt(work / "project")
    p.reads, p.shown, p.json = reads, (work / "stdout").read_text(), work / "measured.json"
    p.measured = json.loads(p.json.read_text())
    p.first_output = (work / "repro.log").read_text()
    p.head = p.commit("the tiny run")
    return p
