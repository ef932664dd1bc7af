"""Speed of VQ-VAE-2 sampling, measured in one run (machines are noisy: read the ratios).

    python benchmarks/sampling.py [--models models/vqvae2.pt models/prior_top.pt models/prior_bottom.pt]

Needs the trained models of `dvc repro`. Prints:
- seconds to draw and decode 10,000 label-conditional samples (1,000 per label), and that time as a
  share of the 60-second target;
- how many times faster the cached sampler is than re-running the whole PixelCNN per code.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from latentlab.checkpoint import load_checkpoint
from latentlab.cli import run
from latentlab.config import load_config
from latentlab.evaluate.sampling import labels_per_class, sample_images
from latentlab.models.pixelcnn import PixelCNN
from latentlab.runtime import setup

TARGET_SECONDS = 60.0  # issue 4: 10,000 conditional samples drawn and decoded
NAIVE_BATCH = 200  # the naive sampler is slow: compare on a smaller batch


@torch.no_grad()
def naive_sample(prior: PixelCNN, labels: torch.Tensor, condition: torch.Tensor | None,
                 generator: torch.Generator) -> torch.Tensor:
    """The definition: the whole network once per position."""
    height, width = prior.grid
    codes = torch.zeros(len(labels), height, width, dtype=torch.long, device=labels.device)
    for i in range(height):
        for j in range(width):
            probs = torch.softmax(prior(codes, labels, condition)[:, :, i, j], dim=1)
            codes[:, i, j] = torch.multinomial(probs, 1, generator=generator)[:, 0]
    return codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, nargs=3,
                        default=[Path("models/vqvae2.pt"), Path("models/prior_top.pt"), Path("models/prior_bottom.pt")])
    args = parser.parse_args()
    cfg = load_config()
    device = setup(cfg.base)
    vqvae2, top, bottom = (load_checkpoint(path, device) for path in args.models)
    labels = labels_per_class(1000, 10).to(device)
    started = time.perf_counter()
    images = sample_images(vqvae2, top, bottom, labels, temperature=cfg.sample.temperature,
                           batch_size=cfg.sample.batch_size, generator=torch.Generator(device).manual_seed(0))
    seconds = time.perf_counter() - started
    print(f"{len(images)} conditional samples drawn and decoded in {seconds:.1f} s on {device} "
          f"({torch.get_num_threads()} threads) = {seconds / TARGET_SECONDS:.2f} of the {TARGET_SECONDS:.0f} s target")

    few = labels[:: len(labels) // NAIVE_BATCH][:NAIVE_BATCH]
    timings = {}
    for name, draw in (("cached", lambda p, c, g: p.sample(few, c, generator=g)),
                       ("naive", lambda p, c, g: naive_sample(p, few, c, g))):
        generator = torch.Generator(device).manual_seed(0)
        started = time.perf_counter()
        top_codes = draw(top, None, generator)
        draw(bottom, top_codes, generator)
        timings[name] = time.perf_counter() - started
    print(f"both priors on {NAIVE_BATCH} samples: cached {timings['cached']:.2f} s, "
          f"naive {timings['naive']:.2f} s: {timings['naive'] / timings['cached']:.1f}x faster")


if __name__ == "__main__":
    run(main)
