"""Stage `extract_codes`: encode every train and test image to (top codes, bottom codes, label)."""

import argparse
from pathlib import Path

from latentlab.checkpoint import load_checkpoint
from latentlab.cli import run
from latentlab.codes import extract_codes, save_codes
from latentlab.config import load_config
from latentlab.data import SPLITS, load_info, load_split
from latentlab.runtime import setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--checkpoint", type=Path, required=True, help="the trained VQ-VAE-2")
    parser.add_argument("--out", type=Path, required=True, help="file of integer code arrays")
    args = parser.parse_args()
    cfg = load_config()
    device = setup(cfg.base)
    model = load_checkpoint(args.checkpoint, device)
    splits = {name: extract_codes(model, load_split(args.data, name), device) for name in SPLITS}
    sizes = {"top": model.quantize_top.codebook_size, "bottom": model.quantize_bottom.codebook_size}
    save_codes(args.out, splits, codebook_sizes=sizes, num_classes=len(load_info(args.data)["classes"]))


if __name__ == "__main__":
    run(main)
