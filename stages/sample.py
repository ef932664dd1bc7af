"""Stage `sample`: draw VQ-VAE-2 images through both priors, per label and unconditionally; judge them."""

import argparse
from pathlib import Path

import torch

from latentlab.checkpoint import load_checkpoint
from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_info, load_split
from latentlab.evaluate.classifier_score import agreement, class_histogram, predict
from latentlab.evaluate.sampling import labels_like, labels_per_class, sample_images
from latentlab.images import grid_by_label, grid_of, save_png
from latentlab.io import save_tensors, write_json
from latentlab.runtime import setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder (label frequencies)")
    parser.add_argument("--models", type=Path, nargs=4, required=True, metavar=("VQVAE2", "TOP", "BOTTOM", "CLASSIFIER"))
    parser.add_argument("--samples", type=Path, required=True, help="tensor file of the samples")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--grids", type=Path, nargs=2, required=True, metavar=("CONDITIONAL", "UNCONDITIONAL"))
    args = parser.parse_args()
    cfg = load_config()
    s = cfg.sample
    device = setup(cfg.base)
    vqvae2, top, bottom, classifier = (load_checkpoint(path, device) for path in args.models)
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
        samples[kind] = {"images": images, "labels": labels}
        metrics[kind] = {"samples": len(labels), "temperature": temperature,
                         **agreement(predicted, labels, num_classes), "classes": class_histogram(predicted, num_classes)}
    save_tensors(args.samples, samples)
    write_json(args.metrics, metrics)
    save_png(args.grids[0], grid_by_label(**samples["conditional"], num_classes=num_classes, columns=s.grid_columns))
    save_png(args.grids[1], grid_of(samples["unconditional"]["images"], rows=num_classes, columns=s.grid_columns))


if __name__ == "__main__":
    run(main)
