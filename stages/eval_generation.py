"""Stage `eval_generation`: which model generates? Samplers scored by classifier-space FID and class spread."""

import argparse
from pathlib import Path

import torch

from latentlab.checkpoint import load_checkpoint
from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_info, load_split
from latentlab.evaluate import generation as g
from latentlab.evaluate.classifier_score import class_histogram, predict
from latentlab.evaluate.fid import classifier_features, fid
from latentlab.evaluate.latents import comparison_models, encode_all
from latentlab.images import grid_of, save_png
from latentlab.io import load_tensors, write_json
from latentlab.runtime import setup


def samplers(models: dict, train, cfg, device) -> dict[str, torch.Tensor]:
    """uint8 images of every sampler whose model is in the sweep."""
    n, seed = cfg.generation.samples, cfg.base.seed
    generator = torch.Generator().manual_seed(seed)
    out = {}
    if "ae" in models:
        out["ae_normal"] = g.decode_to_uint8(models["ae"], g.standard_normal(n, cfg.model.latent, generator).to(device))
        codes = encode_all(models["ae"], train, device)
        mixture = g.gaussian_mixture(codes, n, cfg.generation.mixture_components, seed)
        out["ae_mixture"] = g.decode_to_uint8(models["ae"], mixture.to(device))
    if "vae" in models:
        out["vae_normal"] = g.decode_to_uint8(models["vae"], g.standard_normal(n, cfg.model.latent, generator).to(device))
    if "vqvae" in models:
        out["vqvae_uniform"] = g.uniform_codes(models["vqvae"], n, generator)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--checkpoints", type=Path, required=True, help="folder of the sweep's checkpoints")
    parser.add_argument("--classifier", type=Path, required=True)
    parser.add_argument("--samples", type=Path, required=True, help="VQ-VAE-2 samples of the sample stage")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--grids", type=Path, required=True, help="folder of one PNG per sampler")
    args = parser.parse_args()
    cfg = load_config()
    n = cfg.generation.samples
    device = setup(cfg.base)
    train, test = load_split(args.data, "train"), load_split(args.data, "test")
    classifier = load_checkpoint(args.classifier, device)
    num_classes = len(load_info(args.data)["classes"])
    images = samplers(comparison_models(args.checkpoints, None, cfg, device), train, cfg, device)
    samples = load_tensors(args.samples)  # VQ-VAE-2: at the sampling temperature, and at the reference one
    images["vqvae2_prior"] = samples["unconditional"]["images"][:n]
    images["vqvae2_prior_reference"] = g.evenly_spaced(samples["conditional_reference"]["images"], n)
    anchors = {"train_images": train.images[:n],
               "uniform_noise": g.uniform_noise_images(n, train.image_shape, torch.Generator().manual_seed(cfg.base.seed))}
    reference = classifier_features(classifier, test.images, device)
    metrics = {"latent": cfg.model.latent, "reference": f"{len(test)} test images", "anchors": {}}
    for name, batch in {**anchors, **images}.items():
        entry = {"fid": fid(reference, classifier_features(classifier, batch, device)), "samples": len(batch)}
        if name in images:
            entry["classes"] = class_histogram(predict(classifier, batch, device), num_classes)
            metrics[name] = entry
            columns = cfg.generation.grid_columns
            save_png(args.grids / f"{name}.png", grid_of(batch, cfg.generation.grid_images // columns, columns))
        else:
            metrics["anchors"][name] = entry
    write_json(args.metrics, metrics)


if __name__ == "__main__":
    run(main)
