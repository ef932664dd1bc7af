"""Stage `reconstruct`: the same test images through AE, VAE and VQ-VAE at model.latent, scored."""

import argparse
from pathlib import Path

from latentlab.checkpoint import load_checkpoint
from latentlab.cli import run, run_name
from latentlab.config import load_config
from latentlab.data import load_split
from latentlab.evaluate.reconstruction import reconstruction_grid, reconstruction_scores
from latentlab.images import save_png
from latentlab.io import write_json
from latentlab.runtime import setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--checkpoints", type=Path, required=True, help="folder of the sweep's checkpoints")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--grid", type=Path, required=True)
    args = parser.parse_args()
    cfg = load_config()  # checks that model.latent is one of sweep.latents, before any work
    device = setup(cfg.base)
    test = load_split(args.data, "test")
    models = {name: load_checkpoint(args.checkpoints / f"{run_name(name, cfg.model.latent)}.pt", device)
              for name in cfg.sweep.models}
    scores = {name: reconstruction_scores(model, test, device) for name, model in models.items()}
    write_json(args.metrics, {"latent": cfg.model.latent, **scores})
    save_png(args.grid, reconstruction_grid(models, test.first_images(cfg.reconstruct.grid_images, device)))


if __name__ == "__main__":
    run(main)
