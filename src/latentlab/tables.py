"""Tables are pandas DataFrames: written as CSV (for `dvc plots` and scripts) and markdown (for people)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from latentlab.errors import InputError
from latentlab.io import restore_hint, write_text


def write_csv(path: str | Path, frame: pd.DataFrame) -> None:
    """The frame as CSV without its index, written atomically."""
    write_text(path, frame.to_csv(index=False, lineterminator="\n"))


def read_csv(path: str | Path, columns: tuple[str, ...] = (), sep: str = ",") -> pd.DataFrame:
    """A CSV (or, with sep="\\t", TSV) table holding at least `columns`; a missing, unreadable or foreign
    file raises InputError naming it and the fix."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; run `dvc repro` to create it (or `dvc pull` / `dvc checkout`)")
    try:
        frame = pd.read_csv(path, sep=sep)
    except (OSError, ValueError, pd.errors.ParserError) as error:  # EmptyDataError, UnicodeDecodeError: ValueErrors
        raise InputError(f"{path}: unreadable ({type(error).__name__}: {str(error).splitlines()[0][:100]}); "
                         f"{restore_hint(path)}") from error
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputError(f"{path}: not the table this stage reads (no column {missing[0]!r}); {restore_hint(path)}")
    return frame


def to_markdown(frame: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-flavoured markdown table; numbers with `digits` significant digits, missing values blank."""
    blanked = frame.astype(object).where(frame.notna(), None)  # tabulate blanks None, but prints NaN as "nan"
    return blanked.to_markdown(index=False, floatfmt=f".{digits}g", missingval="") + "\n"
