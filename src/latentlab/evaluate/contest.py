"""The models the evaluations compare, found by what their checkpoints say they are.

Paths live in dvc.yaml only: a stage gets a folder of checkpoints and picks the ones it needs by
the name, latent size and seed stored inside each, never by a file-naming rule.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from latentlab.checkpoint import Checkpoint, load_checkpoint
from latentlab.config import Config
from latentlab.errors import CheckpointError
from latentlab.inference import map_batches
from latentlab.models import LatentModel
from latentlab.stats import bootstrap_summary, seeds_summary

Contest = dict[str, dict[int, LatentModel]]  # model name -> seed -> model
Scores = Callable[[LatentModel], dict[str, torch.Tensor]]  # one model -> per-item values of each score


def checkpoints_in(folder: Path, device: torch.device) -> list[Checkpoint]:
    """Every checkpoint in `folder` (sorted by file name)."""
    return [load_checkpoint(path, device) for path in sorted(folder.glob("*.pt"))]


def contest_models(folder: Path, cfg: Config, device: torch.device) -> Contest:
    """Each model of sweep.models at model.latent, once per seed of sweep.seeds (in params order)."""
    found = {(c.name, c.config["latent"], c.seed): c.model for c in checkpoints_in(folder, device)}
    contest: Contest = {}
    for name in cfg.sweep.models:
        for seed in cfg.sweep.seeds:
            key = (name, cfg.model.latent, seed)
            if key not in found:
                raise CheckpointError(f"{folder}: no {name} checkpoint at latent {cfg.model.latent} and seed {seed}; "
                                      "run `dvc repro` to train it")
            contest.setdefault(name, {})[seed] = found[key]
    return contest


def by_seed(contest: Contest) -> dict[int, dict[str, LatentModel]]:
    """The contest turned around: seed -> model name -> model."""
    seeds = next(iter(contest.values()))
    return {seed: {name: models[seed] for name, models in contest.items()} for seed in seeds}


def sweep_models(folder: Path, cfg: Config, device: torch.device) -> dict[tuple[str, int], LatentModel]:
    """The latent sweep's model of each (name, latent size) of sweep.models x sweep.latents."""
    found = {(c.name, c.config["latent"]): c.model for c in checkpoints_in(folder, device)}
    missing = [key for key in _sweep_runs(cfg) if key not in found]
    if missing:
        raise CheckpointError(f"{folder}: no checkpoint of {missing[0][0]} at latent {missing[0][1]}; "
                              "run `dvc repro` to train it")
    return {key: found[key] for key in _sweep_runs(cfg)}


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    """Whether two models hold equal tensors under the same names (e.g. a replicate copied from the sweep)."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(sa[k].shape == sb[k].shape and torch.equal(sa[k], sb[k]) for k in sa)


def _sweep_runs(cfg: Config) -> list[tuple[str, int]]:
    return [(name, latent) for name in cfg.sweep.models for latent in cfg.sweep.latents]


def encode_all(model: LatentModel, images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Z of every uint8 image, on the CPU: (N, latent) or (N, slots, D)."""
    model.eval()
    return map_batches(model.encode, images, device)


def spread(model: LatentModel, images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The standard deviation of each coordinate of Z over uint8 `images`, shaped like one code, on `device`."""
    return encode_all(model, images, device).std(0).to(device)


def score_contest(contest: Contest, scores: Scores) -> dict[str, dict[int, dict[str, torch.Tensor]]]:
    """scores(model) of every model and seed: name -> seed -> score -> per-item values."""
    return {name: {seed: scores(model) for seed, model in by_seed.items()} for name, by_seed in contest.items()}


def summarize_seeds(scored: dict[str, dict[int, dict[str, torch.Tensor]]]) -> dict[str, dict]:
    """Per model and score: the mean over items, summarized over seeds (mean, Student-t interval, each seed)."""
    return {name: seeds_summary({seed: {score: float(values.double().mean()) for score, values in scores.items()}
                                 for seed, scores in by_seed.items()})
            for name, by_seed in scored.items()}


def summarize_once(model: LatentModel, scores: Scores) -> dict[str, dict]:
    """Per score of a model trained once (VQ-VAE-2): the mean over items with a bootstrap interval over them."""
    return bootstrap_summary(scores(model))
