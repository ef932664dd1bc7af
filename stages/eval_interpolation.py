"""Stage `eval_interpolation`: decode the straight line between the codes of two test images."""

import argparse
from pathlib import Path

import torch

from latentlab.checkpoint import load_checkpoint
from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_split
from latentlab.evaluate.classifier_score import predict
from latentlab.evaluate.interpolation import interpolate, smoothness
from latentlab.evaluate.latents import comparison_models
from latentlab.images import grid, save_png
from latentlab.io import write_json
from latentlab.runtime import setup
from latentlab.schema import ConfigError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--checkpoints", type=Path, required=True, help="folder of the sweep's checkpoints")
    parser.add_argument("--vqvae2", type=Path, required=True)
    parser.add_argument("--classifier", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--grid", type=Path, required=True)
    args = parser.parse_args()
    cfg = load_config()
    p = cfg.interpolation
    device = setup(cfg.base)
    test = load_split(args.data, "test")
    ends = [(test.labels == label).nonzero()[:, 0][: p.pairs] for label in p.classes]
    pairs = min(len(ends[0]), len(ends[1]))
    if pairs == 0:
        raise ConfigError(f"interpolation.classes: the test split needs images of both {list(p.classes)}")
    starts, stops = (test.float_images(index[:pairs], device) for index in ends)
    classifier = load_checkpoint(args.classifier, device)
    paths = {}
    for name, model in comparison_models(args.checkpoints, args.vqvae2, cfg, device).items():
        paths[name] = (model, True)
        if name in ("vqvae", "vqvae2"):
            paths[f"{name} unsnapped"] = (model, False)
    metrics, first_pair = {"latent": cfg.model.latent, "classes": list(p.classes), "pairs": pairs}, []
    for name, (model, snap) in paths.items():
        frames = [interpolate(model, a, b, p.steps, snap=snap) for a, b in zip(starts, stops, strict=True)]
        inner = torch.cat([f[1:-1] for f in frames])
        predicted = predict(classifier, (inner * 255).round().to(torch.uint8), device)
        metrics[name] = {
            "end_class_share": float(torch.isin(predicted, torch.tensor(p.classes)).double().mean()),
            "smoothness": sum(smoothness(f) for f in frames) / len(frames),
        }
        first_pair.append(frames[0])
    write_json(args.metrics, metrics)
    save_png(args.grid, grid(first_pair, labels=list(paths)))


if __name__ == "__main__":
    run(main)
