"""Output files written atomically, together and reproducibly.

Every output is first written to a temporary path beside it (suffix `.tmp`, which .dvcignore and
.gitignore skip). Inside `stage_outputs()`, which `cli.run` opens around every stage, no output is
replaced until the stage has written all of them: then `StageOutputs.commit` moves them into place
together, after recording the moves in a journal. So a stage that fails, is killed or hits a full
disk leaves every output it had before, byte for byte; a kill during the moves themselves is
rolled back by the next stage's `recover`. Outside a stage (tests, scripts) a write replaces its
target at once. The same content always gives the same bytes, so DVC's hashes change only when a
result does.
"""

from __future__ import annotations

import contextvars
import io
import json
import math
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from latentlab.errors import CheckpointError, InputError, OutputError

TMP_SUFFIX = ".tmp"
STATE_DIR = Path(".resume")  # unfinished work of this workspace; git- and DVC-ignored
JOURNAL = STATE_DIR / "commit.json"  # the moves of a commit in progress, relative to the project root

_current: contextvars.ContextVar[StageOutputs | None] = contextvars.ContextVar("stage_outputs", default=None)


# --- a stage's outputs, replaced together ------------------------------------------------------


class StageOutputs:
    """The outputs one stage run has written to temporary paths, each waiting to replace its target."""

    def __init__(self, journal: Path = JOURNAL):
        self.journal = journal
        self.moves: dict[Path, Path] = {}  # target -> its temporary path, in the order written
        self.callbacks: list[Callable[[], None]] = []

    def add(self, staged: Path, target: Path) -> None:
        earlier = self.moves.pop(target, None)
        if earlier is not None:  # written twice: the later content wins
            _remove(earlier)
        self.moves[target] = staged

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once every output is in place (e.g. clear a resume state the outputs supersede)."""
        self.callbacks.append(callback)

    def commit(self) -> None:
        """Replace every target by its new content; on an OS error put every target back as it was."""
        moves = [{"target": str(target), "staged": str(staged),
                  "backup": str(_sibling(target, "old")) if _exists(target) else None}
                 for target, staged in self.moves.items()]
        if moves:
            _write_journal(self.journal, {"state": "moving", "moves": moves})
            try:
                for move in moves:
                    if move["backup"]:
                        os.replace(move["target"], move["backup"])
                    os.replace(move["staged"], move["target"])
            except OSError as error:
                _roll_back(moves)
                self.journal.unlink(missing_ok=True)
                raise OutputError(f"cannot write {move['target']}: {error.strerror or error}; free disk space or make "
                                  "the folder writable, then run `dvc repro` again (every output is unchanged)") from error
            _write_journal(self.journal, {"state": "moved", "moves": moves})
            _finish(moves)
            self.journal.unlink(missing_ok=True)
        self.moves.clear()
        for callback in self.callbacks:
            callback()

    def discard(self) -> None:
        for staged in self.moves.values():
            _remove(staged)
        self.moves.clear()


@contextmanager
def stage_outputs(journal: Path = JOURNAL) -> Iterator[StageOutputs]:
    """Collect the outputs written inside the block and commit them together when it ends without error."""
    outputs = StageOutputs(journal)
    token = _current.set(outputs)
    try:
        yield outputs
    except BaseException:
        outputs.discard()
        raise
    finally:
        _current.reset(token)
    outputs.commit()


def after_commit(callback: Callable[[], None]) -> None:
    """`callback` once the current stage's outputs are in place; at once outside a stage."""
    outputs = _current.get()
    if outputs is None:
        callback()
    else:
        outputs.after_commit(callback)


def recover(journal: Path = JOURNAL) -> None:
    """Finish what a killed commit left: moves half done are undone, moves all done are tidied up."""
    if not journal.is_file():
        return
    try:
        record = json.loads(journal.read_text())
        moves = record["moves"]
    except (OSError, ValueError, KeyError, TypeError):  # a journal cut short: nothing was moved yet
        journal.unlink(missing_ok=True)
        return
    if record.get("state") == "moved":
        _finish(moves)
    else:
        _roll_back(moves)
    journal.unlink(missing_ok=True)


def _roll_back(moves: list[dict]) -> None:
    for move in reversed(moves):
        target, backup = Path(move["target"]), move["backup"]
        if backup is None or Path(backup).exists() or not _exists(target):
            _remove(target)  # the new content, or nothing (a target that did not exist before)
        if backup is not None and Path(backup).exists():
            os.replace(backup, target)
        _remove(Path(move["staged"]))


