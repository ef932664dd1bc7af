"""What every stage entry point shares: expected errors end the stage with one clear line."""

from __future__ import annotations

import sys
from collections.abc import Callable

from latentlab.data import DataError
from latentlab.schema import ConfigError


def run(main: Callable[[], None]) -> None:
    """Call `main`; a ConfigError or DataError prints its message (no traceback) and exits 2."""
    try:
        main()
    except (ConfigError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: finished epochs are kept in .resume/; run `dvc repro` again to continue",
              file=sys.stderr)
        sys.exit(130)


def run_name(model: str, latent: int) -> str:
    """How one run of the sweep is named in dvc.yaml's paths: `ae-16`."""
    return f"{model}-{latent}"
