"""Stage `eval_probe`: how much of the label each Z keeps (linear probe and k-NN): across the latent
sweep, and at model.latent over every seed, with VQ-VAE-2 beside them."""

import argparse
from pathlib import Path

import pandas as pd

from latentlab.checkpoint import load_model
from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_split
from latentlab.evaluate.contest import (
    contest_models,
    same_weights,
    score_contest,
    summarize_once,
    summarize_seeds,
    sweep_models,
)
from latentlab.evaluate.probe import accuracy_figure, probe_hits
from latentlab.figures import save_figure
from latentlab.io import write_json
from latentlab.runtime import setup
from latentlab.tables import write_csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--sweep", type=Path, required=True, help="folder of the latent sweep's checkpoints")
    parser.add_argument("--replicates", type=Path, required=True, help="folder of the checkpoints at model.latent")
    parser.add_argument("--vqvae2", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--table", type=Path, required=True, help="CSV: model, latent, logistic, knn (the sweep)")
    parser.add_argument("--figure", type=Path, required=True, help="PNG: accuracy against latent size")
    args = parser.parse_args()
    cfg = load_config()
    p = cfg.probe
    device = setup(cfg.base)
    train, test = load_split(args.data, "train").head(p.train_images), load_split(args.data, "test")

    def hits(model):
        return probe_hits(model, train.images, train.labels, test.images, test.labels, p.max_iter, p.neighbours, device)

    sweep = sweep_models(args.sweep, cfg, device)
    sweep_hits = {key: hits(model) for key, model in sweep.items()}

    def contest_hits(model):  # the replicate at the sweep's seed is the sweep's run, copied: its probes are done
        twin = next((key for key, other in sweep.items() if same_weights(model, other)), None)
        return sweep_hits[twin] if twin else hits(model)

    by_latent = pd.DataFrame([{"model": name, "latent": latent, **{k: float(v.mean()) for k, v in run_hits.items()}}
                              for (name, latent), run_hits in sweep_hits.items()])
    vqvae2 = load_model(args.vqvae2, device)
    metrics = {"train_images": len(train), "latent": cfg.model.latent,
               "sweep": {name: {str(row.latent): {"logistic": row.logistic, "knn": row.knn} for row in rows.itertuples()}
                         for name, rows in by_latent.groupby("model", sort=False)},
               **summarize_seeds(score_contest(contest_models(args.replicates, cfg, device), contest_hits)),
               "vqvae2": summarize_once(vqvae2, hits)}
    write_json(args.metrics, metrics)
    write_csv(args.table, by_latent)
    beside = {probe: estimate["mean"] for probe, estimate in metrics["vqvae2"].items()}
    save_figure(accuracy_figure(by_latent, beside, f"VQ-VAE-2 ({vqvae2.latent} slots)"), args.figure)


if __name__ == "__main__":
    run(main)
