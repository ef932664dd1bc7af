"""Stage `train`: one run of the sweep, a model (ae, vae, vqvae) at one latent size."""

import argparse
from pathlib import Path

from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_split
from latentlab.evaluate.reconstruction import codebook_scores, encode_codes, reconstruction_grid, reconstruction_scores
from latentlab.images import save_png
from latentlab.io import write_json
from latentlab.models import sweep_model_config
from latentlab.models.vqvae import VQVAE
from latentlab.runtime import setup
from latentlab.schema import ConfigError
from latentlab.train import summarize, train_and_save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("latent", type=int)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True, help="DVCLive folder of per-epoch metrics")
    parser.add_argument("--grid", type=Path, required=True, help="PNG: test images above their reconstructions")
    args = parser.parse_args()
    cfg = load_config()
    if args.model not in cfg.sweep.models or args.latent not in cfg.sweep.latents:
        raise ConfigError(f"run {args.model} {args.latent} is not in sweep.models x sweep.latents")
    device = setup(cfg.base)
    train, test = load_split(args.data, "train"), load_split(args.data, "test")
    config = sweep_model_config(args.model, train.image_shape, args.latent, cfg)
    model, history = train_and_save(args.model, config, train, test, cfg.train,
                                    device=device, log_dir=args.log, checkpoint=args.checkpoint)
    metrics = summarize(history)
    metrics["test"].update(reconstruction_scores(model, test, device))
    if isinstance(model, VQVAE):
        metrics["codebook"] = codebook_scores(encode_codes(model, test, device), model.quantizer)
    write_json(args.metrics, metrics)
    save_png(args.grid, reconstruction_grid({args.model: model}, test.first_images(cfg.train.grid_images, device)))


if __name__ == "__main__":
    run(main)
