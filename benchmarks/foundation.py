"""Speed of the foundation on this machine, measured in one run (machines are noisy: read the ratios).

    python benchmarks/foundation.py [--data data/prepared] [--steps 30]

Needs data/prepared (the `data` stage). Prints, for the params in ./params.yaml:
- batches from in-memory uint8 tensors versus torchvision's per-image dataset (PIL) path;
- seconds per epoch of bare training steps (benchmarks/steps.py) of each sweep model at the
  smallest and largest latent size, and of the classifier;
- the projected training time of the classifier and the latent sweep as a share of the 12-minute
  budget (issue 3: data + classifier + the sweep + summaries on 2 cores), and the time the seed
  replicates add, which came after that budget.
For every stage's real time, and the epochs it logged against these bare steps, run pipeline.py.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import Split, load_info, load_split
from latentlab.models import build_model, sweep_model_config
from latentlab.runtime import setup
from latentlab.schema import to_plain
from steps import bare_epoch_seconds

BUDGET_SECONDS = 12 * 60  # issue 3: data + classifier + 15 runs + summaries on 2 cores


def batching_ratio(data: Split, batch_size: int) -> float:
    """How many times faster the in-memory uint8 batches are than a per-image PIL pipeline."""
    from PIL import Image
    from torchvision.transforms.functional import to_tensor

    n = min(50 * batch_size, len(data.images))
    for _ in data.head(batch_size).batches(batch_size, shuffle=True):  # warm-up: first calls allocate
        pass
    started = time.perf_counter()
    for _ in data.head(n).batches(batch_size, shuffle=True):
        pass
    ours = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(n):  # what torchvision's MNIST.__getitem__ does for every image
        to_tensor(Image.fromarray(data.images[i, 0].numpy(), mode="L"))
    theirs = time.perf_counter() - started
    return theirs / ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/prepared"))
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per network")
    args = parser.parse_args()
    cfg = load_config()
    device = setup(cfg.base)
    train = load_split(args.data, "train")
    print(f"device {device}, {torch.get_num_threads()} threads, {len(train)} training images")
    print(f"in-memory uint8 batches are {batching_ratio(train, cfg.train.batch_size):.1f}x faster than per-image PIL")

    per_run = []
    for name in cfg.sweep.models:
        for latent in (min(cfg.sweep.latents), max(cfg.sweep.latents)):
            model = build_model(name, sweep_model_config(name, train.image_shape, latent, cfg))
            per_run.append(bare_epoch_seconds(model, train, cfg.train, args.steps, device))
            print(f"{name:>6} latent {latent:>3}: {per_run[-1]:6.2f} s per epoch")
    classifier = build_model("classifier", {"image_shape": list(train.image_shape),
                                            "num_classes": len(load_info(args.data)["classes"]),
                                            "model": to_plain(cfg.classifier.model)})
    classifier_epoch = bare_epoch_seconds(classifier, train, cfg.classifier.train, args.steps, device)
    print(f"classifier: {classifier_epoch:6.2f} s per epoch")

    run_seconds = cfg.train.epochs * statistics.mean(per_run)
    sweep = len(cfg.sweep.models) * len(cfg.sweep.latents) * run_seconds
    projected = sweep + cfg.classifier.train.epochs * classifier_epoch
    replicates = len(cfg.sweep.models) * len(cfg.sweep.seeds)
    print(f"projected training time of the classifier and the sweep {projected:.0f} s (bare steps: without "
          f"evaluation and process start-up) = {projected / BUDGET_SECONDS:.2f} of the "
          f"{BUDGET_SECONDS // 60}-minute budget")
    print(f"the {replicates} seed replicates add {replicates * run_seconds:.0f} s "
          f"= {replicates * run_seconds / sweep:.2f} of the sweep's time")


if __name__ == "__main__":
    run(main)
