"""Stage `sweep_summary`: test loss and MSE versus latent size per model, and every loss curve."""

import argparse
from pathlib import Path

from latentlab.cli import run
from latentlab.config import load_config
from latentlab.evaluate.sweep import loss_curves, sweep_metrics, sweep_rows
from latentlab.io import write_json, write_text
from latentlab.tables import markdown_table, write_csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=Path, required=True, help="folder of the runs' metrics JSON")
    parser.add_argument("--logs", type=Path, required=True, help="folder of the runs' DVCLive logs")
    parser.add_argument("--metrics", type=Path, required=True, help="JSON: {model: {latent: numbers}}")
    parser.add_argument("--table", type=Path, required=True, help="CSV, one row per run (also plot data)")
    parser.add_argument("--markdown", type=Path, required=True)
    parser.add_argument("--curves", type=Path, required=True, help="CSV of per-epoch losses (plot data)")
    args = parser.parse_args()
    cfg = load_config()
    rows = sweep_rows(args.runs, cfg.sweep.models, cfg.sweep.latents)
    write_json(args.metrics, sweep_metrics(rows))
    write_csv(args.table, rows)
    write_text(args.markdown, markdown_table(rows))
    write_csv(args.curves, loss_curves(args.logs, cfg.sweep.models, cfg.sweep.latents))


if __name__ == "__main__":
    run(main)
