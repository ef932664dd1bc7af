"""The one training loop: every model of the study is trained by `fit`.

A model only has to name its loss terms (`losses(batch)`); `fit` minimizes their sum with
AdamW on a one-cycle schedule, scores the held-out splits after every epoch (or, for a split whose
curve nobody reads, after the last one), logs, and keeps a resume state so that an interrupted run
continues where it stopped. The state outlives the last epoch: it is removed only once the stage's
outputs are in place, so a kill between the last epoch and the checkpoint retrains nothing.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from latentlab.checkpoint import save_checkpoint
from latentlab.config import TrainConfig
from latentlab.data import Batched
from latentlab.errors import LatentlabError
from latentlab.inference import BATCH_SIZE
from latentlab.io import after_commit, atomic_folder
from latentlab.models import Trainable, build_model
from latentlab.progress import TrainingProgress
from latentlab.resume import RESUME_DIR, ResumeFile, code_digest, file_digest
from latentlab.tracking import LiveLogger

Metrics = dict[str, float]


class DivergenceError(LatentlabError):
    """The loss became NaN or infinite; the message names the learning rate to lower."""


class RunningMeans:
    """Weighted means of named scalar tensors, summed without a device sync per batch."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.weight = 0

    def add(self, values: dict[str, torch.Tensor], weight: int) -> None:
        for name, value in values.items():
            self.sums[name] = self.sums.get(name, 0) + value.detach() * weight
        self.weight += weight

    def means(self) -> Metrics:
        return {name: float(total) / self.weight for name, total in self.sums.items()}


def fit(model: Trainable, train: Batched, scored: dict[str, Batched], cfg: TrainConfig, *, device: torch.device,
        title: str, budget_key: str = "train", log: Callable[[Metrics], None] | None = None,
        resume: ResumeFile | None = None, scored_at_end: dict[str, Batched] | None = None,
        live_progress: bool | None = None) -> list[Metrics]:
    """Train on the sum of `model.losses`; return one dict per epoch: the train means, each scored
    split's means (e.g. "validation/loss", "test/mse") and the epoch's seconds.

    scored_at_end: splits scored after the last epoch only (in its dict): a test split whose per-epoch
    curve no figure shows costs a held-out pass per epoch for nothing.
    budget_key: where `cfg` lives in params.yaml, named when the loss diverges.
    resume: saved after every epoch, last one included; the caller clears it once its outputs are written.
    live_progress: a progress bar (None: on a terminal), else one line per epoch.
    """
    model.to(device)
    log = log or (lambda metrics: None)
    optimizer = adamw(model, cfg)
    batches = train.num_batches(cfg.batch_size)
    # Warm up, then anneal: converges well within the few epochs a laptop CPU affords.
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * batches)
    shuffle = torch.Generator().manual_seed(torch.initial_seed())  # follows the seed the stage set once
    state = resume.load() if resume else None
    history: list[Metrics] = state["history"] if state else []
    if state:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        shuffle.set_state(state["shuffle"])
        _set_rng_states(state["rng"])
    for metrics in history:  # a fresh logger gets the epochs done before the interruption
        log(metrics)
    with TrainingProgress(title, cfg.epochs, batches, done_epochs=len(history), live=live_progress) as progress:
        for epoch in range(len(history) + 1, cfg.epochs + 1):
            started = time.perf_counter()
            means = {"train": _train_epoch(model, train, optimizer, schedule, cfg.batch_size, shuffle, device, progress)}
            splits = scored | (scored_at_end or {}) if epoch == cfg.epochs else scored
            means.update({split: evaluate(model, data, device) for split, data in splits.items()})
            _check_finite(means, f"epoch {epoch} of {title}", f"{budget_key}.lr", cfg.lr)
            history.append({f"{split}/{name}": value for split, values in means.items() for name, value in values.items()}
                           | {"epoch_seconds": time.perf_counter() - started})
            if resume:
                resume.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                             "schedule": schedule.state_dict(), "shuffle": shuffle.get_state(),
                             "rng": _rng_states(device), "history": history})
            log(history[-1])
            progress.epoch(history[-1])
    return history


def adamw(model: Trainable, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with its fused kernel: one pass over all parameters instead of a dozen small ops per
    parameter tensor. The update is the same; on 2 CPU cores a step of the sweep's networks takes
    1-2 ms less (of 16-25 ms), a prior's step 2-4 ms less (benchmarks/steps.py measures with it)."""
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)


