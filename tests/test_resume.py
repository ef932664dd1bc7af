"""Interrupted for real: `dvc repro` killed with SIGKILL in the middle of a training epoch.

The rerun continues the very same run from its last finished epoch and ends with the metrics of
an uninterrupted run; after a change of data it starts afresh.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest

from project import BIN, TINY, Project

# The classifier alone, with epochs long enough (a second or two) to be killed in the middle of one.
PARAMS = {**TINY, "data.train_size": 6000, "classifier.train.epochs": 4, "classifier.train.batch_size": 32}
STATE = ".resume/models-classifier.pt"


@pytest.fixture(scope="module")
def project(tmp_path_factory, mirror) -> Project:
    p = Project(tmp_path_factory.mktemp("resume"), mirror, PARAMS)
    p.dvc("repro", "classifier")
    p.uninterrupted = (p.path / "metrics" / "classifier.json").read_bytes()
    p.head = p.commit("classifier trained without interruption")
    return p


def kill_during_second_epoch(project: Project) -> None:
    """Start `dvc repro --force classifier` and SIGKILL its whole process group once epoch 1 is saved."""
    process = subprocess.Popen([str(BIN / "dvc"), "repro", "--force", "--single-item", "classifier"], cwd=project.path,
                               env=project.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while not (project.path / STATE).exists():
        assert process.poll() is None and time.monotonic() < deadline, "the stage ended before saving an epoch"
        time.sleep(0.05)
    time.sleep(0.3)  # into the second epoch
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert (project.path / STATE).exists()


def epochs_run(output: str) -> list[int]:
    return [int(n) for n in re.findall(r"classifier epoch (\d+)/", output)]


def test_a_killed_run_resumes_to_the_uninterrupted_result(project):
    project.restore(project.head, "classifier")
    kill_during_second_epoch(project)
    temporary = [p for out in project.outputs() if out.is_dir() for p in out.rglob("*.tmp")]
    assert temporary == [], "a killed stage left temporary files inside an output"
    done = project.dvc("repro", "classifier")
    assert epochs_run(done.stdout)[0] > 1, done.stdout  # continued, did not start over
    assert (project.path / "metrics" / "classifier.json").read_bytes() == project.uninterrupted
    assert not (project.path / STATE).exists()


def test_a_run_interrupted_before_a_change_of_data_starts_afresh(project):
    project.restore(project.head, "classifier")
    kill_during_second_epoch(project)
    project.edit_params({"data.name": "fashion_mnist"})
    done = project.dvc("repro", "classifier")
    assert "belongs to another run" in done.stderr and epochs_run(done.stdout)[0] == 1, done.stdout + done.stderr
