"""Stage `eval_probe`: how much of the label each Z keeps (linear probe and k-NN), every latent size."""

import argparse
from pathlib import Path

from latentlab.checkpoint import load_checkpoint
from latentlab.cli import run, run_name
from latentlab.config import load_config
from latentlab.data import load_split
from latentlab.evaluate.probe import knn_probe, logistic_probe, probe_features
from latentlab.io import write_json
from latentlab.runtime import setup
from latentlab.tables import write_csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--checkpoints", type=Path, required=True, help="folder of the sweep's checkpoints")
    parser.add_argument("--vqvae2", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--table", type=Path, required=True, help="CSV: model, latent, logistic, knn (plot data)")
    args = parser.parse_args()
    cfg = load_config()
    p = cfg.probe
    device = setup(cfg.base)
    train, test = load_split(args.data, "train").head(p.train_images), load_split(args.data, "test")
    runs = [(name, latent, args.checkpoints / f"{run_name(name, latent)}.pt")
            for name in cfg.sweep.models for latent in cfg.sweep.latents]
    runs.append(("vqvae2", None, args.vqvae2))
    metrics, rows = {"train_images": len(train)}, []
    for name, latent, checkpoint in runs:
        model = load_checkpoint(checkpoint, device)
        features = probe_features(model, train, device), probe_features(model, test, device)
        scores = {"logistic": logistic_probe(features[0], train.labels, features[1], test.labels, p.max_iter),
                  "knn": knn_probe(features[0], train.labels, features[1], test.labels, p.neighbours)}
        if latent is None:  # VQ-VAE-2 has one size: its slots of both levels
            metrics[name] = scores
            latent = model.latent
        else:
            metrics.setdefault(name, {})[str(latent)] = scores
        rows.append({"model": name, "latent": latent, **scores})
    write_json(args.metrics, metrics)
    write_csv(args.table, rows)


if __name__ == "__main__":
    run(main)
