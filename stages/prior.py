"""Stages `prior_top` and `prior_bottom`: a gated PixelCNN over one level of the extracted codes."""

import argparse
import math
from pathlib import Path

from latentlab.cli import run
from latentlab.codes import load_codes
from latentlab.config import load_config
from latentlab.io import write_json
from latentlab.runtime import setup
from latentlab.schema import to_plain
from latentlab.train import summarize, train_and_save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("level", choices=["top", "bottom"])
    parser.add_argument("--codes", type=Path, required=True, help="file written by extract_codes")
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True, help="DVCLive folder of per-epoch metrics")
    args = parser.parse_args()
    cfg = load_config()
    prior = cfg.prior_top if args.level == "top" else cfg.prior_bottom
    device = setup(cfg.base)
    splits, facts = load_codes(args.codes)
    train, test = splits["train"], splits["test"]
    grid = list(getattr(train, args.level).shape[1:])
    conditioned = args.level == "bottom"  # on the top codes, besides the label
    sizes = facts["codebook_sizes"]
    config = {"grid": grid, "codebook_size": sizes[args.level], "num_classes": facts["num_classes"],
              "condition_grid": list(train.top.shape[1:]) if conditioned else None,
              "condition_codebook_size": sizes["top"] if conditioned else None,
              "model": to_plain(prior.model)}
    _, history = train_and_save("pixelcnn", config, train.for_prior(args.level), test.for_prior(args.level),
                                prior.train, device=device, log_dir=args.log, checkpoint=args.checkpoint)
    metrics = summarize(history)
    for split in ("train", "test"):
        bits = history[-1][f"{split}/nll"] / math.log(2)
        metrics[split].update({"bits_per_code": bits, "bits_per_image": bits * math.prod(grid)})
    write_json(args.metrics, metrics)


if __name__ == "__main__":
    run(main)
