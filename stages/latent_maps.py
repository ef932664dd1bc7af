"""Stage `latent_maps`: pictures of Z. The sweep's runs at maps.latent (2: a plane) with the test images'
codes coloured by label, and the plane decoded for AE and VAE; at model.latent, PCA and t-SNE of what
each decoder reads (the first seed, and VQ-VAE-2), coloured by label."""

import argparse
from pathlib import Path

import torch

from latentlab.checkpoint import load_model
from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_info, load_split
from latentlab.evaluate.contest import contest_models, encode_all, sweep_models
from latentlab.evaluate.maps import (
    decoded_plane,
    embeddings_figure,
    plane,
    planes_figure,
    principal_coordinates,
    tsne,
    varies,
)
from latentlab.evaluate.probe import probe_features
from latentlab.figures import save_figure
from latentlab.io import atomic_folder, write_json
from latentlab.runtime import setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--sweep", type=Path, required=True, help="folder of the latent sweep's checkpoints")
    parser.add_argument("--replicates", type=Path, required=True, help="folder of the checkpoints at model.latent")
    parser.add_argument("--vqvae2", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--figures", type=Path, required=True, help="folder of PNG figures")
    args = parser.parse_args()
    cfg = load_config()
    maps = cfg.maps
    device = setup(cfg.base)
    test, classes = load_split(args.data, "test").head(maps.images), load_info(args.data)["classes"]
    labels = test.labels.numpy()
    sweep = {name: model for (name, latent), model in sweep_models(args.sweep, cfg, device).items()
             if latent == maps.latent}
    contest = {name: by_seed[cfg.sweep.seeds[0]] for name, by_seed in contest_models(args.replicates, cfg, device).items()}
    contest["vqvae2"] = load_model(args.vqvae2, device)
    embedded, titles, variance = {}, {}, {}
    for name, model in contest.items():
        features = probe_features(model, test.images, device)
        pca, share = principal_coordinates(features)
        embedded[name] = {"PCA": pca, "t-SNE": tsne(features[: maps.tsne_images], maps.perplexity, cfg.base.seed)}
        titles[name] = f"PCA ({sum(share):.0%} of the variance)" if varies(features) else "one code for every image"
        variance[name] = {"pca_variance_share": share}
    with atomic_folder(args.figures) as figures:
        if maps.latent == 2:
            points = {name: plane(model, test.images, device) for name, model in sweep.items()}
            save_figure(planes_figure(points, labels, classes, maps.latent), figures / "plane.png")
            train = load_split(args.data, "train").images[: maps.images]
            for name, prior in (("ae", False), ("vae", True)):
                if name in sweep:
                    codes = None if prior else encode_all(sweep[name], train, device)
                    save_figure(decoded_plane(name, sweep[name], codes, maps.grid_steps, prior, device),
                                figures / f"decoded_plane_{name}.png")
        save_figure(embeddings_figure(embedded, {"PCA": labels, "t-SNE": labels[: maps.tsne_images]}, classes,
                                      titles, cfg.model.latent), figures / "embeddings.png")
    write_json(args.metrics, {"latent": cfg.model.latent, "plane_latent": maps.latent, "images": len(test),
                              "tsne_images": min(maps.tsne_images, len(test)), **variance})


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    run(main)
