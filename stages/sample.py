"""Stage `sample`: draw VQ-VAE-2 images through both priors, per label and unconditionally; judge them.

Three sets: `per_label` samples of every label and `unconditional` samples (labels drawn from the
training label frequencies) at the sampling temperature, and `reference_per_label` samples of
every label at the reference temperature (1: the priors as trained). The share of samples the
classifier assigns to the requested label carries a bootstrap interval over the samples.
"""

import argparse
from pathlib import Path

import torch

from latentlab.checkpoint import load_model
from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_info, load_split
from latentlab.evaluate.classifier_score import class_histogram, hits, per_label_share, predict
from latentlab.evaluate.sampling import labels_like, labels_per_class, sample_images
from latentlab.io import save_tensors, write_json
from latentlab.runtime import setup
from latentlab.stats import bootstrap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder (label frequencies)")
    parser.add_argument("--vqvae2", type=Path, required=True)
    parser.add_argument("--priors", type=Path, nargs=2, required=True, metavar=("TOP", "BOTTOM"))
    parser.add_argument("--classifier", type=Path, required=True)
    parser.add_argument("--samples", type=Path, required=True, help="tensor file of the samples")
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args()
    cfg = load_config()
    s = cfg.sample
    device = setup(cfg.base)
    vqvae2, top, bottom, classifier = (load_model(path, device) for path in (args.vqvae2, *args.priors, args.classifier))
    num_classes = len(load_info(args.data)["classes"])
    generator = torch.Generator(device).manual_seed(cfg.base.seed)
    requests = {  # kind: (labels, temperature)
        "conditional": (labels_per_class(s.per_label, num_classes), s.temperature),
        "unconditional": (labels_like(load_split(args.data, "train").labels, s.unconditional, num_classes,
                                      torch.Generator().manual_seed(cfg.base.seed)), s.temperature),
        "conditional_reference": (labels_per_class(s.reference_per_label, num_classes), s.reference_temperature),
    }
    samples, metrics = {}, {}
    for kind, (labels, temperature) in requests.items():
        images = sample_images(vqvae2, top, bottom, labels.to(device), temperature=temperature,
                               batch_size=s.batch_size, generator=generator)
        predicted = predict(classifier, images, device)
        samples[kind] = {"images": images, "labels": labels, "temperature": temperature}
        metrics[kind] = {"samples": len(labels), "temperature": temperature,
                         "label_share": bootstrap(hits(predicted, labels)).to_dict(),
                         "label_share_per_label": per_label_share(predicted, labels, num_classes),
                         "classes": class_histogram(predicted, num_classes)}
    save_tensors(args.samples, samples)
    write_json(args.metrics, metrics)


if __name__ == "__main__":
    run(main)
