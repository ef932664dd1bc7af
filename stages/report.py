"""Stage `report`: every number of the study in one long CSV and one markdown report with the
verdicts, and the headline numbers (metrics/headline.json) that `dvc exp show` displays."""

import argparse
from pathlib import Path

from latentlab.cli import run
from latentlab.io import write_json, write_text
from latentlab.report import Metrics, headline, markdown, number_table
from latentlab.tables import write_csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--metrics", type=Path, required=True, help="folder of the stages' metrics")
    parser.add_argument("--table", type=Path, required=True, help="CSV: every number, one per row")
    parser.add_argument("--markdown", type=Path, required=True)
    parser.add_argument("--headline", type=Path, required=True, help="JSON of at most 20 numbers")
    args = parser.parse_args()
    metrics = Metrics.read(args.metrics)
    with metrics.reading():
        write_csv(args.table, number_table(metrics))
        write_text(args.markdown, markdown(metrics))
        write_json(args.headline, headline(metrics))


if __name__ == "__main__":
    run(main)
