"""Tables as CSV (for `dvc plots`) and markdown (for people), written atomically."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from latentlab.io import write_text

Row = dict[str, Any]


def write_csv(path: str | Path, rows: list[Row]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def read_csv(path: str | Path) -> list[dict[str, str]]:
    with Path(path).open(newline="") as f:
        return list(csv.DictReader(f))


def markdown_table(rows: list[Row], digits: int = 4) -> str:
    """A GitHub-flavoured markdown table; floats with `digits` significant digits, None blank."""

    def cell(value: Any) -> str:
        if value is None:
            return ""
        return f"{value:.{digits}g}" if isinstance(value, float) else str(value)

    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"
