"""Stage `vqvae2`: train the two-level VQ-VAE-2; score its reconstructions and both codebooks."""

import argparse
from pathlib import Path

from latentlab.cli import run
from latentlab.codes import extract_codes
from latentlab.config import load_config
from latentlab.data import load_split
from latentlab.evaluate.reconstruction import codebook_scores, reconstruction_grid, reconstruction_scores
from latentlab.images import save_png
from latentlab.io import write_json
from latentlab.runtime import setup
from latentlab.schema import to_plain
from latentlab.train import summarize, train_and_save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True, help="DVCLive folder of per-epoch metrics")
    parser.add_argument("--grid", type=Path, required=True, help="PNG: test images above their reconstructions")
    args = parser.parse_args()
    cfg = load_config()
    device = setup(cfg.base)
    train, test = load_split(args.data, "train"), load_split(args.data, "test")
    config = {"image_shape": list(train.image_shape), "model": to_plain(cfg.vqvae2.model)}
    model, history = train_and_save("vqvae2", config, train, test, cfg.vqvae2.train,
                                    device=device, log_dir=args.log, checkpoint=args.checkpoint)
    metrics = {"slots": model.latent, **summarize(history)}  # code positions of both levels
    metrics["test"].update(reconstruction_scores(model, test, device))
    codes = extract_codes(model, test, device)
    metrics["codebook"] = {"top": codebook_scores(codes.top, model.quantize_top),
                           "bottom": codebook_scores(codes.bottom, model.quantize_bottom)}
    write_json(args.metrics, metrics)
    save_png(args.grid, reconstruction_grid({"vqvae2": model}, test.first_images(cfg.vqvae2.grid_images, device)))


if __name__ == "__main__":
    run(main)