def _finish(moves: list[dict]) -> None:
    for move in moves:
        if move["backup"]:
            _remove(Path(move["backup"]))


def _write_journal(journal: Path, record: dict) -> None:
    journal.parent.mkdir(parents=True, exist_ok=True)
    tmp = journal.with_name(journal.name + TMP_SUFFIX)
    with tmp.open("w") as f:
        json.dump(record, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, journal)


# --- one output ------------------------------------------------------------------------------


@contextmanager
def atomic_path(path: str | Path, *, output: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` if the block succeeds: at the stage's
    commit when `path` is an output of a stage, at once otherwise (`output=False`: e.g. a resume state,
    which must outlive a stage that fails). An OSError inside becomes an OutputError naming `path`."""
    path = Path(path)
    with _writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(path)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            yield tmp
            with tmp.open("rb+") as f:
                os.fsync(f.fileno())  # the bytes are on disk before the name points at them
            tmp.chmod(0o644)  # mkstemp creates 0600
            _place(tmp, path, staged=output)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `path`; it replaces `path` (and all it held) on success.

    A folder of pictures written this way holds exactly the files of the last successful run.
    Files written inside it replace their names at once: the folder is private until it is placed.
    """
    path = Path(path)
    with _writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(path)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX))
        try:
            yield tmp
            tmp.chmod(0o755)  # mkdtemp creates 0700
            _place(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _place(tmp: Path, path: Path, staged: bool = True) -> None:
    """Stage `tmp` to replace `path` at the commit, or replace it now (outside a stage, not an output, or
    inside a temporary folder, which is itself placed whole)."""
    outputs = _current.get()
    if staged and outputs is not None and not any(parent.name.endswith(TMP_SUFFIX) for parent in path.parents):
        outputs.add(tmp, path)
        return
    if tmp.is_dir() and _exists(path):
        old = _sibling(path, "old")
        os.replace(path, old)
        os.replace(tmp, path)
        _remove(old)
    else:
        os.replace(tmp, path)


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn an OSError while writing `path` into an OutputError that says what to do."""
    try:
        yield
    except OSError as error:
        reason = error.strerror or str(error)
        raise OutputError(f"cannot write {public_path(path)}: {reason}; free disk space or make the folder "
                          "writable, then run `dvc repro` again (every output is unchanged)") from error


_STAGED_FOLDER = re.compile(rf"^\.(?P<name>.+)\.[^.]+{re.escape(TMP_SUFFIX)}$")  # atomic_folder's temporary name


def public_path(path: Path) -> Path:
    """`path` named as the user knows it: a temporary folder of `atomic_folder` by the folder it becomes."""
    return Path(*[match["name"] if (match := _STAGED_FOLDER.match(part)) else part for part in Path(path).parts])


def _sibling(path: Path, tag: str) -> Path:
    """A free temporary name beside `path`."""
    return path.with_name(f".{path.name}.{tag}.{secrets.token_hex(6)}{TMP_SUFFIX}")


def _remove_stale(path: Path) -> None:
    """Temporary files of `path` that a killed process left (DVC holds a lock: no other writer is live)."""
    for stale in path.parent.glob(f".{path.name}.*{TMP_SUFFIX}"):
        if _current.get() is None or stale not in _current.get().moves.values():
            _remove(stale)


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


# --- writers and readers ---------------------------------------------------------------------


def copy(source: str | Path, target: str | Path) -> None:
    """Copy a file or a folder, atomically: `target` is replaced whole, or left as it was. A source that
    cannot be read raises InputError, a target that cannot be written OutputError."""
    source = Path(source)
    if not _exists(source):
        raise InputError(f"{source}: no such file; run `dvc repro` to create it (or `dvc pull` / `dvc checkout`)")
    with (atomic_folder(target) if source.is_dir() else atomic_path(target)) as tmp:
        if source.is_dir():
            shutil.copytree(source, tmp, dirs_exist_ok=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(source, tmp)


def _link_or_copy(source: str | Path, target: str | Path) -> None:
    """A hard link where the filesystem allows it (outputs are never modified in place), else a copy.
    A read error raises InputError (copytree lets it through: it collects only OSErrors)."""
    Path(target).unlink(missing_ok=True)
    try:
        os.link(source, target)
        return
    except OSError:
        pass
    try:
        src = open(source, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as error:
        raise _unreadable(source, error) from error
    with src, open(target, "wb") as out:
        while True:
            try:
                block = src.read(1 << 20)
            except OSError as error:
                raise _unreadable(source, error) from error
            if not block:
                return
            out.write(block)  # an OSError here is the target's: atomic_path makes it an OutputError


def _unreadable(path: str | Path, error: OSError) -> InputError:
    return InputError(f"cannot read {path}: {error.strerror or error}; restore it with `dvc checkout` or "
                      "recreate it with `dvc repro --force` on the stage that writes it")


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, data: Any) -> None:
    """Strict JSON (RFC 8259, which has no NaN or Infinity): a number that is not finite becomes null,
    with the reason in a `<key>_null_reason` entry beside it."""
    write_text(path, json.dumps(finite_json(data), indent=2, allow_nan=False) + "\n")


def finite_json(value: Any) -> Any:
    """`value` with every non-finite float replaced by None; in a dict, the reason is stored beside it."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out[key] = finite_json(item)
            if isinstance(item, float) and not math.isfinite(item):
                out[f"{key}_null_reason"] = f"not a finite number ({item}): it could not be computed"
        return out
    if isinstance(value, (list, tuple)):
        return [finite_json(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Record(dict):
    """A dict read from a file: a missing key raises InputError naming the file and the key, not KeyError."""

    def __init__(self, data: dict, source: Path, prefix: str = ""):
        super().__init__({key: _record(value, source, f"{prefix}{key}.") for key, value in data.items()})
        self.source, self.prefix = source, prefix

    def __missing__(self, key: Any) -> Any:
        raise InputError(f"{self.source}: not the file this stage reads (no {self.prefix}{key}); "
                         f"{restore_hint(self.source, in_git=self.source.suffix == '.json')}")


def _record(value: Any, source: Path, prefix: str) -> Any:
    if type(value) is dict:  # not an OrderedDict: a state_dict keeps its type (and its _metadata)
        return Record(value, source, prefix)
    if isinstance(value, list):
        return [_record(item, source, prefix) for item in value]
    return value


def read_json(path: str | Path) -> Record:
    """A JSON object from a file, as a Record; a missing, unreadable or foreign file raises InputError naming
    it and the fix."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; run `dvc repro` to create it (or `dvc pull` / `dvc checkout`)")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InputError(f"{path}: unreadable ({type(error).__name__}: {str(error)[:100]}); "
                         f"{restore_hint(path)}") from error
    if not isinstance(data, dict):
        raise InputError(f"{path}: not the file this stage reads (a {type(data).__name__}, not a JSON object); "
                         f"{restore_hint(path)}")
    return Record(data, path)


def restore_hint(path: Path, in_git: bool = True) -> str:
    """What to do about a damaged input: restore it (from git, or DVC's cache), or recreate it."""
    restore = f"`git checkout -- {path}` or `dvc checkout {path}`" if in_git else f"`dvc checkout {path}`"
    return f"restore it with {restore} or recreate it with `dvc repro --force` on the stage that writes it"


def save_tensors(path: str | Path, data: dict[str, Any], *, output: bool = True) -> None:
    """torch.save, atomically and byte-for-byte reproducibly (`output`: see `atomic_path`); load back with
    `load_tensors`."""
    # Saved through a buffer: torch.save names the archive's inner folder after the file it writes
    # to, and the temporary file's random name would make every save of the same data differ.
    import torch  # imported here: the checks of params.yaml write text only, and need no torch

    buffer = io.BytesIO()
    torch.save(data, buffer)
    with atomic_path(path, output=output) as tmp:
        tmp.write_bytes(buffer.getvalue())


def load_tensors(path: str | Path, device: str | Any = "cpu", keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """What `save_tensors` wrote (on `device`): a dict holding at least `keys`. A missing, truncated or
    foreign file raises CheckpointError naming the file and the fix."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file; run `dvc repro` to create it (or `dvc pull` / `dvc checkout`)")
    try:
        data = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many kinds for a damaged file
        raise CheckpointError(f"{path}: unreadable ({type(error).__name__}: {str(error).splitlines()[0][:120]}); "
                              f"{restore_hint(path, in_git=False)}") from error
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: not the file this stage reads (a {type(data).__name__}, not a dict); "
                              f"{restore_hint(path, in_git=False)}")
    data = Record(data, path)
    for key in keys:
        data[key]  # noqa: B018 - a missing key raises InputError naming the file
    return data
