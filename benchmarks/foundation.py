"""Speed of the foundation on this machine, measured in one run (machines are noisy: read the ratios).

    python benchmarks/foundation.py [--data data/prepared]

Prints, for the default params:
- batches from in-memory uint8 tensors versus torchvision's per-image dataset (PIL) path;
- seconds per training epoch of each sweep model and of the classifier;
- the projected time of data + classifier + the whole train matrix, as a share of the 12-minute budget.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import torch

from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import Split, load_info, load_split
from latentlab.models import build_model, sweep_model_config
from latentlab.runtime import setup
from latentlab.schema import to_plain

BUDGET_SECONDS = 12 * 60  # issue 3: data + classifier + 15 runs + summaries on 2 cores
MEASURED_BATCHES = 40


def seconds_per_epoch(model: torch.nn.Module, data: Split, batch_size: int, device: torch.device) -> float:
    """Time MEASURED_BATCHES training steps (after 3 warm-up steps) and scale to one epoch."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.to(device).train()
    batches = itertools.chain.from_iterable(  # as many epochs as the measurement needs (small data sets)
        data.batches(batch_size, shuffle=True, device=device) for _ in itertools.count())
    for step, batch in enumerate(batches):
        if step == 3:
            started = time.perf_counter()
        if step == 3 + MEASURED_BATCHES:
            break
        loss = sum(model.losses(batch).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - started) / MEASURED_BATCHES * data.num_batches(batch_size)


def batching_ratio(data: Split, batch_size: int) -> float:
    """How many times faster the in-memory uint8 batches are than a per-image PIL pipeline."""
    from PIL import Image
    from torchvision.transforms.functional import to_tensor

    n = min(50 * batch_size, len(data.images))
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
    args = parser.parse_args()
    cfg = load_config()
    device = setup(cfg.base)
    train = load_split(args.data, "train")
    print(f"device {device}, {torch.get_num_threads()} threads, {len(train)} training images")
    print(f"in-memory uint8 batches are {batching_ratio(train, cfg.train.batch_size):.0f}x faster than per-image PIL")

    per_run = {}
    for name in cfg.sweep.models:
        for latent in (min(cfg.sweep.latents), max(cfg.sweep.latents)):
            model = build_model(name, sweep_model_config(name, train.image_shape, latent, cfg))
            per_run[name, latent] = seconds_per_epoch(model, train, cfg.train.batch_size, device)
            print(f"{name:>6} latent {latent:>3}: {per_run[name, latent]:6.1f} s per epoch")
    classifier = build_model("classifier", {"image_shape": list(train.image_shape),
                                            "num_classes": len(load_info(args.data)["classes"]),
                                            "model": to_plain(cfg.classifier.model)})
    classifier_epoch = seconds_per_epoch(classifier, train, cfg.classifier.train.batch_size, device)
    print(f"classifier: {classifier_epoch:6.1f} s per epoch")

    mean_epoch = sum(per_run.values()) / len(per_run)
    runs = len(cfg.sweep.models) * len(cfg.sweep.latents)
    projected = runs * cfg.train.epochs * mean_epoch + cfg.classifier.train.epochs * classifier_epoch
    print(f"projected training time {projected:.0f} s (without evaluation and process start-up) = "
          f"{projected / BUDGET_SECONDS:.2f} of the {BUDGET_SECONDS // 60}-minute budget")


if __name__ == "__main__":
    run(main)
