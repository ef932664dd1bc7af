"""Stage `sweep_summary`: the latent sweep in one table, every loss curve, and its figures:
losses per epoch, reconstruction against latent size, and reconstructions at every size."""

import argparse
from pathlib import Path

from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_split
from latentlab.evaluate.contest import sweep_models
from latentlab.evaluate.sweep import loss_curves, loss_figure, reconstruction_figure, runs, sweep_metrics, sweep_table
from latentlab.figures import reconstruction_grid, save_figure
from latentlab.io import atomic_folder, write_json
from latentlab.names import label
from latentlab.runtime import setup
from latentlab.tables import write_csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=Path, required=True, help="folder of the runs' metrics JSON")
    parser.add_argument("--logs", type=Path, required=True, help="folder of the runs' DVCLive logs")
    parser.add_argument("--checkpoints", type=Path, required=True, help="folder of the runs' checkpoints")
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder (images of the grids)")
    parser.add_argument("--metrics", type=Path, required=True, help="JSON: {model: {latent: numbers}}")
    parser.add_argument("--table", type=Path, required=True, help="CSV, one row per run (also plot data)")
    parser.add_argument("--curves", type=Path, required=True, help="CSV of per-epoch losses (plot data)")
    parser.add_argument("--figures", type=Path, required=True, help="folder of PNG figures")
    args = parser.parse_args()
    cfg = load_config()
    device = setup(cfg.base)
    paths = runs(args.runs, cfg)
    table, curves = sweep_table(paths), loss_curves(paths, args.logs)
    write_json(args.metrics, sweep_metrics(table))
    write_csv(args.table, table)
    write_csv(args.curves, curves)
    images = load_split(args.data, "test").first_images(cfg.train.grid_images, device)
    models = sweep_models(args.checkpoints, cfg, device)
    with atomic_folder(args.figures) as figures:
        save_figure(loss_figure(curves), figures / "losses.png")
        save_figure(reconstruction_figure(table), figures / "reconstruction_vs_latent.png")
        for name in cfg.sweep.models:
            by_latent = {latent: models[name, latent] for latent in cfg.sweep.latents}
            save_figure(reconstruction_grid(by_latent, images, row_labels=["original", *[f"latent {v}" for v in by_latent]],
                                            title=f"{label(name)}: test images, reconstructed at each latent size"),
                        figures / f"reconstructions_{name}.png")


if __name__ == "__main__":
    run(main)
