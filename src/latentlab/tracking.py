"""Per-epoch metrics through DVCLive, which writes one TSV per metric that `dvc plots` reads.

An epoch's seconds are not a result: they go to `timings.tsv` beside DVCLive's files, which .dvcignore
skips, so a run trained again with the same result leaves DVC's hash of its log unchanged (git keeps
the timings; benchmarks/steps.py reads them).
"""

from __future__ import annotations

from pathlib import Path

TIMINGS = "timings.tsv"  # step, epoch_seconds: one row per epoch
TIMING_KEYS = ("epoch_seconds",)


class LiveLogger:
    """`logger(metrics)` logs one epoch: every value, then one step."""

    def __init__(self, directory: str | Path):
        from dvclive import Live  # imported here: only training stages need it

        # dvc.yaml declares the outputs and plots, and DVC tracks params: DVCLive writes data only.
        self.live = Live(str(directory), dvcyaml=None, save_dvc_exp=False, report=None)
        self.timings = Path(directory) / TIMINGS
        self.timings.write_text("step\t" + "\t".join(TIMING_KEYS) + "\n")

    def __call__(self, metrics: dict[str, float]) -> None:
        for name, value in metrics.items():
            if name not in TIMING_KEYS:
                self.live.log_metric(name, value)
        with self.timings.open("a") as f:
            f.write("\t".join([str(self.live.step), *(f"{metrics.get(key, float('nan')):.4f}" for key in TIMING_KEYS)])
                    + "\n")
        self.live.next_step()

    def close(self) -> None:
        self.live.end()
