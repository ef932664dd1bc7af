"""The one training loop: every model of the study is trained by `fit`.

A model only has to name its loss terms (`losses(batch)`); `fit` minimizes their sum with
AdamW on a one-cycle schedule, scores the test split after every epoch, logs, and keeps a
resume state so that an interrupted run continues where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from latentlab.checkpoint import save_checkpoint
from latentlab.config import TrainConfig
from latentlab.data import Batched
from latentlab.io import load_tensors, save_tensors
from latentlab.models import Trainable, build_model
from latentlab.progress import TrainingProgress
from latentlab.schema import to_plain
from latentlab.tracking import LiveLogger

RESUME_DIR = Path(".resume")  # unfinished runs' states; git- and DVC-ignored
EVAL_BATCH_SIZE = 500  # no gradients are kept: larger batches are faster and still small
Metrics = dict[str, float]


class ResumeFile:
    """The state of an unfinished run, saved after each epoch and removed when the run ends.

    It is used only by the very same run: same `fingerprint` (model, budget, data) and same
    latentlab source code. Anything else starts afresh.
    """

    def __init__(self, path: str | Path, fingerprint: dict[str, Any]):
        self.path = Path(path)
        identity = json.dumps({"run": fingerprint, "code": source_digest()}, sort_keys=True)
        self.key = hashlib.sha256(identity.encode()).hexdigest()

    def load(self) -> dict[str, Any] | None:
        if not self.path.is_file():
            return None
        state = load_tensors(self.path)
        return state if state.get("key") == self.key else None

    def save(self, state: dict[str, Any]) -> None:
        save_tensors(self.path, {"key": self.key, **state})

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def source_digest() -> str:
    """sha256 of latentlab's Python sources: a resume state is only valid for the code that wrote it."""
    package = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


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


def fit(model: Trainable, train: Batched, test: Batched, cfg: TrainConfig, *, device: torch.device, title: str,
        log: Callable[[Metrics], None] | None = None, resume: ResumeFile | None = None) -> list[Metrics]:
    """Train on the sum of `model.losses`; return one dict of train/test metrics per epoch."""
    model.to(device)
    log = log or (lambda metrics: None)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    batches = train.num_batches(cfg.batch_size)
    # Warm up, then anneal: converges well within the few epochs a laptop CPU affords.
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * batches)
    shuffle = torch.Generator().manual_seed(torch.initial_seed())  # follows the seed the stage set once
    history: list[Metrics] = []
    state = resume.load() if resume else None
    if state:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        shuffle.set_state(state["shuffle"])
        torch.set_rng_state(state["rng"])
        history = state["history"]
    for metrics in history:  # a fresh logger gets the epochs done before the interruption
        log(metrics)
    with TrainingProgress(title, cfg.epochs, batches, done_epochs=len(history)) as progress:
        for _ in range(len(history), cfg.epochs):
            started = time.perf_counter()
            train_means = _train_epoch(model, train, optimizer, schedule, cfg.batch_size, shuffle, device, progress)
            test_means = evaluate(model, test, device)
            history.append({**_prefixed("train", train_means), **_prefixed("test", test_means),
                            "epoch_seconds": time.perf_counter() - started})
            if resume:
                resume.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                             "schedule": schedule.state_dict(), "shuffle": shuffle.get_state(),
                             "rng": torch.get_rng_state(), "history": history})
            log(history[-1])
            progress.epoch(history[-1])
    if resume:
        resume.clear()
    return history


def _train_epoch(model: Trainable, data: Batched, optimizer: torch.optim.Optimizer,
                 schedule: torch.optim.lr_scheduler.LRScheduler, batch_size: int, shuffle: torch.Generator,
                 device: torch.device, progress: TrainingProgress) -> Metrics:
    model.train()
    means = RunningMeans()
    for batch in data.batches(batch_size, shuffle=True, generator=shuffle, device=device):
        terms = model.losses(batch)
        loss = sum(terms.values())
        if not torch.isfinite(loss):
            shown = {name: float(value.detach()) for name, value in terms.items()}
            raise FloatingPointError(f"the loss became {float(loss.detach())} ({shown}); lower the learning rate (lr)")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        means.add({"loss": loss, **terms}, weight=len(batch[0]))
        progress.batch(float(loss.detach()))
    return means.means()


@torch.no_grad()
def evaluate(model: Trainable, data: Batched, device: torch.device) -> Metrics:
    """Means over `data` of the loss terms, their sum ("loss") and the model's measures."""
    model.eval()
    means = RunningMeans()
    for batch in data.batches(EVAL_BATCH_SIZE, device=device):
        terms = model.losses(batch)
        means.add({"loss": sum(terms.values()), **terms, **model.measures(batch)}, weight=len(batch[0]))
    return means.means()


def _prefixed(split: str, metrics: Metrics) -> Metrics:
    return {f"{split}/{name}": value for name, value in metrics.items()}


def train_and_save(name: str, config: dict[str, Any], train: Batched, test: Batched, cfg: TrainConfig, *,
                   device: torch.device, log_dir: Path, checkpoint: Path) -> tuple[Trainable, list[Metrics]]:
    """Build model `name` from `config`, fit it (logged, resumable) and save its checkpoint."""
    model = build_model(name, config)
    fingerprint = {"name": name, "config": config, "train": to_plain(cfg), "seed": torch.initial_seed(),
                   "data": [len(train), len(test)], "checkpoint": str(checkpoint)}
    resume = ResumeFile(RESUME_DIR / f"{checkpoint.stem}.pt", fingerprint)
    logger = LiveLogger(log_dir)
    history = fit(model, train, test, cfg, device=device, title=checkpoint.stem, log=logger, resume=resume)
    logger.close()
    save_checkpoint(checkpoint, name, config, model)
    return model, history


def summarize(history: list[Metrics]) -> dict[str, Any]:
    """Final and best losses per split, and the mean epoch time, from `fit`'s history."""
    summary: dict[str, Any] = {"epochs": len(history),
                               "epoch_seconds": sum(h["epoch_seconds"] for h in history) / len(history)}
    for split in ("train", "test"):
        losses = [h[f"{split}/loss"] for h in history]
        best = min(range(len(losses)), key=losses.__getitem__)
        summary[split] = {"loss": losses[-1], "best_loss": losses[best], "best_epoch": best + 1}
    return summary
