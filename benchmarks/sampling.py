"""Speed of VQ-VAE-2 sampling, measured in one run (machines are noisy: read the ratios).

    python benchmarks/sampling.py [--models VQVAE2 TOP BOTTOM] [--data data/prepared] [--per-label 1000]
                                  [--naive-samples 200]

Needs the trained models of `dvc repro`. Prints:
- seconds to draw and decode `--per-label` label-conditional samples of every label (10,000 for
  MNIST by default), and that time projected linearly to 10,000 samples as a share of the 60-second
  target (from a few samples the projection overestimates: a batch costs mostly per code position);
- how many times faster the cached sampler is than re-running the whole PixelCNN per code.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from latentlab.checkpoint import load_model
from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_info
from latentlab.evaluate.sampling import labels_per_class, sample_images
from latentlab.models.pixelcnn import PixelCNN
from latentlab.runtime import setup

TARGET_SECONDS = 60.0  # issue 4: 10,000 conditional samples drawn and decoded
TARGET_SAMPLES = 10_000


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
    parser.add_argument("--models", type=Path, nargs=3, metavar=("VQVAE2", "TOP", "BOTTOM"),
                        default=[Path("models/vqvae2.pt"), Path("models/prior_top.pt"), Path("models/prior_bottom.pt")])
    parser.add_argument("--data", type=Path, default=Path("data/prepared"), help="prepared data (the labels)")
    parser.add_argument("--per-label", type=int, default=1000)
    parser.add_argument("--naive-samples", type=int, default=200, help="the naive sampler is slow: fewer samples")
    args = parser.parse_args()
    cfg = load_config()
    device = setup(cfg.base)
    vqvae2, top, bottom = (load_model(path, device) for path in args.models)
    labels = labels_per_class(args.per_label, len(load_info(args.data)["classes"])).to(device)
    started = time.perf_counter()
    images = sample_images(vqvae2, top, bottom, labels, temperature=cfg.sample.temperature,
                           batch_size=cfg.sample.batch_size, generator=torch.Generator(device).manual_seed(0))
    seconds = time.perf_counter() - started
    projected = seconds * TARGET_SAMPLES / len(images)  # overestimates from few: a batch costs per position
    print(f"{len(images)} conditional samples drawn and decoded in {seconds:.1f} s on {device} "
          f"({torch.get_num_threads()} threads); {TARGET_SAMPLES} in {projected:.1f} s (linear projection) "
          f"= {projected / TARGET_SECONDS:.2f} of the {TARGET_SECONDS:.0f} s target")

    few = labels[:: max(1, len(labels) // args.naive_samples)][: args.naive_samples]
    timings = {}
    for name, draw in (("cached", lambda p, c, g: p.sample(few, c, generator=g)),
                       ("naive", lambda p, c, g: naive_sample(p, few, c, g))):
        generator = torch.Generator(device).manual_seed(0)
        started = time.perf_counter()
        top_codes = draw(top, None, generator)
        draw(bottom, top_codes, generator)
        timings[name] = time.perf_counter() - started
    print(f"both priors on {len(few)} samples: cached {timings['cached']:.2f} s, "
          f"naive {timings['naive']:.2f} s: {timings['naive'] / timings['cached']:.1f}x faster")


if __name__ == "__main__":
    run(main)
