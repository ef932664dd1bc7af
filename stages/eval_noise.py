"""Stage `eval_noise`: Gaussian noise of growing scale on Z before decoding, for every model."""

import argparse
from pathlib import Path

import torch

from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_split
from latentlab.evaluate.latents import comparison_models, spread
from latentlab.evaluate.noise import mse_to_clean, noisy_decodes
from latentlab.images import grid, save_png
from latentlab.io import write_json
from latentlab.runtime import setup
from latentlab.tables import write_csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--checkpoints", type=Path, required=True, help="folder of the sweep's checkpoints")
    parser.add_argument("--vqvae2", type=Path, required=True, help="the VQ-VAE-2 checkpoint")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--curve", type=Path, required=True, help="CSV: model, scale, mse (plot data)")
    parser.add_argument("--grids", type=Path, required=True, help="folder of one PNG per model")
    args = parser.parse_args()
    cfg = load_config()
    n = cfg.noise
    device = setup(cfg.base)
    train, test = load_split(args.data, "train"), load_split(args.data, "test")
    images = test.first_images(n.images, device)
    generator = torch.Generator().manual_seed(cfg.base.seed)
    metrics, rows = {"latent": cfg.model.latent}, []
    for name, model in comparison_models(args.checkpoints, args.vqvae2, cfg, device).items():
        clean, noisy = noisy_decodes(model, images, spread(model, train.head(n.spread_images), device),
                                     n.scales, generator)
        curve = mse_to_clean(clean, noisy)
        metrics[name] = {f"mse_at_{scale:g}sd": mse for scale, mse in zip(n.scales, curve, strict=True)}
        rows += [{"model": name, "scale": scale, "mse": mse} for scale, mse in zip(n.scales, curve, strict=True)]
        shown = [clean[: n.grid_images]] + [x[: n.grid_images] for x in noisy]
        save_png(args.grids / f"{name}.png", grid(shown, labels=["clean"] + [f"{s:g} sd" for s in n.scales]))
    write_json(args.metrics, metrics)
    write_csv(args.curve, rows)


if __name__ == "__main__":
    run(main)
