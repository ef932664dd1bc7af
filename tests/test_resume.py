"""Interrupted for real: `dvc repro` SIGKILLed in the middle of a training (its first epoch saved, the
second trained but not saved). The rerun continues the very same run from its last finished epoch and
ends with the bytes of an uninterrupted run; after a change of data it starts afresh.
(tests/test_failures.py kills every kind of stage; this is the one that continues a training half done.)
"""

from __future__ import annotations

import re

import pytest

from project import TINY, Project

PARAMS = {**TINY, "data.train_size": 1000, "classifier.train.epochs": 3}  # the classifier alone, three epochs
STATE = ".resume/models-classifier.pt"
SECOND_SAVE = "latentlab.resume:ResumeFile.save:2"  # killed before epoch 2's state is written


@pytest.fixture(scope="module")
def project(tmp_path_factory, mirror) -> Project:
    p = Project(tmp_path_factory.mktemp("resume"), mirror, PARAMS)
    p.dvc("repro", "classifier")
    p.uninterrupted = {path: (p.path / path).read_bytes() for path in ("metrics/classifier.json", "models/classifier.pt")}
    p.head = p.commit("classifier trained without interruption")
    return p


def kill_in_the_second_epoch(project: Project) -> None:
    done = project.dvc("repro", "--force", "--single-item", "classifier", check=False, session=True,
                       env={"LATENTLAB_KILL_BEFORE": SECOND_SAVE, "PYTHONPATH": project.support_path()})
    assert done.returncode == -9 and (project.path / STATE).exists(), done.stdout + done.stderr


def epochs_run(output: str) -> list[int]:
    return [int(n) for n in re.findall(r"classifier epoch (\d+)/", output)]


def test_a_killed_run_resumes_to_the_uninterrupted_result(project):
    project.restore(project.head, "classifier")
    kill_in_the_second_epoch(project)
    done = project.dvc("repro", "classifier")  # params and data unchanged: the outputs were left whole...
    assert "didn't change, skipping" in done.stdout, done.stdout
    done = project.dvc("repro", "--force", "--single-item", "classifier")  # ...so make it run: it continues
    assert epochs_run(done.stdout) == [2, 3], done.stdout
    for path, content in project.uninterrupted.items():
        assert (project.path / path).read_bytes() == content, path
    assert not (project.path / STATE).exists()


def test_a_run_interrupted_before_a_change_of_data_starts_afresh(project):
    project.restore(project.head, "classifier")
    kill_in_the_second_epoch(project)
    project.edit_params({"data.name": "fashion_mnist"})
    done = project.dvc("repro", "classifier")
    assert "belongs to another run" in done.stderr and epochs_run(done.stdout)[0] == 1, done.stdout + done.stderr
