"""What every stage entry point shares: expected problems end the stage with one clear line."""

from __future__ import annotations

import sys
from collections.abc import Callable

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
