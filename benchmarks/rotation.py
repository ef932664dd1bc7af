"""The rotation trick against the straight-through gradient: VQ-VAE at one latent size over seeds.

    python benchmarks/rotation.py [--data data/prepared] [--latent 16] [--seeds 0 1 2] [--json OUT]

Trains the VQ-VAE of params.yaml (its trunk, codebook and the study's training budget) once per seed
with `models.vqvae.gradient` set to each of straight_through and rotation, through the study's own pool
of runs (latentlab.runs: one thread per run, as many at once as there are cores), in a temporary folder.
Prints, per gradient, the test MSE, codebook usage and perplexity, and the entropy of code use (means
and 95% intervals over seeds), and the Welch difference rotation - straight_through of each with its
interval: the measurement that params.yaml's choice of `gradient` rests on.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

import pandas as pd

from latentlab.config import load_config
from latentlab.data import load_info
from latentlab.io import read_json
from latentlab.models import sweep_model_config
from latentlab.runs import Run, RunFolders, train_runs
from latentlab.runtime import pick_device
from latentlab.stats import over_seeds, welch

GRADIENTS = ("straight_through", "rotation")
SCORES = {"test MSE": ("test", "mse"), "codebook usage": ("codebook", "usage"),
          "codebook perplexity": ("codebook", "perplexity"), "entropy of code use (bits)": ("codebook", "entropy_bits")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/prepared"))
    parser.add_argument("--latent", type=int, default=16)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", type=Path, help="write the table here")
    args = parser.parse_args()
    cfg = load_config()
    image_shape = tuple(load_info(args.data)["image_shape"])
    runs = []
    for gradient in GRADIENTS:
        models = dataclasses.replace(cfg.models, vqvae=dataclasses.replace(cfg.models.vqvae, gradient=gradient))
        config = sweep_model_config("vqvae", image_shape, args.latent, dataclasses.replace(cfg, models=models))
        runs += [Run(f"{gradient}-s{seed}", "vqvae", config, seed) for seed in args.seeds]
    with tempfile.TemporaryDirectory(prefix="latentlab-rotation-") as workdir:
        out = RunFolders(*(Path(workdir) / name for name in ("checkpoints", "metrics", "logs")))
        train_runs(runs, cfg.train, args.data, out, [], device=pick_device(cfg.base.device))
        metrics = {run.stem: read_json(out.metrics / f"{run.stem}.json") for run in runs}
    rows = []
    for score, (group, key) in SCORES.items():
        values = {g: [metrics[f"{g}-s{seed}"][group][key] for seed in args.seeds] for g in GRADIENTS}
        row = {"score": score, **{g: over_seeds(values[g]).text() for g in GRADIENTS}}
        difference = welch(values["rotation"], values["straight_through"])
        row["rotation - straight_through"] = difference.text()
        row["p (Welch)"] = difference.p
        rows.append(row)
    table = pd.DataFrame(rows)
    print(f"VQ-VAE at latent {args.latent}, seeds {args.seeds}, {cfg.train.epochs} epochs each:")
    print(table.to_string(index=False))
    if args.json:
        args.json.write_text(json.dumps({"latent": args.latent, "seeds": args.seeds,
                                         "runs": {stem: m for stem, m in metrics.items()},
                                         "table": table.to_dict(orient="records")}, indent=1) + "\n")


if __name__ == "__main__":
    main()
