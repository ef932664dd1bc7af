"""Checkpoints rebuild the very model they saved, on any device; a broken or foreign file says what to do."""

from __future__ import annotations

import re

import pytest
import torch

from conftest import SHAPE, latent_model, sweep_config
from latentlab.checkpoint import load_checkpoint, load_model, save_checkpoint
from latentlab.errors import CheckpointError
from latentlab.io import save_tensors


@pytest.fixture
def saved(tmp_path):
    """A VQ-VAE whose buffers moved off their initial values, saved with seed 3."""
    model = latent_model("vqvae")
    save_checkpoint(tmp_path / "m.pt", "vqvae", sweep_config("vqvae"), model, seed=3)
    return tmp_path / "m.pt", model


def test_checkpoint_round_trip_rebuilds_the_same_model(saved):
    path, model = saved
    loaded = load_checkpoint(path)  # torch.load(weights_only=True) inside
    assert (loaded.name, loaded.config, loaded.seed) == ("vqvae", sweep_config("vqvae"), 3)
    assert not loaded.model.training
    x = torch.rand(3, *SHAPE)
    assert torch.equal(loaded.model.reconstruct(x), model.reconstruct(x))
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in loaded.model.state_dict().items())


def test_a_checkpoint_loads_onto_the_device(saved, device):
    path, model = saved
    loaded = load_model(path, device)
    assert all(p.device.type == device.type for p in loaded.state_dict().values())
    x = torch.rand(3, *SHAPE)
    assert torch.allclose(loaded.reconstruct(x.to(device)).cpu(), model.reconstruct(x), atol=1e-5)


def test_a_truncated_checkpoint_names_the_path_and_the_fix(saved):
    path, _ = saved
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    message = str(error.value)
    assert message.startswith(f"{path}: unreadable")
    assert f"dvc checkout {path}" in message and "dvc repro" in message


def test_a_missing_checkpoint_says_how_to_create_it(tmp_path):
    with pytest.raises(CheckpointError, match=re.escape(f"{tmp_path / 'm.pt'}: no such file; run `dvc repro`")):
        load_model(tmp_path / "m.pt")


def test_a_config_that_no_longer_fits_the_weights_is_another_version(saved):
    path, model = saved
    config = sweep_config("vqvae")
    config["trunk"]["hidden"] = 32  # the weights were saved with hidden 64
    save_checkpoint(path, "vqvae", config, model, seed=3)
    with pytest.raises(CheckpointError, match=re.escape(f"{path}: written by another version of latentlab")):
        load_checkpoint(path)


def test_a_config_with_other_keys_is_another_version(saved):
    path, model = saved
    config = sweep_config("vqvae")
    config["quantizer"] = config.pop("bottleneck")  # renamed since
    save_checkpoint(path, "vqvae", config, model, seed=3)
    with pytest.raises(CheckpointError, match="written by another version of latentlab.*dvc repro --force"):
        load_checkpoint(path)


def test_a_checkpoint_without_a_seed_is_another_version(saved):
    """The previous format stored name, config and weights only."""
    path, model = saved
    save_tensors(path, {"name": "vqvae", "config": sweep_config("vqvae"), "model": model.state_dict()})
    with pytest.raises(CheckpointError, match=re.escape(f"{path}: written by another version of latentlab")):
        load_checkpoint(path)
