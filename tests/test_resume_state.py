"""Resume states: only the very same run continues; any other state is set aside with a warning."""

from __future__ import annotations

import torch

from latentlab.io import save_tensors
from latentlab.resume import STATE_KEYS, ResumeFile, file_digest


def a_state(**values) -> dict:
    """A state as `fit` saves it (every key but the run's key, which ResumeFile adds)."""
    return {key: values.get(key, {}) for key in STATE_KEYS if key != "key"} | values


def test_a_state_of_the_same_run_is_loaded(tmp_path):
    ResumeFile(tmp_path / "state.pt", {"lr": 1.0, "seed": 0}).save(a_state(history=[{"train/loss": 2.0}]))
    state = ResumeFile(tmp_path / "state.pt", {"seed": 0, "lr": 1.0}).load()  # key order does not matter
    assert state["history"] == [{"train/loss": 2.0}]


def test_a_state_of_another_run_is_set_aside_with_a_warning(tmp_path, capsys):
    path = tmp_path / "state.pt"
    ResumeFile(path, {"lr": 1.0}).save(a_state(history=[]))
    saved = path.read_bytes()
    assert ResumeFile(path, {"lr": 2.0}).load() is None
    warning = capsys.readouterr().err
    assert warning.startswith(f"warning: {path} belongs to another run") and "starting afresh" in warning
    assert not path.exists() and (tmp_path / "state.pt.set-aside").read_bytes() == saved  # kept for a look, not lost
    assert ResumeFile(path, {"lr": 1.0}).load() is None  # gone: even its own run starts afresh


def test_an_unreadable_state_is_set_aside_with_a_warning(tmp_path, capsys):
    path = tmp_path / "state.pt"
    path.write_bytes(b"\x00garbage, not a torch file" * 10)
    assert ResumeFile(path, {"lr": 1.0}).load() is None
    warning = capsys.readouterr().err
    assert warning.startswith(f"warning: {path} is unreadable") and "moved to state.pt.set-aside" in warning
    assert not path.exists() and (tmp_path / "state.pt.set-aside").is_file()


def test_a_state_without_a_key_belongs_to_no_run(tmp_path, capsys):
    save_tensors(tmp_path / "state.pt", a_state(history=[]))
    assert ResumeFile(tmp_path / "state.pt", {"lr": 1.0}).load() is None
    assert "is not a resume state of this version (no 'key')" in capsys.readouterr().err


def test_a_readable_file_of_another_structure_is_set_aside(tmp_path, capsys):
    """A tensor file that is not a state (a bare tensor, a dict without the optimizer) is no run's state."""
    for content, missing in ((torch.ones(3), "'key'"), ({"key": "k", "history": []}, "'model'")):
        save_tensors(tmp_path / "state.pt", content) if isinstance(content, dict) else torch.save(content, tmp_path / "state.pt")
        assert ResumeFile(tmp_path / "state.pt", {"lr": 1.0}).load() is None
        assert f"is not a resume state of this version (no {missing})" in capsys.readouterr().err
        assert (tmp_path / "state.pt.set-aside").is_file() and not (tmp_path / "state.pt").exists()


def test_no_state_is_no_warning(tmp_path, capsys):
    resume = ResumeFile(tmp_path / "state.pt", {"lr": 1.0})
    assert resume.load() is None and capsys.readouterr().err == ""
    resume.save(a_state(model={"w": torch.ones(2)}))
    resume.clear()
    assert not resume.path.exists()
    resume.clear()  # clearing twice is fine


def test_file_digest_follows_names_and_bytes(tmp_path):
    folder = tmp_path / "prepared"
    folder.mkdir()
    (folder / "train.pt").write_bytes(b"abc")
    (folder / "sub").mkdir()
    (folder / "sub" / "info.json").write_text("{}")
    before = file_digest([folder])
    assert file_digest([folder]) == before
    (folder / "sub" / "info.json").write_text('{"x": 1}')  # a change deep inside the folder
    changed = file_digest([folder])
    assert changed != before
    (folder / "train.pt").rename(folder / "test.pt")  # same bytes, another name
    assert file_digest([folder]) != changed
