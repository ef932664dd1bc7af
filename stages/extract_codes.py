"""Stage `extract_codes`: encode every image to (top codes, bottom codes, label); score codebook use.

The codes are the priors' training data; their statistics on the test split (usage, perplexity,
entropy per level) are this stage's metrics, so no other stage encodes the images again.
"""

import argparse
from pathlib import Path

from latentlab.checkpoint import load_model
from latentlab.cli import run
from latentlab.codes import extract_codes, save_codes
from latentlab.config import load_config
from latentlab.data import SPLITS, load_info, load_split
from latentlab.evaluate.codebook import codebook_scores
from latentlab.io import write_json
from latentlab.runtime import setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--checkpoint", type=Path, required=True, help="the trained VQ-VAE-2")
    parser.add_argument("--out", type=Path, required=True, help="file of integer code arrays")
    parser.add_argument("--metrics", type=Path, required=True, help="codebook use per level on the test split")
    args = parser.parse_args()
    cfg = load_config()
    device = setup(cfg.base)
    model = load_model(args.checkpoint, device)
    splits = {name: extract_codes(model, load_split(args.data, name), device) for name in SPLITS}
    levels = {"top": model.quantize_top, "bottom": model.quantize_bottom}
    save_codes(args.out, splits, codebook_sizes={level: q.codebook_size for level, q in levels.items()},
               num_classes=len(load_info(args.data)["classes"]))
    test = splits["test"]
    write_json(args.metrics, {level: codebook_scores(getattr(test, level).long(), q) for level, q in levels.items()})


if __name__ == "__main__":
    run(main)
