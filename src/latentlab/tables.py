"""Tables are pandas DataFrames: written as CSV (for `dvc plots` and scripts) and markdown (for people)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from latentlab.io import write_text


def write_csv(path: str | Path, frame: pd.DataFrame) -> None:
    """The frame as CSV without its index, written atomically."""
    write_text(path, frame.to_csv(index=False, lineterminator="\n"))


def read_csv(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path)


def to_markdown(frame: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-flavoured markdown table; numbers with `digits` significant digits, missing values blank."""
    blanked = frame.astype(object).where(frame.notna(), None)  # tabulate blanks None, but prints NaN as "nan"
    return blanked.to_markdown(index=False, floatfmt=f".{digits}g", missingval="") + "\n"
