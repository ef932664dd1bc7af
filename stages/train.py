"""Stages `train` (the latent sweep) and `replicate` (the seeds at model.latent): one AE, VAE or
VQ-VAE training at one latent size with one seed, scored on the test split."""

import argparse
from pathlib import Path

from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_split
from latentlab.evaluate.codebook import codebook_scores
from latentlab.evaluate.reconstruction import mean_scores, per_image_scores
from latentlab.inference import map_batches
from latentlab.io import write_json
from latentlab.models import sweep_model_config
from latentlab.models.vqvae import VQVAE
from latentlab.runtime import setup
from latentlab.train import summarize, train_and_save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", choices=["ae", "vae", "vqvae"])
    parser.add_argument("latent", type=int)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True, help="DVCLive folder of per-epoch metrics")
    args = parser.parse_args()
    cfg = load_config()
    device = setup(cfg.base, seed=args.seed)
    train, validation, test = (load_split(args.data, split) for split in ("train", "validation", "test"))
    config = sweep_model_config(args.model, train.image_shape, args.latent, cfg)
    model, history = train_and_save(args.model, config, train, {"validation": validation, "test": test}, cfg.train,
                                    device=device, seed=args.seed, budget_key="train", inputs=[args.data],
                                    log_dir=args.log, checkpoint=args.checkpoint)
    metrics = {"model": args.model, "latent": args.latent, "seed": args.seed, **summarize(history)}
    metrics["test"].update(mean_scores(per_image_scores(model, test.images, device)))
    if isinstance(model, VQVAE):
        metrics["codebook"] = codebook_scores(map_batches(model.encode_codes, test.images, device), model.quantizer)
    write_json(args.metrics, metrics)


if __name__ == "__main__":
    run(main)
