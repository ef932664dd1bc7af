"""Outputs are written atomically and reproducibly: a failed write leaves the previous file whole,
the same content gives the same bytes, and a write that cannot happen says which path and what to do."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import torch

import latentlab.io as io_module
from latentlab.errors import CheckpointError, InputError, OutputError
from latentlab.io import (
    StageOutputs,
    after_commit,
    atomic_folder,
    atomic_path,
    copy,
    load_tensors,
    read_json,
    recover,
    save_tensors,
    stage_outputs,
    write_json,
    write_text,
)


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


# --- a stage's outputs, replaced together ---------------------------------------------------------


def outputs_of_a_run(folder, version: str, journal) -> None:
    """A stage's three outputs (a file, a tensor file, a folder), written inside stage_outputs."""
    with stage_outputs(journal):
        write_json(folder / "metrics.json", {"version": version})
        save_tensors(folder / "model.pt", {"w": torch.full((3,), float(len(version)))})
        with atomic_folder(folder / "plots") as plots:
            (plots / f"{version}.png").write_text(version)


def contents(folder) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_outputs_are_replaced_together_when_the_stage_succeeds(tmp_path):
    journal = tmp_path / "state" / "commit.json"
    outputs_of_a_run(tmp_path / "out", "old", journal)
    outputs_of_a_run(tmp_path / "out", "newer", journal)
    assert read_json(tmp_path / "out" / "metrics.json") == {"version": "newer"}
    assert sorted(contents(tmp_path / "out")) == ["metrics.json", "model.pt", "plots/newer.png"]
    assert not journal.exists()


def test_a_stage_that_fails_after_writing_some_outputs_leaves_all_of_them(tmp_path):
    journal = tmp_path / "commit.json"
    outputs_of_a_run(tmp_path / "out", "old", journal)
    before = contents(tmp_path / "out")
    with pytest.raises(RuntimeError), stage_outputs(journal):
        write_json(tmp_path / "out" / "metrics.json", {"version": "new"})  # written, not yet in place...
        with atomic_folder(tmp_path / "out" / "plots") as plots:
            (plots / "new.png").write_text("new")
        raise RuntimeError("the stage dies before its last output")  # ...when the stage fails
    assert contents(tmp_path / "out") == before


def test_a_commit_cut_short_by_a_kill_is_rolled_back_by_the_next_stage(tmp_path):
    """A kill between the moves: the journal says what moved; recover puts every old output back."""
    journal = tmp_path / "commit.json"
    outputs_of_a_run(tmp_path / "out", "old", journal)
    before = contents(tmp_path / "out")
    outputs = StageOutputs(journal)
    token = io_module._current.set(outputs)
    write_json(tmp_path / "out" / "metrics.json", {"version": "new"})
    with atomic_folder(tmp_path / "out" / "plots") as plots:
        (plots / "new.png").write_text("new")
    io_module._current.reset(token)
    moves = list(outputs.moves.items())
    real_replace, calls = os.replace, []

    def killed_at_the_fourth_rename(source, target):
        """Renames: the journal, then metrics.json's backup and new content; the fourth never happens."""
        if len(calls) == 3:
            raise SystemExit("SIGKILL")  # the process stops here, between two outputs' moves
        calls.append(target)
        real_replace(source, target)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(io_module.os, "replace", killed_at_the_fourth_rename)
        with pytest.raises(SystemExit):
            outputs.commit()
    assert journal.exists() and len(moves) == 2
    assert contents(tmp_path / "out") != before  # the metrics file is already the new one
    recover(journal)
    assert contents(tmp_path / "out") == before and not journal.exists()
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_a_commit_that_moved_everything_is_tidied_up_not_undone(tmp_path):
    journal = tmp_path / "commit.json"
    outputs_of_a_run(tmp_path / "out", "old", journal)
    backup = tmp_path / "out" / ".metrics.json.old.1.tmp"
    backup.write_text("the old metrics, kept until the commit ended")
    journal.write_text(json.dumps({"state": "moved", "moves": [
        {"target": str(tmp_path / "out" / "metrics.json"), "staged": str(tmp_path / "gone"), "backup": str(backup)}]}))
    after = contents(tmp_path / "out")
    recover(journal)
    assert not backup.exists() and read_json(tmp_path / "out" / "metrics.json") == {"version": "old"}
    assert not journal.exists() and len(contents(tmp_path / "out")) == len(after) - 1


