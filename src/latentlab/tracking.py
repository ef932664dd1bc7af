"""Per-epoch metrics through DVCLive, which writes one TSV per metric that `dvc plots` reads."""

from __future__ import annotations

from pathlib import Path


class LiveLogger:
    """`logger(metrics)` logs one epoch: every value, then one step."""

    def __init__(self, directory: str | Path):
        from dvclive import Live  # imported here: only training stages need it

        # dvc.yaml declares the outputs and plots, and DVC tracks params: DVCLive writes data only.
        self.live = Live(str(directory), dvcyaml=None, save_dvc_exp=False, report=None)

    def __call__(self, metrics: dict[str, float]) -> None:
        for name, value in metrics.items():
            self.live.log_metric(name, value)
        self.live.next_step()

    def close(self) -> None:
        self.live.end()

