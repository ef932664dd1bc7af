"""Stage `reconstruct`: reconstruction at model.latent over every seed (mean and 95% interval), VQ-VAE-2
beside them (bootstrap over test images), and the same test images through every model."""

import argparse
from pathlib import Path

from latentlab.checkpoint import load_model
from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_split
from latentlab.evaluate.contest import contest_models
from latentlab.evaluate.reconstruction import SCORES
from latentlab.evaluate.sweep import contest_runs
from latentlab.figures import reconstruction_grid, save_figure
from latentlab.io import read_json, write_json
from latentlab.names import label
from latentlab.runtime import setup
from latentlab.stats import seeds_summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--runs", type=Path, required=True, help="folder of the replicates' metrics JSON")
    parser.add_argument("--replicates", type=Path, required=True, help="folder of the checkpoints at model.latent")
    parser.add_argument("--vqvae2", type=Path, nargs=2, required=True, metavar=("CHECKPOINT", "METRICS"))
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--figure", type=Path, required=True)
    args = parser.parse_args()
    cfg = load_config()
    device = setup(cfg.base)
    metrics = {"latent": cfg.model.latent, "seeds": len(cfg.sweep.seeds)}
    for name, by_seed in contest_runs(args.runs, cfg).items():
        metrics[name] = seeds_summary({seed: {score: run["test"][score] for score in SCORES} for seed, run in by_seed.items()})
    metrics["vqvae2"] = read_json(args.vqvae2[1])["test_interval"]
    write_json(args.metrics, metrics)
    models = {name: by_seed[cfg.sweep.seeds[0]] for name, by_seed in contest_models(args.replicates, cfg, device).items()}
    models["vqvae2"] = load_model(args.vqvae2[0], device)
    images = load_split(args.data, "test").first_images(cfg.reconstruct.grid_images, device)
    save_figure(reconstruction_grid(models, images, row_labels=["original", *map(label, models)],
                                    title=f"Test images and their reconstructions (latent size {cfg.model.latent}; "
                                          f"VQ-VAE-2: {models['vqvae2'].latent} slots)"), args.figure)


if __name__ == "__main__":
    run(main)
