"""Checkpoints: weights saved with the name and config that build the model again, and the seed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from latentlab.errors import CheckpointError, ConfigError, InputError
from latentlab.io import load_tensors, save_tensors
from latentlab.models import Trainable, build_model


@dataclass(frozen=True)
class Checkpoint:
    """A trained model with what identifies its training: model name, its config, the seed."""

    name: str
    config: dict[str, Any]
    seed: int
    model: Trainable


def save_checkpoint(path: str | Path, name: str, config: dict[str, Any], model: Trainable, seed: int,
                    run_key: str | None = None) -> None:
    """run_key: the key of the training run (`latentlab.runs`), by which a later stage may reuse it."""
    key = {} if run_key is None else {"run_key": run_key}
    save_tensors(path, {"name": name, "config": config, "seed": seed, "model": model.state_dict(), **key})


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> Checkpoint:
    """The checkpoint at `path`, its model rebuilt from the stored name and config, in eval mode on `device`."""
    stored = load_tensors(path, device)
    try:
        model = build_model(stored["name"], stored["config"])
        model.load_state_dict(stored["model"])
        seed = stored["seed"]  # checkpoints of the previous format have none
    except (InputError, TypeError, AttributeError, ValueError, ConfigError, RuntimeError) as error:
        raise CheckpointError(f"{path}: written by another version of latentlab ({str(error).splitlines()[0][:160]}); "
                              "retrain it with `dvc repro --force` on the stage that writes it") from error
    return Checkpoint(stored["name"], stored["config"], seed, model.to(device).eval())


def load_model(path: str | Path, device: torch.device | str = "cpu") -> Trainable:
    """Just the model of the checkpoint at `path` (eval mode, on `device`)."""
    return load_checkpoint(path, device).model
