"""Resume states: an interrupted training continues from its last finished epoch, and only the
very same run may continue it.

A state is keyed by everything that determines the run: the model's config and budget, the seed
and device, the content of its inputs (prepared data, codes), the stage script and the latentlab
sources. A state of any other run, or one that cannot be read, is set aside with a one-line
warning and the run starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from latentlab.io import STATE_DIR, save_tensors

RESUME_DIR = STATE_DIR  # unfinished runs' states; git- and DVC-ignored
PACKAGE = Path(__file__).parent
STATE_KEYS = ("key", "model", "optimizer", "schedule", "shuffle", "rng", "history")


class ResumeFile:
    """The state of an unfinished run, saved after each epoch; removed once the stage's outputs that
    supersede it are in place (so a kill between the last epoch and those outputs loses no training)."""

    def __init__(self, path: str | Path, identity: dict[str, Any]):
        self.path = Path(path)
        self.key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()

    def load(self) -> dict[str, Any] | None:
        """The saved state of this very run, or None (nothing saved, or set aside with a warning)."""
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - a state cut short by a kill fails in many ways
            return self._set_aside(f"is unreadable ({type(error).__name__}: {str(error).splitlines()[0][:80]})")
        missing = [key for key in STATE_KEYS if not isinstance(state, dict) or key not in state]
        if missing:
            return self._set_aside(f"is not a resume state of this version (no {missing[0]!r})")
        if state["key"] != self.key:
            return self._set_aside("belongs to another run (other params, data, seed or code)")
        return state

    def save(self, state: dict[str, Any]) -> None:
        save_tensors(self.path, {"key": self.key, **state}, output=False)  # kept even if the stage then fails

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def _set_aside(self, why: str) -> None:
        aside = self.path.with_name(self.path.name + ".set-aside")
        self.path.replace(aside)
        print(f"warning: {self.path} {why}; moved to {aside.name}, starting afresh", file=sys.stderr)
        return None


def file_digest(paths: Iterable[str | Path]) -> str:
    """sha256 of the files' names and bytes; folders are read recursively, in sorted order."""
    digest = hashlib.sha256()
    for path in map(Path, paths):
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def code_digest() -> str:
    """sha256 of the latentlab sources and of the running stage script."""
    script = Path(sys.argv[0])
    return file_digest([*sorted(PACKAGE.rglob("*.py")), *([script] if script.suffix == ".py" else [])])
