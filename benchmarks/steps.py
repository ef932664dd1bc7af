"""Epoch rate of every training stage of a finished run against the bare step rate of its network.

    python benchmarks/steps.py [--project DIR] [--steps 30] [--stages NAME ...] [--json OUT]

A training stage is one whose log folder (`--log` in its command, from dvc.lock) holds the logged epoch
seconds (timings.tsv; plots/metrics/epoch_seconds.tsv in older versions), or a stage of many runs (`--out
CHECKPOINTS METRICS LOGS`: the sweep, the seed replicates), one log folder per run. A run's "epoch s" is
its median logged epoch (training, scoring the held-out splits, logging, the resume state); its "bare
epoch s" is the median of `--steps` AdamW steps of `sum(model.losses(batch).values())` (after warm-up)
of its network, rebuilt from its checkpoint, on its own training data, batch size and lr, times the
epoch's batches: on one thread for the runs of a pool (which train one thread each, as many at once as
there are cores: their ratio also holds what two runs side by side cost each other), on the stages'
threads otherwise. A stage of many runs shows the medians over its runs. Run with the project's library
first on PYTHONPATH, so the numbers are those of the code that ran the stages (pipeline.py does this).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import shlex
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
import yaml

from latentlab.checkpoint import load_checkpoint
from latentlab.codes import load_codes
from latentlab.config import load_config
from latentlab.data import Batched, load_split
from latentlab.runtime import setup

TRAINED_BY = {  # stage name before "@": (params group of its training budget, its training data)
    "classifier": ("classifier.train", "images"),
    "train": ("train", "images"),  # the latent sweep: a matrix stage before the pool of runs
    "replicate": ("train", "images"),
    "sweep": ("train", "images"),
    "replicates": ("train", "images"),
    "codebooks": ("train", "images"),  # the sweep's budget, at other codebook sizes
    "vae_nll": ("train", "images"),  # the sweep's budget, on binarized images
    "vqvae2": ("vqvae2.train", "images"),
    "prior_top": ("prior_top.train", "top"),
    "prior_bottom": ("prior_bottom.train", "bottom"),
}
try:
    from latentlab.train import adamw as _optimizer  # the optimizer `fit` builds
except ImportError:  # a library from before `adamw` (the baseline): its `fit` built plain AdamW
    def _optimizer(model: torch.nn.Module, budget) -> torch.optim.Optimizer:
        return torch.optim.AdamW(model.parameters(), lr=budget.lr, weight_decay=budget.weight_decay)

WARMUP_STEPS = 3
EPOCH_LOGS = (Path("timings.tsv"), Path("plots/metrics/epoch_seconds.tsv"))  # this version's, older ones'


@dataclass(frozen=True)
class Trained:
    """One training run of a stage: its checkpoint, its log folder, the options of the stage's command."""

    stage: str
    checkpoint: Path
    log: Path
    options: dict[str, str]
    pooled: bool  # one of many runs trained side by side, one thread each


def training_runs(project: Path, names: list[str] | None = None) -> list[Trained]:
    """Every training run of the stages (of `names`, default all) in dvc.lock's order that logged its epochs."""
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    runs = []
    for name, stage in lock.items():
        if names is not None and name not in names:  # e.g. a committed lock's stages that did not run
            continue
        values = command_options(stage["cmd"])
        options = {option: words[0] for option, words in values.items() if words}
        if "--log" in options and epoch_log(project / options["--log"]):
            runs.append(Trained(name, project / options["--checkpoint"], project / options["--log"], options, False))
        elif len(values.get("--out", [])) == 3:  # CHECKPOINTS METRICS LOGS of a pool of runs
            checkpoints, _, logs = values["--out"]
            runs += [Trained(name, project / checkpoints / f"{log.name}.pt", log, options, True)
                     for log in sorted((project / logs).iterdir()) if epoch_log(log)]
    return runs


def command_options(command: str) -> dict[str, list[str]]:
    """{"--option": the words after it, up to the next option} of a stage's command."""
    options: dict[str, list[str]] = {}
    current = None
    for word in shlex.split(command):
        if word.startswith("--"):
            current = options.setdefault(word, [])
        elif current is not None:
            current.append(word)
    return options


def epoch_log(folder: Path) -> Path | None:
    """The file of logged epoch seconds in a training log folder, if it has one."""
    return next((folder / name for name in EPOCH_LOGS if (folder / name).is_file()), None)


def training_data(project: Path, options: dict[str, str], kind: str) -> Batched:
    """The stage's training split: prepared images, or one level of the VQ-VAE-2 codes for a prior."""
    if kind == "images":
        return load_split(project / options["--data"], "train")
    splits, _ = load_codes(project / options["--codes"])
    return splits["train"].for_prior(kind)


def bare_epoch_seconds(model: torch.nn.Module, data: Batched, budget, steps: int, device: torch.device) -> float:
    """Seconds of one epoch of bare training steps: the median of `steps` steps timed after WARMUP_STEPS
    (robust to a busy neighbour), times the epoch's batches. Batches are drawn before the clock starts:
    only the network and the optimizer count. budget: a TrainConfig (batch_size, lr, weight_decay)."""
    model.to(device).train()
    optimizer = _optimizer(model, budget)
    epochs = (data.batches(budget.batch_size, shuffle=True, device=device) for _ in itertools.count())
    batches = list(itertools.islice(itertools.chain.from_iterable(epochs), WARMUP_STEPS + steps))
    seconds = []
    for batch in batches:
        started = time.perf_counter()
        loss = sum(model.losses(batch).values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds[WARMUP_STEPS:]) * data.num_batches(budget.batch_size)


def step_rates(project: Path, steps: int, names: list[str] | None = None) -> pd.DataFrame:
    """One row per training stage: epoch_s (median logged), bare_epoch_s, ratio = epoch_s / bare_epoch_s
    (for a stage of many runs: the medians over its runs)."""
    cfg = load_config(project / "params.yaml")
    device = setup(cfg.base)  # the threads and device the stages use
    threads = torch.get_num_threads()
    rows = []
    for run in training_runs(project, names):
        group, kind = TRAINED_BY[run.stage.split("@")[0]]
        budget = functools.reduce(getattr, group.split("."), cfg)
        checkpoint = load_checkpoint(run.checkpoint)
        model = getattr(checkpoint, "model", checkpoint)  # latentlab before d2a6bd5 returns the bare model
        epochs = pd.read_csv(epoch_log(run.log), sep="\t")["epoch_seconds"]
        torch.set_num_threads(1 if run.pooled and device.type == "cpu" else threads)
        bare = bare_epoch_seconds(model, training_data(project, run.options, kind), budget, steps, device)
        rows.append({"stage": run.stage, "epoch_s": epochs.median(), "bare_epoch_s": bare,
                     "ratio": epochs.median() / bare})
    torch.set_num_threads(threads)
    table = pd.DataFrame(rows, columns=["stage", "epoch_s", "bare_epoch_s", "ratio"])
    return table.groupby("stage", sort=False, as_index=False).median()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, default=Path("."), help="a project folder after `dvc repro`")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per network")
    parser.add_argument("--stages", nargs="*", help="only these stages (default: every training stage in dvc.lock)")
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    table = step_rates(args.project.resolve(), args.steps, args.stages)
    print(table.to_string(index=False, float_format="{:.3g}".format))
    if args.json:
        args.json.write_text(json.dumps(table.to_dict(orient="records"), indent=1))


if __name__ == "__main__":
    main()
