"""Checkpoints: weights saved with the name and config that build the model again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from latentlab.io import load_tensors, save_tensors
from latentlab.models import Trainable, build_model


def save_checkpoint(path: str | Path, name: str, config: dict[str, Any], model: Trainable) -> None:
    save_tensors(path, {"name": name, "config": config, "model": model.state_dict()})


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> Trainable:
    """The model, rebuilt from its stored name and config, with its weights, in eval mode."""
    stored = load_tensors(path, device)
    model = build_model(stored["name"], stored["config"])
    model.load_state_dict(stored["model"])
    return model.to(device).eval()
