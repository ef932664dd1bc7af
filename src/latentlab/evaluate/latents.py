"""What the evaluation stages share: the models compared at model.latent, and codes of a data set."""

from __future__ import annotations

from pathlib import Path

import torch

from latentlab.checkpoint import load_checkpoint
from latentlab.cli import run_name
from latentlab.config import Config
from latentlab.data import Split
from latentlab.models import LatentModel

BATCH_SIZE = 500


def comparison_models(checkpoints: Path, vqvae2: Path | None, cfg: Config,
                      device: torch.device) -> dict[str, LatentModel]:
    """The sweep's models at model.latent (in sweep.models order), then VQ-VAE-2 if a path is given."""
    models = {name: load_checkpoint(checkpoints / f"{run_name(name, cfg.model.latent)}.pt", device)
              for name in cfg.sweep.models}
    if vqvae2 is not None:
        models["vqvae2"] = load_checkpoint(vqvae2, device)
    return models


@torch.no_grad()
def encode_all(model: LatentModel, data: Split, device: torch.device) -> torch.Tensor:
    """Z of every image of `data`, on the CPU: (N, latent) or (N, slots, D)."""
    model.eval()
    return torch.cat([model.encode(x).cpu() for x, _ in data.batches(BATCH_SIZE, device=device)])


def spread(model: LatentModel, data: Split, device: torch.device) -> torch.Tensor:
    """The standard deviation of each coordinate of Z over `data`, shaped like one code, on `device`."""
    return encode_all(model, data, device).std(0).to(device)
