"""Stages `sweep` and `replicates`: AE, VAE and VQ-VAE runs on the shared trunk and budget.

    sweep: every model of sweep.models at every size of sweep.latents, with base.seed
    replicates: every model of sweep.models at model.latent, once per seed of sweep.seeds

A run whose model, config, seed, budget, data and code are those of a finished run in the output
folders (or, with --reuse, in another stage's: the sweep's run at model.latent is the replicate at
the sweep's seed) is copied; the others are trained, as many at once as there are cores.
"""

import argparse
from pathlib import Path

from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_info
from latentlab.runs import RunFolders, replicate_runs, sweep_runs, train_runs
from latentlab.runtime import pick_device

PLANS = {"sweep": sweep_runs, "replicates": replicate_runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("plan", choices=sorted(PLANS))
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--out", type=Path, nargs=3, required=True, metavar=("CHECKPOINTS", "METRICS", "LOGS"),
                        help="folders of the runs' checkpoints, metrics files and DVCLive logs")
    parser.add_argument("--reuse", type=Path, nargs=3, metavar=("CHECKPOINTS", "METRICS", "LOGS"),
                        help="another stage's runs, copied where they are the very runs wanted")
    args = parser.parse_args()
    cfg = load_config()
    device = pick_device(cfg.base.device)  # each run sets its own seed and threads
    out = RunFolders(*args.out)
    runs = PLANS[args.plan](cfg, tuple(load_info(args.data)["image_shape"]))
    train_runs(runs, cfg.train, args.data, out, [out, *([RunFolders(*args.reuse)] if args.reuse else [])],
               device=device)


if __name__ == "__main__":
    run(main, resumable=True)
