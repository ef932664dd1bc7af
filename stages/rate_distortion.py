"""Stage `rate_distortion`: bits per image against distortion for every model and latent size, and at
model.latent over every seed; which code reconstructs best at equal bits."""

import argparse
from pathlib import Path

import pandas as pd

from latentlab.cli import run
from latentlab.config import load_config
from latentlab.evaluate.rate_distortion import at_equal_rate, rate_distortion_figure, rate_table
from latentlab.evaluate.sweep import contest_runs
from latentlab.figures import save_figure
from latentlab.io import read_json, write_json
from latentlab.stats import seeds_summary
from latentlab.tables import read_csv, write_csv

SWEEP_COLUMNS = ("model", "latent", "mse", "recon_nll", "kl_bits", "code_bits", "code_entropy_bits")
CONTEST_RATES = {"vae": ("kl_bits", "test"), "vqvae": ("entropy_bits", "codebook"), "fsq": ("entropy_bits", "codebook")}  # rate and where a run keeps it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sweep", type=Path, required=True, help="the sweep table (CSV)")
    parser.add_argument("--runs", type=Path, required=True, help="folder of the replicates' metrics JSON")
    parser.add_argument("--vqvae2", type=Path, nargs=4, required=True, metavar=("VQVAE2", "CODES", "TOP", "BOTTOM"),
                        help="metrics of vqvae2, extract_codes, prior_top, prior_bottom")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--table", type=Path, required=True, help="CSV: curve, model, latent, rate_bits, mse, recon_nll")
    parser.add_argument("--figure", type=Path, required=True)
    args = parser.parse_args()
    cfg = load_config()
    vq2, codes, top, bottom = map(read_json, args.vqvae2)
    vqvae2 = {"slots": vq2["slots"], "fixed_bits": codes["top"]["bits"] + codes["bottom"]["bits"],
              "prior_bits": top["test"]["bits_per_image"] + bottom["test"]["bits_per_image"],
              "mse": vq2["test"]["mse"], "recon_nll": vq2["test"]["recon_nll"]}
    table = rate_table(read_csv(args.sweep, SWEEP_COLUMNS), vqvae2)
    contest = {}
    for name, by_seed in contest_runs(args.runs, cfg).items():
        rate = CONTEST_RATES.get(name)
        contest[name] = seeds_summary({seed: {**({"rate_bits": m[rate[1]][rate[0]]} if rate else {}),
                                              "mse": m["test"]["mse"], "recon_nll": m["test"]["recon_nll"]}
                                       for seed, m in by_seed.items()})
    equal = at_equal_rate(table)
    write_json(args.metrics, {"latent": cfg.model.latent, "contest": contest, "vqvae2": vqvae2,
                              "equal_rate": _nested(equal)})
    write_csv(args.table, table)
    save_figure(rate_distortion_figure(table), args.figure)


def _nested(equal: pd.DataFrame) -> dict:
    """{curve: {latent: {rate_bits, each curve's MSE there, best}}} without the missing values."""
    out: dict = {}
    for record in equal.to_dict(orient="records"):
        values = {k: v for k, v in record.items() if k not in ("curve", "latent") and v is not None and v == v}
        out.setdefault(record["curve"], {})[str(record["latent"])] = values
    return out


if __name__ == "__main__":
    run(main)
