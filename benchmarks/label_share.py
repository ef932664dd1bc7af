"""Where conditional VQ-VAE-2 samples lose their label: in the VQ-VAE-2, the bottom prior or the top prior.

    python benchmarks/label_share.py [--models VQVAE2 TOP BOTTOM CLASSIFIER] [--codes data/codes.pt]
                                     [--images 3000] [--temperatures 1.0 0.7] [--json OUT]

Needs the trained models and codes of `dvc repro`. The judge (the classifier, as in the `sample`
stage) labels images decoded from three sources of codes, all for the labels of the first
`--images` test images, so the rows differ only in where the codes come from:

- `test codes`: the test images' own codes. What the VQ-VAE-2 keeps of the label: priors that
  matched the codes' distribution exactly would, at temperature 1, be judged the same on average.
- `test top, sampled bottom`: the bottom prior draws the bottom codes given the test images' top
  codes and labels. Its loss against the row above is the bottom prior's.
- `sampled top and bottom`: both priors draw, as the `sample` stage does. Its loss against the
  row above is the top prior's.

Each share carries a bootstrap interval over the images. A quality diagnostic, not a speed one:
it reads no clock, so it may run on a busy machine.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import torch

from latentlab.checkpoint import load_model
from latentlab.cli import run
from latentlab.codes import decode, load_codes
from latentlab.config import load_config
from latentlab.evaluate.classifier_score import hits, predict, to_uint8
from latentlab.evaluate.sampling import sample_images
from latentlab.runtime import setup
from latentlab.stats import bootstrap


@torch.no_grad()
def judged(models: dict, top: torch.Tensor, bottom: torch.Tensor, labels: torch.Tensor, batch_size: int,
           device: torch.device) -> torch.Tensor:
    """1.0 per image whose decoded codes the judge assigns to its label, else 0.0 (N,).
    models: vqvae2, top, bottom, classifier."""
    images = torch.cat([to_uint8(decode(models["vqvae2"], t, b))
                        for t, b in zip(top.split(batch_size), bottom.split(batch_size), strict=True)])
    return hits(predict(models["classifier"], images, device), labels)


@torch.no_grad()
def drawn_shares(models: dict, top: torch.Tensor, labels: torch.Tensor, temperature: float, batch_size: int,
                 device: torch.device, seed: int = 0) -> dict[str, torch.Tensor]:
    """Per-image hits (N,) of the two rows that draw codes, `batch_size` at a time; both levels are
    drawn by the `sample` stage's own sampler."""
    generator = torch.Generator(device).manual_seed(seed)
    bottom = torch.cat([models["bottom"].sample(y, condition_codes=t, temperature=temperature, generator=generator)
                        for y, t in zip(labels.split(batch_size), top.split(batch_size), strict=True)])
    both = sample_images(models["vqvae2"], models["top"], models["bottom"], labels, temperature=temperature,
                         batch_size=batch_size, generator=generator)
    return {"test top, sampled bottom": judged(models, top, bottom, labels, batch_size, device),
            "sampled top and bottom": hits(predict(models["classifier"], both, device), labels)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, nargs=4, metavar=("VQVAE2", "TOP", "BOTTOM", "CLASSIFIER"),
                        default=[Path("models/vqvae2.pt"), Path("models/prior_top.pt"), Path("models/prior_bottom.pt"),
                                 Path("models/classifier.pt")])
    parser.add_argument("--codes", type=Path, default=Path("data/codes.pt"), help="file written by extract_codes")
    parser.add_argument("--images", type=int, default=3000, help="first N test images (their codes and labels)")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 0.7])
    parser.add_argument("--json", type=Path, help="also write the shares here")
    args = parser.parse_args()
    if args.images < 1 or any(t <= 0 for t in args.temperatures):
        parser.error("--images must be at least 1 and every temperature above 0")
    cfg = load_config()
    device = setup(cfg.base)
    test = load_codes(args.codes)[0]["test"]
    if args.images > len(test):
        parser.error(f"--images {args.images}: {args.codes} holds the codes of {len(test)} test images; ask for at most that")
    models = dict(zip(("vqvae2", "top", "bottom", "classifier"), (load_model(p, device) for p in args.models), strict=True))
    top, bottom, labels = (t[: args.images].long().to(device) for t in (test.top, test.bottom, test.labels))
    batch_size = cfg.sample.batch_size
    own = judged(models, top, bottom, labels, batch_size, device)  # the test codes: nothing drawn
    rows = []
    for temperature in args.temperatures:
        drawn = drawn_shares(models, top, labels, temperature, batch_size, device, cfg.base.seed)
        for source, per_image in {"test codes": own, **drawn}.items():
            share = bootstrap(per_image)
            rows.append({"temperature": temperature, "codes": source, "images": len(per_image),
                         "label_share": share.mean, "low": share.low, "high": share.high})
    table = pd.DataFrame(rows)
    print(f"label share of images decoded from VQ-VAE-2 codes, judged by {args.models[3]} "
          f"({len(labels)} test images' labels)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    run(main)
