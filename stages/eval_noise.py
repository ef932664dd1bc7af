"""Stage `eval_noise`: Gaussian noise of growing scale on Z before decoding, for every model and seed."""

import argparse
from pathlib import Path

import torch

from latentlab.checkpoint import load_model
from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_split
from latentlab.evaluate.contest import contest_models, score_contest, spread, summarize_once, summarize_seeds
from latentlab.evaluate.noise import curve_figure, curve_frame, noisy_decodes, per_image_errors
from latentlab.figures import image_grid, save_figure
from latentlab.io import atomic_folder, write_json
from latentlab.names import label
from latentlab.runtime import setup
from latentlab.tables import write_csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--replicates", type=Path, required=True, help="folder of the checkpoints at model.latent")
    parser.add_argument("--vqvae2", type=Path, required=True, help="the VQ-VAE-2 checkpoint")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--curve", type=Path, required=True, help="CSV: model, scale, measure, mean, low, high")
    parser.add_argument("--figure", type=Path, required=True, help="PNG of the MSE curves")
    parser.add_argument("--grids", type=Path, required=True, help="folder of one PNG per model")
    args = parser.parse_args()
    cfg = load_config()
    n = cfg.noise
    device = setup(cfg.base)
    spread_images = load_split(args.data, "train").images[: n.spread_images]
    images = load_split(args.data, "test").first_images(n.images, device)

    def decodes(model, shown=images):  # the same noise draws for every model
        return noisy_decodes(model, shown, spread(model, spread_images, device), n.scales,
                             torch.Generator().manual_seed(cfg.base.seed))

    def errors(model):
        return per_image_errors(decodes(model), images, n.scales)

    contest, vqvae2 = contest_models(args.replicates, cfg, device), load_model(args.vqvae2, device)
    metrics = {"latent": cfg.model.latent, "images": len(images), **summarize_seeds(score_contest(contest, errors)),
               "vqvae2": summarize_once(vqvae2, errors)}
    with atomic_folder(args.grids) as grids:
        for name, model in {**{name: seeds[cfg.sweep.seeds[0]] for name, seeds in contest.items()}, "vqvae2": vqvae2}.items():
            shown = decodes(model, images[: n.grid_images])
            save_figure(image_grid([shown.clean, *shown.noisy], row_labels=["clean"] + [f"{s:g} sd" for s in n.scales],
                                   title=f"{label(name)}: noise on Z before decoding"), grids / f"{name}.png")
    curve = curve_frame(metrics, n.scales)
    write_json(args.metrics, metrics)
    write_csv(args.curve, curve)
    save_figure(curve_figure(curve, cfg.model.latent), args.figure)


if __name__ == "__main__":
    run(main)
