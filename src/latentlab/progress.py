"""Training progress: a rich bar (epochs, batches, loss, ETA) on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class TrainingProgress:
    """Context manager fed by `fit`: `batch(loss)` after each step, `epoch(metrics)` after each epoch."""

    def __init__(self, title: str, epochs: int, batches: int, done_epochs: int = 0, live: bool | None = None):
        """live: a bar (None: when stdout is a terminal); False for runs that share a terminal with others."""
        self.title, self.epochs, self.batches = title, epochs, batches
        self.console = Console(file=sys.stdout)
        self.live = self.console.is_terminal if live is None else live
        self.started = time.perf_counter()
        self.done_at_start = done_epochs
        self.done = done_epochs
        if self.live:
            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=self.console,
            )
            self.epoch_task = self.bar.add_task(f"{title} epochs", total=epochs, completed=done_epochs, info="")
            self.batch_task = self.bar.add_task("batches", total=batches, info="")

    def __enter__(self) -> TrainingProgress:
        if self.live:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.live:
            self.bar.stop()

    def batch(self, loss: torch.Tensor) -> None:
        """After each step; reads the loss (a device sync) only when a terminal shows it."""
        if self.live:
            self.bar.update(self.batch_task, advance=1, info=f"loss {float(loss):.4g}")

    def epoch(self, metrics: dict[str, float]) -> None:
        self.done += 1
        shown = "  ".join(f"{k} {v:.4g}" for k, v in metrics.items() if k.endswith("loss") or k.startswith("test/"))
        if self.live:
            self.bar.update(self.epoch_task, completed=self.done, info=shown)
            self.bar.reset(self.batch_task)
            return
        elapsed = time.perf_counter() - self.started
        remaining = elapsed / (self.done - self.done_at_start) * (self.epochs - self.done)
        print(f"{self.title} epoch {self.done}/{self.epochs}  {shown}  eta {remaining:.0f}s", flush=True)
