"""Output files written atomically and reproducibly: a stage that stops half-way leaves the previous
file (or folder) whole, and the same content always gives the same bytes, so DVC's hashes only
change when a result does.

Temporary files carry the suffix `.tmp` and live beside their target, never inside a folder that
is itself being replaced; `.dvcignore` lists `*.tmp`, so a file left by a killed process never
changes a hash DVC computes.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from latentlab.errors import CheckpointError, OutputError

TMP_SUFFIX = ".tmp"


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` only if the block succeeds.

    An OSError inside (full disk, read-only folder) becomes an OutputError naming `path`.
    """
    path = Path(path)
    with _writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            yield tmp
            with tmp.open("rb+") as f:
                os.fsync(f.fileno())  # the bytes are on disk before the name points at them
            tmp.chmod(0o644)  # mkstemp creates 0600
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `path`; it replaces `path` (and all it held) on success.

    A folder of pictures written this way holds exactly the files of the last successful run.
    """
    path = Path(path)
    with _writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX))
        try:
            yield tmp
            tmp.chmod(0o755)  # mkdtemp creates 0700
            if path.exists():
                old = tmp.with_name(tmp.name + ".old" + TMP_SUFFIX)
                os.replace(path, old)
                os.replace(tmp, path)
                shutil.rmtree(old)
            else:
                os.replace(tmp, path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn an OSError while writing `path` into an OutputError that says what to do."""
    try:
        yield
    except OSError as error:
        reason = error.strerror or str(error)
        raise OutputError(f"cannot write {path}: {reason}; free disk space or make the folder writable, "
                          "then run `dvc repro` again (the previous file is unchanged)") from error


def copy(source: str | Path, target: str | Path) -> None:
    """Copy a file or a folder, atomically: `target` is replaced whole, or left as it was."""
    source = Path(source)
    if source.is_dir():
        with atomic_folder(target) as tmp:
            shutil.copytree(source, tmp, dirs_exist_ok=True)
    else:
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")


def read_json(path: str | Path) -> Any:
    with Path(path).open() as f:
        return json.load(f)


def save_tensors(path: str | Path, data: dict[str, Any]) -> None:
    """torch.save, atomically and byte-for-byte reproducibly; load back with `load_tensors`."""
    # Saved through a buffer: torch.save names the archive's inner folder after the file it writes
    # to, and the temporary file's random name would make every save of the same data differ.
    import torch  # imported here: the checks of params.yaml write text only, and need no torch

    buffer = io.BytesIO()
    torch.save(data, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def load_tensors(path: str | Path, device: str | Any = "cpu") -> dict[str, Any]:
    """What `save_tensors` wrote (on `device`); a missing, truncated or foreign file raises CheckpointError."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file; run `dvc repro` to create it (or `dvc pull` / `dvc checkout`)")
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many kinds for a damaged file
        raise CheckpointError(f"{path}: unreadable ({type(error).__name__}: {str(error).splitlines()[0][:120]}); "
                              f"restore it with `dvc checkout {path}` or recreate it with `dvc repro --force` "
                              "on the stage that writes it") from error
