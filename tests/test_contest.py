"""The compared models are found by what their checkpoints say they are, and scored per seed or per item."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch

from conftest import ROOT, latent_model, moved, sweep_config, uint8_images
from latentlab.checkpoint import save_checkpoint
from latentlab.config import load_config
from latentlab.errors import CheckpointError
from latentlab.evaluate.contest import (
    checkpoints_in,
    contest_models,
    encode_all,
    same_weights,
    score_contest,
    spread,
    summarize_once,
    summarize_seeds,
    sweep_models,
)
from latentlab.stats import over_seeds

CPU = torch.device("cpu")


@pytest.fixture
def cfg():
    """params.yaml with a small contest: AE and VQ-VAE at latent 4, seeds 0 and 1, a sweep over 2 and 4."""
    cfg = load_config(ROOT / "params.yaml")
    sweep = dataclasses.replace(cfg.sweep, models=("ae", "vqvae"), latents=(2, 4), seeds=(0, 1))
    return dataclasses.replace(cfg, sweep=sweep, model=dataclasses.replace(cfg.model, latent=4))


def save_runs(folder, runs):
    """Checkpoints under names that say nothing: only their content tells model, latent and seed."""
    for i, (name, latent, seed) in enumerate(runs):
        save_checkpoint(folder / f"run{i}.pt", name, sweep_config(name, latent), latent_model(name, latent), seed)


def test_contest_models_are_found_by_content(cfg, tmp_path):
    save_runs(tmp_path, [("vqvae", 4, 1), ("ae", 4, 1), ("ae", 2, 0), ("ae", 4, 0), ("vqvae", 4, 0), ("ae", 4, 7)])
    contest = contest_models(tmp_path, cfg, CPU)
    assert list(contest) == ["ae", "vqvae"] and all(list(by_seed) == [0, 1] for by_seed in contest.values())
    assert contest["ae"][1].latent == 4 and not contest["vqvae"][0].training


def test_a_missing_contest_run_is_named(cfg, tmp_path):
    save_runs(tmp_path, [("ae", 4, 0), ("ae", 4, 1), ("vqvae", 4, 0)])
    with pytest.raises(CheckpointError, match=re.escape(f"{tmp_path}: no vqvae checkpoint at latent 4 and seed 1")):
        contest_models(tmp_path, cfg, CPU)


def test_sweep_models_are_found_by_content(cfg, tmp_path):
    save_runs(tmp_path, [("vqvae", 2, 0), ("ae", 4, 0), ("ae", 2, 0)])
    with pytest.raises(CheckpointError, match=re.escape(f"{tmp_path}: no checkpoint of vqvae at latent 4")):
        sweep_models(tmp_path, cfg, CPU)
    save_runs(tmp_path / "all", [("vqvae", 2, 0), ("ae", 4, 0), ("ae", 2, 0), ("vqvae", 4, 0)])
    found = sweep_models(tmp_path / "all", cfg, CPU)
    assert list(found) == [("ae", 2), ("ae", 4), ("vqvae", 2), ("vqvae", 4)]
    assert found["vqvae", 2].latent == 2


def test_same_weights_tells_a_copy_from_another_run(tmp_path):
    """eval_probe reuses the sweep's probes for the replicate copied from it, and only for that one."""
    original = latent_model("ae", 4)
    save_checkpoint(tmp_path / "ae.pt", "ae", sweep_config("ae", 4), original, 0)
    (loaded,) = (c.model for c in checkpoints_in(tmp_path, CPU))
    assert same_weights(loaded, original)
    with torch.no_grad():
        next(loaded.parameters())[0, 0] += 1e-6
    assert not same_weights(loaded, original)
    assert not same_weights(latent_model("ae", 4), original)  # another initialization
    assert not same_weights(latent_model("ae", 2), original)  # other shapes
    assert not same_weights(latent_model("vqvae", 4), original)  # other names


def test_scores_are_summarized_over_seeds_from_each_seeds_mean():
    contest = {"ae": {0: "model a", 1: "model b", 2: "model c"}}
    per_item = {"model a": torch.tensor([1.0, 3.0]), "model b": torch.tensor([4.0, 4.0]), "model c": torch.tensor([5.0])}
    scored = score_contest(contest, lambda model: {"mse": per_item[model]})
    summary = summarize_seeds(scored)["ae"]["mse"]
    assert summary["per_seed"] == {"0": 2.0, "1": 4.0, "2": 5.0}
    assert summary["low"] == pytest.approx(over_seeds([2.0, 4.0, 5.0]).low)
    once = summarize_once("vqvae2", lambda model: {"mse": torch.tensor([1.0, 2.0, 3.0])})
    assert once["mse"]["mean"] == 2.0 and once["mse"]["bootstrap"] == 1000


@pytest.mark.parametrize("name", ["ae", "vqvae"])
def test_codes_and_their_spread_agree_across_devices(name, device):
    m = latent_model(name)
    images = uint8_images(12)
    z = m.encode(images.float() / 255)
    codes = encode_all(moved(m, device), images, device)
    assert codes.device.type == "cpu" and torch.allclose(codes, z, atol=1e-5)
    sd = spread(moved(m, device), images, device)
    assert sd.device.type == device.type and sd.shape == z.shape[1:]
    assert torch.allclose(sd.cpu(), z.std(0), atol=1e-5)
