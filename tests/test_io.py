"""Outputs are replaced atomically: a failed write leaves the previous file whole."""

from __future__ import annotations

import pytest

from latentlab.io import atomic_path, read_json, write_json


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
    assert path.stat().st_mode & 0o644 == 0o644