def _train_epoch(model: Trainable, data: Batched, optimizer: torch.optim.Optimizer,
                 schedule: torch.optim.lr_scheduler.LRScheduler, batch_size: int, shuffle: torch.Generator,
                 device: torch.device, progress: TrainingProgress) -> Metrics:
    model.train()
    means = RunningMeans()
    for batch in data.batches(batch_size, shuffle=True, generator=shuffle, device=device):
        terms = model.losses(batch)
        loss = sum(terms.values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        means.add({"loss": loss, **terms}, weight=len(batch[0]))
        progress.batch(loss)
    return means.means()


@torch.no_grad()
def evaluate(model: Trainable, data: Batched, device: torch.device) -> Metrics:
    """Means over `data` of the loss terms, their sum ("loss") and the model's measures."""
    model.eval()
    means = RunningMeans()
    for batch in data.batches(BATCH_SIZE, device=device):
        terms, measures = model.held_out_terms(batch)
        means.add({"loss": sum(terms.values()), **terms, **measures}, weight=len(batch[0]))
    return means.means()


def _check_finite(means: dict[str, Metrics], when: str, lr_key: str, lr: float) -> None:
    """Stop with advice once a mean loss is NaN or infinite (checked once per epoch: no sync per batch)."""
    for split, values in means.items():
        if not all(map(_finite, values.values())):
            shown = ", ".join(f"{name} {value:.4g}" for name, value in values.items())
            raise DivergenceError(f"the {split} loss is not finite in {when} ({shown}); "
                                  f"lower {lr_key} (now {lr:g}) and run `dvc repro` again")


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")


def _rng_states(device: torch.device) -> dict[str, Any]:
    states = {"cpu": torch.get_rng_state()}
    if torch.device(device).type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["cpu"])
    if "cuda" in states:
        torch.cuda.set_rng_state_all(states["cuda"])


def train_and_save(name: str, config: dict[str, Any], train: Batched, scored: dict[str, Batched], cfg: TrainConfig, *,
                   device: torch.device, seed: int, budget_key: str, inputs: list[Path], log_dir: Path,
                   checkpoint: Path, scored_at_end: dict[str, Batched] | None = None) -> tuple[Trainable, list[Metrics]]:
    """Build model `name` from `config`, fit it (logged, resumable) and save its checkpoint; the resume
    state is cleared once the stage's outputs are in place.

    inputs: the files the training data came from; their content is part of the resume key.
    """
    model = build_model(name, config)
    identity = {"name": name, "config": config, "train": budget(cfg), "seed": seed, "device": device.type,
                "inputs": file_digest(inputs), "code": code_digest(), "checkpoint": str(checkpoint)}
    resume = ResumeFile(RESUME_DIR / f"{'-'.join(checkpoint.with_suffix('').parts)}.pt", identity)
    history = fit_logged(model, train, scored, cfg, device=device, title=checkpoint.stem, budget_key=budget_key,
                         log_dir=log_dir, resume=resume, scored_at_end=scored_at_end)
    save_checkpoint(checkpoint, name, config, model, seed)
    after_commit(resume.clear)
    return model, history


def fit_logged(model: Trainable, train: Batched, scored: dict[str, Batched], cfg: TrainConfig, *, log_dir: Path,
               **fit_options: Any) -> list[Metrics]:
    """`fit`, each epoch logged through DVCLive to `log_dir`, which holds the whole log or is left as it was."""
    with atomic_folder(log_dir) as staged:
        logger = LiveLogger(staged)
        history = fit(model, train, scored, cfg, log=logger, **fit_options)
        logger.close()
    return history


def budget(cfg: TrainConfig) -> dict[str, Any]:
    """The training budget alone: a sweep budget's picture settings (grid_images) are not part of it."""
    return {field.name: getattr(cfg, field.name) for field in dataclasses.fields(TrainConfig)}


def summarize(history: list[Metrics]) -> dict[str, Any]:
    """The final epoch's means per split, and the epoch whose validation loss was lowest.

    Timings stay in the logs: a metrics file changes only when a result does.
    """
    final = history[-1]
    summary: dict[str, Any] = {"epochs": len(history)}
    if "validation/loss" in final:
        losses = [h["validation/loss"] for h in history]
        summary["best_validation_epoch"] = min(range(len(losses)), key=losses.__getitem__) + 1
    for key, value in final.items():
        if "/" in key:
            split, name = key.split("/", 1)
            summary.setdefault(split, {})[name] = value
    return summary
