"""What every stage entry point shares: expected problems end the stage with one clear line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from latentlab.errors import LatentlabError


def run(main: Callable[[], None]) -> None:
    """Call `main`; a LatentlabError prints its message (no traceback) and exits 2, Ctrl-C exits 130."""
    try:
        main()
    except LatentlabError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: finished epochs are kept in .resume/; run `dvc repro` again to continue",
              file=sys.stderr)
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
