"""Epoch rate of every training stage of a finished run against the bare step rate of its network.

    python benchmarks/steps.py [--project DIR] [--steps 30] [--stages NAME ...] [--json OUT]

A training stage is one whose DVCLive folder (`--log` in its command, from dvc.lock) holds
plots/metrics/epoch_seconds.tsv. Its "epoch s" is the median logged epoch (training, scoring the
held-out splits, logging, the resume state); its "bare epoch s" is the median of `--steps` AdamW
steps of `sum(model.losses(batch).values())` (after warm-up) of its network, rebuilt from its
checkpoint, on its own training data, batch size and lr, times the epoch's batches. Run with the
project's library first on PYTHONPATH, so the numbers are those of the code that ran the stages
(pipeline.py does this).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import shlex
import statistics
import time
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
    "train": ("train", "images"),
    "replicate": ("train", "images"),
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
EPOCH_LOG = Path("plots/metrics/epoch_seconds.tsv")


def training_stages(project: Path, names: list[str] | None = None) -> dict[str, dict[str, str]]:
    """Stage name -> the options of its command (`--log`, `--checkpoint`, `--data` or `--codes`), in dvc.lock's
    order, for every stage (of `names`, default all) whose log folder has logged epoch seconds."""
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    stages = {}
    for name, stage in lock.items():
        if names is not None and name not in names:  # e.g. a committed lock's stages that did not run
            continue
        words = shlex.split(stage["cmd"])
        options = {word: value for word, value in itertools.pairwise(words) if word.startswith("--")}
        if "--log" in options and (project / options["--log"] / EPOCH_LOG).is_file():
            stages[name] = options
    return stages


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
    """One row per training stage: epoch_s (median logged), bare_epoch_s, ratio = epoch_s / bare_epoch_s."""
    cfg = load_config(project / "params.yaml")
    device = setup(cfg.base)  # the threads and device the stages use
    rows = []
    for name, options in training_stages(project, names).items():
        group, kind = TRAINED_BY[name.split("@")[0]]
        budget = functools.reduce(getattr, group.split("."), cfg)
        checkpoint = load_checkpoint(project / options["--checkpoint"])
        model = getattr(checkpoint, "model", checkpoint)  # latentlab before d2a6bd5 returns the bare model
        epochs = pd.read_csv(project / options["--log"] / EPOCH_LOG, sep="\t")["epoch_seconds"]
        bare = bare_epoch_seconds(model, training_data(project, options, kind), budget, steps, device)
        rows.append({"stage": name, "epoch_s": epochs.median(), "bare_epoch_s": bare})
    table = pd.DataFrame(rows, columns=["stage", "epoch_s", "bare_epoch_s"])
    return table.assign(ratio=table.epoch_s / table.bare_epoch_s)


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
