"""Stage `eval_generation`: which model generates? Samplers scored by classifier-space FID and class spread.

The AE, VAE and VQ-VAE samplers run once per seed (mean and interval over seeds); VQ-VAE-2's
samples come from the sample stage (one training: one value each). Grids show the first seed.
"""

import argparse
from pathlib import Path

import torch

from latentlab.checkpoint import load_model
from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_info, load_split
from latentlab.evaluate import generation as g
from latentlab.evaluate.classifier_score import class_histogram, predict_from_features
from latentlab.evaluate.contest import by_seed, contest_models
from latentlab.evaluate.fid import classifier_features, fid
from latentlab.io import atomic_folder, load_tensors, write_json
from latentlab.runtime import setup
from latentlab.stats import seeds_summary

SAMPLER_TITLES = {
    "ae_normal": "AE, Z ~ N(0, I) (naive)", "ae_mixture": "AE, Z from a Gaussian mixture fit to training codes",
    "vae_normal": "VAE, Z ~ N(0, I) (its prior)", "vqvae_uniform": "VQ-VAE, codes drawn uniformly (naive)",
    "fsq_uniform": "FSQ, codes drawn uniformly (naive)",
    "vqvae2_prior": "VQ-VAE-2 through its priors, temperature {t:g}, labels from the data",
    "vqvae2_prior_reference": "VQ-VAE-2 through its priors, temperature {t:g}, labels evenly spread",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--replicates", type=Path, required=True, help="folder of the checkpoints at model.latent")
    parser.add_argument("--classifier", type=Path, required=True)
    parser.add_argument("--samples", type=Path, required=True, help="VQ-VAE-2 samples of the sample stage")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--grids", type=Path, required=True, help="folder of one PNG per sampler")
    args = parser.parse_args()
    cfg = load_config()
    n, seed = cfg.generation.samples, cfg.base.seed
    device = setup(cfg.base)
    train, test = load_split(args.data, "train"), load_split(args.data, "test")
    classifier = load_model(args.classifier, device)
    classes = load_info(args.data)["classes"]
    reference = classifier_features(classifier, test.images, device)

    def scores(images: torch.Tensor) -> dict[str, float]:
        features = classifier_features(classifier, images, device)
        predicted = predict_from_features(classifier, features, device)
        return {"fid": fid(reference, features), "class_entropy_bits": class_histogram(predicted, len(classes))["entropy_bits"]}

    per_seed, shown = {}, {}
    for model_seed, models in by_seed(contest_models(args.replicates, cfg, device)).items():
        images = g.sweep_samplers(models, train.images, n, cfg.generation.mixture_components, seed, device)
        per_seed[model_seed] = {sampler: scores(batch) for sampler, batch in images.items()}
        shown = shown or images
    samples = load_tensors(args.samples)  # VQ-VAE-2: at the sampling temperature, and at the reference one
    vqvae2 = {"vqvae2_prior": samples["unconditional"], "vqvae2_prior_reference": samples["conditional_reference"]}
    metrics = {"latent": cfg.model.latent, "samples": n, "reference": f"{len(test)} test images",
               **{sampler: seeds_summary({s: values[sampler] for s, values in per_seed.items()})
                  for sampler in next(iter(per_seed.values()))}}
    for sampler, drawn in vqvae2.items():
        images = g.evenly_spaced(drawn["images"], n)
        metrics[sampler] = {k: {"mean": v} for k, v in scores(images).items()} | {"temperature": drawn["temperature"]}
        shown[sampler] = images
    anchors = {"train_images": train.images[:n],
               "uniform_noise": g.uniform_noise_images(n, train.image_shape, torch.Generator().manual_seed(seed))}
    metrics["anchors"] = {name: {"fid": fid(reference, classifier_features(classifier, images, device))}
                          for name, images in anchors.items()}
    write_json(args.metrics, metrics)
    with atomic_folder(args.grids) as grids:
        titles = {name: SAMPLER_TITLES[name].format(t=vqvae2.get(name, {}).get("temperature", 1)) for name in shown}
        g.draw_samples(shown, titles, samples["conditional"], classes, cfg.generation, grids)


if __name__ == "__main__":
    run(main)
