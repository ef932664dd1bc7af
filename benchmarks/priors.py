"""Training speed of the PixelCNN priors, measured in one run (machines are noisy: read the ratios).

    python benchmarks/priors.py [--codes data/codes.pt] [--rounds 5] [--batch-sizes 128 512 2048]

Prints, for each prior, the seconds of its stage's training (epochs x (train steps + test pass))
with the settings before the speed-up (float32 and OLD below) and with params.yaml's, timed in
alternation (old, new, old, new, ...) and compared as the median of the per-round ratios. With
--batch-sizes, also the code maps per second of one training step of params.yaml's model at each
batch size (a dispatch-bound model gets faster per map as the batch grows; a compute-bound one not).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from latentlab.cli import run
from latentlab.codes import CodeSplit, load_codes
from latentlab.config import (
    BottomPriorConfig,
    ConditionedPixelCNNModelConfig,
    PixelCNNModelConfig,
    TopPriorConfig,
    TrainConfig,
    load_config,
)
from latentlab.inference import BATCH_SIZE as EVAL_BATCH_SIZE
from latentlab.models.pixelcnn import ConditionCodes, PixelCNN
from latentlab.runtime import setup

# The defaults before the speed-up (commit 8054ffc): float32 training and these budgets.
OLD = {
    "prior_top": TopPriorConfig(PixelCNNModelConfig(channels=64, layers=4, kernel_size=3),
                                TrainConfig(epochs=4, batch_size=128, lr=3.0e-3, weight_decay=0.0)),
    "prior_bottom": BottomPriorConfig(
        ConditionedPixelCNNModelConfig(channels=48, layers=7, kernel_size=3, condition_blocks=2),
        TrainConfig(epochs=3, batch_size=128, lr=3.0e-3, weight_decay=0.0)),
}
TIMED_MAPS = 4096  # code maps trained on per round and setting: a few seconds, long enough to time
LEVELS = {"prior_top": "top", "prior_bottom": "bottom"}


@dataclass
class Setting:
    """One prior as its stage would train it: the model, its training precision and its budget."""

    model: PixelCNN
    train: TrainConfig
    batch: tuple[torch.Tensor, ...]
    test_batch: tuple[torch.Tensor, ...]
    optimizer: torch.optim.Optimizer


def build(prior: TopPriorConfig | BottomPriorConfig, level: str, codes: dict[str, CodeSplit], facts: dict,
          float32: bool) -> Setting:
    train, test = codes["train"], codes["test"]
    condition = None if level == "top" else ConditionCodes(
        tuple(train.top.shape[1:]), facts["codebook_sizes"]["top"], prior.model.condition_blocks)
    model = PixelCNN(tuple(getattr(train, level).shape[1:]), facts["codebook_sizes"][level], facts["num_classes"],
                     prior.model, condition)
    model.bf16_training = model.bf16_training and not float32
    batch = next(train.for_prior(level).batches(prior.train.batch_size, shuffle=True))
    test_batch = next(test.for_prior(level).batches(EVAL_BATCH_SIZE))
    return Setting(model, prior.train, batch, test_batch, torch.optim.AdamW(model.parameters(), lr=1e-4))


def step_seconds(s: Setting, steps: int) -> float:
    """Seconds per training step of `s` (forward, backward, AdamW), averaged over `steps`."""
    s.model.train()
    started = time.perf_counter()
    for _ in range(steps):
        loss = s.model.losses(s.batch)["nll"]
        s.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        s.optimizer.step()
    return (time.perf_counter() - started) / steps


@torch.no_grad()
def eval_seconds(s: Setting) -> float:
    """Seconds to score one evaluation batch, as `fit` does after every epoch."""
    s.model.eval()
    started = time.perf_counter()
    s.model.losses(s.test_batch)
    return time.perf_counter() - started


def stage_seconds(s: Setting, train_size: int, test_size: int) -> float:
    """The stage's training time projected from one timed round: epochs x (steps + test batches)."""
    steps = max(2, TIMED_MAPS // s.train.batch_size)
    per_epoch = (math.ceil(train_size / s.train.batch_size) * step_seconds(s, steps)
                 + math.ceil(test_size / EVAL_BATCH_SIZE) * eval_seconds(s))
    return s.train.epochs * per_epoch


def compare(old: Setting, new: Setting, sizes: tuple[int, int], rounds: int) -> tuple[float, float, float]:
    """Median old and new stage seconds and the median of the per-round ratios old / new."""
    for setting in (old, new):  # warm-up: first calls allocate and pick kernels
        step_seconds(setting, 2)
        eval_seconds(setting)
    times = [(stage_seconds(old, *sizes), stage_seconds(new, *sizes)) for _ in range(rounds)]
    return (statistics.median(t[0] for t in times), statistics.median(t[1] for t in times),
            statistics.median(t[0] / t[1] for t in times))


def maps_per_second(s: Setting, batch_size: int, train: CodeSplit, level: str) -> float:
    s.batch = next(train.for_prior(level).batches(batch_size, shuffle=True))
    step_seconds(s, 1)
    return batch_size / step_seconds(s, max(2, TIMED_MAPS // batch_size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codes", type=Path, default=Path("data/codes.pt"), help="file written by extract_codes")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[])
    args = parser.parse_args()
    cfg = load_config()
    setup(cfg.base)
    codes, facts = load_codes(args.codes)
    sizes = (len(codes["train"]), len(codes["test"]))
    print(f"{torch.get_num_threads()} threads, {sizes[0]} training and {sizes[1]} test code maps")
    total = {"old": 0.0, "new": 0.0}
    for name, level in LEVELS.items():
        old = build(OLD[name], level, codes, facts, float32=True)
        new = build(getattr(cfg, name), level, codes, facts, float32=False)
        old_s, new_s, ratio = compare(old, new, sizes, args.rounds)
        total["old"] += old_s
        total["new"] += new_s
        print(f"{name}: training {ratio:.2f}x faster than before (median of {args.rounds} alternating rounds; "
              f"{old_s:.0f} s before, {new_s:.0f} s now in this run)")
        for batch_size in args.batch_sizes:
            print(f"  batch {batch_size:>5}: {maps_per_second(new, batch_size, codes['train'], level):7.0f} code maps/s")
    print(f"both priors: {total['new'] / total['old']:.2f} of the time before")


if __name__ == "__main__":
    run(main)
