"""Outputs are written atomically and reproducibly: a failed write leaves the previous file whole,
the same content gives the same bytes, and a write that cannot happen says which path and what to do."""

from __future__ import annotations

import re

import pytest
import torch

from latentlab.errors import CheckpointError, OutputError
from latentlab.io import atomic_folder, atomic_path, load_tensors, read_json, save_tensors, write_json, write_text


def test_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"mse": 0.01})
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text('{"mse": 0.0')  # half written...
            raise RuntimeError("interrupted")  # ...when the stage dies
    assert read_json(path) == {"mse": 0.01}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary file left


def test_write_creates_folders_and_readable_files(tmp_path):
    path = tmp_path / "a" / "b" / "m.json"
    write_json(path, {"x": 1})
    assert read_json(path) == {"x": 1}
    assert path.stat().st_mode & 0o777 == 0o644


def test_save_tensors_gives_the_same_bytes_for_the_same_content(tmp_path):
    """The file name never enters the archive: two names, one content, one sequence of bytes."""
    data = {"codes": torch.arange(12, dtype=torch.int16).view(3, 4), "facts": {"num_classes": 10}}
    save_tensors(tmp_path / "a.pt", data)
    save_tensors(tmp_path / "b.pt", {"codes": data["codes"].clone(), "facts": {"num_classes": 10}})
    save_tensors(tmp_path / "a-again.pt", data)
    first = (tmp_path / "a.pt").read_bytes()
    assert first == (tmp_path / "b.pt").read_bytes() == (tmp_path / "a-again.pt").read_bytes()
    assert b"a.pt" not in first and b".tmp" not in first
    loaded = load_tensors(tmp_path / "a.pt")
    assert torch.equal(loaded["codes"], data["codes"]) and loaded["facts"] == {"num_classes": 10}


def test_load_tensors_names_a_missing_or_damaged_file(tmp_path):
    with pytest.raises(CheckpointError, match=re.escape(f"{tmp_path / 'absent.pt'}: no such file; run `dvc repro`")):
        load_tensors(tmp_path / "absent.pt")
    damaged = tmp_path / "damaged.pt"
    save_tensors(damaged, {"x": torch.ones(100)})
    damaged.write_bytes(damaged.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=re.escape(f"{damaged}: unreadable")):
        load_tensors(damaged)


def test_atomic_folder_replaces_the_whole_folder(tmp_path):
    folder = tmp_path / "grids"
    with atomic_folder(folder) as tmp:
        (tmp / "ae.png").write_text("old ae")
        (tmp / "gone.png").write_text("a model no longer in the sweep")
    with atomic_folder(folder) as tmp:
        assert list(tmp.iterdir()) == []  # every run starts from an empty folder
        (tmp / "ae.png").write_text("new ae")
    assert sorted(p.name for p in folder.iterdir()) == ["ae.png"]
    assert (folder / "ae.png").read_text() == "new ae"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grids"]  # no temporary folder left
    assert folder.stat().st_mode & 0o777 == 0o755


def test_a_failed_folder_write_leaves_the_old_folder_intact(tmp_path):
    folder = tmp_path / "grids"
    with atomic_folder(folder) as tmp:
        (tmp / "ae.png").write_text("old ae")
    with pytest.raises(RuntimeError):
        with atomic_folder(folder) as tmp:
            (tmp / "vae.png").write_text("half of the new run")
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in folder.iterdir()) == ["ae.png"]
    assert (folder / "ae.png").read_text() == "old ae"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grids"]


@pytest.mark.parametrize("write", [
    lambda path: write_text(path, "x"),
    lambda path: save_tensors(path, {"x": torch.ones(1)}),
    lambda path: atomic_folder(path).__enter__(),
])
def test_an_os_error_while_writing_names_the_path(tmp_path, write):
    """Writing below a regular file fails in the OS; the stage gets one line naming the path."""
    (tmp_path / "file").write_text("a file, not a folder")
    path = tmp_path / "file" / "out"
    with pytest.raises(OutputError, match=re.escape(f"cannot write {path}: ") + ".*run `dvc repro` again"):
        write(path)


def test_an_unwritable_target_keeps_the_previous_file(tmp_path):
    """os.replace onto a folder fails: the error names the target and the old content stays."""
    target = tmp_path / "metrics.json"
    target.mkdir()
    (target / "inside").write_text("kept")
    with pytest.raises(OutputError, match=re.escape(f"cannot write {target}")):
        write_json(target, {"mse": 0.1})
    assert (target / "inside").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]  # the temporary file is gone