def test_an_os_error_during_the_commit_puts_every_output_back(tmp_path):
    journal = tmp_path / "commit.json"
    outputs_of_a_run(tmp_path / "out", "old", journal)
    before = contents(tmp_path / "out")
    with pytest.raises(OutputError, match="every output is unchanged"), stage_outputs(journal):
        write_json(tmp_path / "out" / "metrics.json", {"version": "new"})
        save_tensors(tmp_path / "out" / "model.pt", {"w": torch.zeros(3)})
        for staged in (tmp_path / "out").glob(".model.pt.*.tmp"):
            staged.unlink()  # its move will fail, after the metrics file has moved
    assert contents(tmp_path / "out") == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["metrics.json", "model.pt", "plots"]


def test_a_resume_state_is_written_at_once_inside_a_stage(tmp_path):
    """Not an output: it must outlive a stage that fails."""
    with pytest.raises(RuntimeError), stage_outputs(tmp_path / "commit.json"):
        save_tensors(tmp_path / "state.pt", {"epoch": 1}, output=False)
        raise RuntimeError("killed")
    assert load_tensors(tmp_path / "state.pt")["epoch"] == 1


def test_after_commit_runs_once_the_outputs_are_in_place_and_never_after_a_failure(tmp_path):
    seen = []
    with stage_outputs(tmp_path / "commit.json"):
        write_json(tmp_path / "m.json", {"x": 1})
        after_commit(lambda: seen.append((tmp_path / "m.json").exists()))
        assert seen == []
    assert seen == [True]
    with pytest.raises(RuntimeError), stage_outputs(tmp_path / "commit.json"):
        after_commit(lambda: seen.append("after a failure"))
        raise RuntimeError
    assert seen == [True]
    after_commit(lambda: seen.append("outside a stage: at once"))
    assert seen[-1] == "outside a stage: at once"


# --- strict and named reading ---------------------------------------------------------------


def test_metrics_are_strict_json_with_the_reason_beside_a_number_that_could_not_be_computed(tmp_path):
    write_json(tmp_path / "m.json", {"fid": float("nan"), "bits": [1.0, float("inf")], "ok": 2.0})
    text = (tmp_path / "m.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    loaded = json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))
    assert loaded["fid"] is None and "not a finite number (nan)" in loaded["fid_null_reason"]
    assert loaded["bits"] == [1.0, None] and loaded["ok"] == 2.0


def test_a_truncated_json_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "probe.json"
    write_json(path, {"ae": {"logistic": {"mean": 0.9}}})
    path.write_text(path.read_text()[:12])
    with pytest.raises(InputError, match=re.escape(f"{path}: unreadable (JSONDecodeError") + ".*git checkout -- "):
        read_json(path)


def test_a_json_without_an_expected_key_names_the_file_and_the_key(tmp_path):
    path = tmp_path / "probe.json"
    write_json(path, {"ae": {"logistic": {"mean": 0.9}}})
    record = read_json(path)
    assert record["ae"]["logistic"]["mean"] == 0.9 and record == {"ae": {"logistic": {"mean": 0.9}}}
    with pytest.raises(InputError, match=re.escape(f"{path}: not the file this stage reads (no ae.knn)")):
        record["ae"]["knn"]  # noqa: B018


def test_a_tensor_file_of_another_structure_names_the_file(tmp_path):
    path = tmp_path / "train.pt"
    torch.save(torch.ones(3), path)
    with pytest.raises(CheckpointError, match=re.escape(f"{path}: not the file this stage reads (a Tensor")):
        load_tensors(path)
    save_tensors(path, {"images": torch.ones(3)})
    with pytest.raises(InputError, match=re.escape(f"{path}: not the file this stage reads (no labels)")):
        load_tensors(path, keys=("images", "labels"))


def test_a_copy_names_the_side_that_failed(tmp_path):
    """A source that cannot be read is an input problem; a target that cannot be written an output one."""
    unreadable = Path("/proc/self/mem")  # opens, but reading its first byte fails (EIO)
    if not unreadable.exists():
        pytest.skip("needs Linux's /proc/self/mem, a file whose read fails")
    with pytest.raises(InputError, match=re.escape(f"cannot read {unreadable}: Input/output error")):
        copy(unreadable, tmp_path / "copy.pt")
    assert not (tmp_path / "copy.pt").exists() and not list(tmp_path.glob("*.tmp"))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "loss.tsv").write_text("step\tloss\n0\t1.0\n")
    (tmp_path / "file").write_text("a file, not a folder")
    with pytest.raises(OutputError, match=re.escape(f"cannot write {tmp_path / 'file' / 'copy'}")):
        copy(tmp_path / "run", tmp_path / "file" / "copy")
    copy(tmp_path / "run", tmp_path / "copy")
    assert (tmp_path / "copy" / "loss.tsv").read_text() == (tmp_path / "run" / "loss.tsv").read_text()
