"""What every stage entry point shares: its outputs are replaced together or not at all, and expected
problems end the stage with one clear line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from latentlab.errors import LatentlabError
from latentlab.io import recover, stage_outputs

INTERRUPTED = {  # what Ctrl-C leaves, by kind of stage
    True: "interrupted: finished epochs are kept in .resume/ and every output is unchanged; "
          "run `dvc repro` again to continue",
    False: "interrupted: every output is unchanged; run `dvc repro` again",
}


def run(main: Callable[[], None], *, resumable: bool = False) -> None:
    """Call `main` with its outputs collected and committed together when it returns.

    A LatentlabError prints its message (no traceback) and exits 2, Ctrl-C exits 130; either way no output
    was touched. resumable: the stage trains, keeping finished epochs in .resume/ (said on Ctrl-C).
    """
    try:
        recover()  # a commit that a kill cut short is undone (or finished) first
        with stage_outputs():
            main()
    except LatentlabError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(INTERRUPTED[resumable], file=sys.stderr)
        sys.exit(130)


def training_parser(description: str, inputs: str = "--data", inputs_help: str = "prepared data folder"
                    ) -> argparse.ArgumentParser:
    """The arguments of every training stage: its inputs, and where its checkpoint, metrics and log go."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(inputs, type=Path, required=True, help=inputs_help)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True, help="DVCLive folder of per-epoch metrics")
    return parser
