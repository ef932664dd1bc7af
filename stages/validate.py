"""Stage `validate`: check params.yaml before any other stage runs (every stage depends on its output).

DVC removes a stage's outputs just before running it. This stage runs first whenever params.yaml
changes, so a bad value stops `dvc repro` here, with one line naming the key, before any result
is touched. Its output never changes while params are valid, so valid edits rerun only the
stages whose params changed.
"""

import argparse
from pathlib import Path

from latentlab.cli import run
from latentlab.config import load_config
from latentlab.io import write_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("params", type=Path, help="the params file to check")
    parser.add_argument("--out", type=Path, help="written (always the same) when the checks pass")
    args = parser.parse_args()
    cfg = load_config(args.params)
    if cfg.base.device == "cuda":  # only then is torch (a second to import) needed: is there a GPU?
        from latentlab.runtime import pick_device

        pick_device(cfg.base.device)
    if args.out:
        write_text(args.out, f"{args.params} passed the checks of latentlab.config\n")
    print(f"{args.params}: every value passes the checks")


if __name__ == "__main__":
    run(main)
