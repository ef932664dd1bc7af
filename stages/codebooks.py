"""Stage `codebooks`: where VQ loses its codes. VQ-VAE with and without dead-code restarts, and FSQ, at the
numbers of codes of codebooks.vq_sizes, at model.latent with base.seed; codebook use, perplexity and test
MSE against the number of codes. Runs that are those of the latent sweep (the sizes of models.vqvae and
models.fsq) are copied from it."""

import argparse
from pathlib import Path

from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_info
from latentlab.evaluate.codebook_sweep import codebook_figure, codebook_table
from latentlab.figures import save_figure
from latentlab.io import write_json
from latentlab.runs import RunFolders, codebook_runs, train_runs
from latentlab.runtime import pick_device
from latentlab.tables import write_csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--out", type=Path, nargs=3, required=True, metavar=("CHECKPOINTS", "METRICS", "LOGS"))
    parser.add_argument("--reuse", type=Path, nargs=3, required=True, metavar=("CHECKPOINTS", "METRICS", "LOGS"),
                        help="the latent sweep's runs")
    parser.add_argument("--metrics", type=Path, required=True, help="JSON: {variant: {codes: numbers}}")
    parser.add_argument("--table", type=Path, required=True, help="CSV, one row per run")
    parser.add_argument("--figure", type=Path, required=True)
    args = parser.parse_args()
    cfg = load_config()
    out = RunFolders(*args.out)
    runs = codebook_runs(cfg, tuple(load_info(args.data)["image_shape"]))
    finished = train_runs(runs, cfg.train, args.data, out, [out, RunFolders(*args.reuse)],
                          device=pick_device(cfg.base.device))
    table = codebook_table({stem: run.metrics for stem, run in finished.items()})
    write_json(args.metrics, {variant: {str(r.codes): {k: v for k, v in r._asdict().items()
                                                          if k not in ("Index", "variant", "codes")}
                                        for r in rows.itertuples()}
                              for variant, rows in table.groupby("variant", sort=False)})
    write_csv(args.table, table)
    save_figure(codebook_figure(table), args.figure)


if __name__ == "__main__":
    run(main, resumable=True)
