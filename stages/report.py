"""Stage `report`: every number of the study in one CSV and one markdown file, with the winners."""

import argparse
from pathlib import Path

from latentlab.cli import run
from latentlab.io import write_text
from latentlab.report import Metrics, markdown, rows
from latentlab.tables import write_csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--metrics", type=Path, required=True, help="folder of the stages' metrics")
    parser.add_argument("--table", type=Path, required=True, help="CSV, one row per model/latent and sampler")
    parser.add_argument("--markdown", type=Path, required=True)
    args = parser.parse_args()
    metrics = Metrics.read(args.metrics)
    write_csv(args.table, rows(metrics))
    write_text(args.markdown, markdown(metrics))


if __name__ == "__main__":
    run(main)
