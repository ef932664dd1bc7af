"""End to end with the real `dvc` CLI: the whole pipeline on tiny params in a fresh git repo."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

PROJECT_FILES = ["dvc.yaml", "params.yaml", "pyproject.toml", ".gitignore", ".dvcignore", ".dvc/config",
                 ".dvc/.gitignore", "stages", "src", "plots/templates", "benchmarks"]
TINY = {
    ("data", "train_size"): 300, ("data", "test_size"): 100,
    ("classifier", "train", "epochs"): 1, ("train", "epochs"): 1,
    ("sweep", "latents"): [2, 4], ("model", "latent"): 4,
    ("vqvae2", "train", "epochs"): 1, ("prior_top", "train", "epochs"): 1, ("prior_bottom", "train", "epochs"): 1,
    ("sample", "per_label"): 3, ("sample", "unconditional"): 20, ("sample", "reference_per_label"): 2,
    ("noise", "images"): 20, ("noise", "spread_images"): 100,
    ("traversal", "spread_images"): 100, ("traversal", "score_images"): 3,
    ("interpolation", "pairs"): 2, ("probe", "train_images"): 200, ("probe", "max_iter"): 20,
    ("generation", "samples"): 20, ("generation", "mixture_components"): 2,
}
COMPARISONS = {"reconstruct", "eval_noise", "eval_traversal", "eval_interpolation", "eval_generation", "report"}


class Project:
    """A copy of the project in a temporary git repo, driven through the dvc CLI."""

    def __init__(self, path: Path, mirror: Path):
        self.path = path
        bin_dir = str(Path(sys.executable).parent)
        self.env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"],
                    "PYTHONPATH": str(path / "src"), "LATENTLAB_DATA_MIRROR": str(mirror),
                    "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(args, cwd=self.path, env=self.env, capture_output=True, text=True)
        if check and done.returncode != 0:
            pytest.fail(f"{' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def dvc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(str(Path(sys.executable).parent / "dvc"), *args, check=check)

    def outputs(self) -> list[Path]:
        """Every output that dvc.lock records."""
        lock = yaml.safe_load((self.path / "dvc.lock").read_text())
        return [self.path / out["path"] for stage in lock["stages"].values() for out in stage.get("outs", [])]


def ran_stages(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def numbers(node) -> list[float]:
    if isinstance(node, dict):
        return [x for value in node.values() for x in numbers(value)]
    return [float(node)] if isinstance(node, (int, float)) and not isinstance(node, bool) else []


@pytest.fixture(scope="module")
def project(tmp_path_factory, mirror) -> Project:
    path = tmp_path_factory.mktemp("project")
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, path / name)
    params = yaml.safe_load((path / "params.yaml").read_text())
    for keys, value in TINY.items():
        node = params
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    p = Project(path, mirror)
    p.run("git", "init", "-q")
    p.run("git", "add", "-A")
    p.run("git", "commit", "-qm", "tiny project")
    first = p.dvc("repro")
    p.first_output = first.stdout
    p.run("git", "add", "-A")
    p.run("git", "commit", "-qm", "tiny run")
    return p


def test_repro_runs_every_stage_and_writes_every_output(project):
    expected = COMPARISONS | {"data", "classifier", "sweep_summary", "vqvae2", "extract_codes", "prior_top",
                              "prior_bottom", "sample", "eval_probe"} | {
        f"train@{m}-{latent}" for m in ("ae", "vae", "vqvae") for latent in (2, 4)}
    assert ran_stages(project.first_output) == expected
    for path in project.outputs():
        assert path.exists(), path
    for path in (project.path / "metrics").rglob("*.json"):
        values = numbers(json.loads(path.read_text()))
        assert values and all(math.isfinite(v) for v in values), path
    reconstruct = json.loads((project.path / "metrics" / "reconstruct.json").read_text())
    assert reconstruct["latent"] == 4 and set(reconstruct) == {"latent", "ae", "vae", "vqvae"}
    report = (project.path / "metrics" / "report.md").read_text()
    assert "### Who wins" in report and "vqvae2_prior" in report


def test_second_repro_does_nothing(project):
    again = project.dvc("repro")
    assert ran_stages(again.stdout) == set()


def test_exp_run_other_latent_reruns_only_the_comparisons(project):
    done = project.dvc("exp", "run", "-S", "model.latent=2")
    assert ran_stages(done.stdout) == COMPARISONS  # nothing is trained again
    assert json.loads((project.path / "metrics" / "reconstruct.json").read_text())["latent"] == 2
    shown = list(csv.DictReader(io.StringIO(project.dvc("exp", "show", "--csv").stdout)))
    assert {row["model.latent"] for row in shown} >= {"2", "4"}  # the experiment and its baseline
    diff = project.dvc("metrics", "diff")
    assert "metrics/reconstruct.json" in diff.stdout
    plots = project.dvc("plots", "show", "-o", str(project.path / "rendered"))
    assert plots.returncode == 0 and (project.path / "rendered" / "index.html").is_file()


def test_latent_outside_the_sweep_fails_clearly_and_keeps_outputs(project):
    before = {path: path.read_bytes() for path in project.outputs() if path.is_file()}
    failed = project.dvc("exp", "run", "-S", "model.latent=3", check=False)
    assert failed.returncode != 0
    assert "model.latent: 3 is not one of sweep.latents [2, 4]" in failed.stdout + failed.stderr
    assert len(ran_stages(failed.stdout)) == 1 and ran_stages(failed.stdout) <= COMPARISONS  # stopped at once
    for path, content in before.items():
        assert path.is_file() and path.read_bytes() == content, path
    project.run("git", "checkout", "--", "params.yaml")  # dvc leaves the failed -S value in params.yaml


@pytest.mark.parametrize("script, ratio", [("foundation.py", r"= [\d.]+ of the 12-minute budget"),
                                           ("sampling.py", r"= [\d.]+ of the 60 s target")])
def test_benchmarks_run_on_the_trained_models(project, script, ratio):
    """The benchmark scripts are not tests of speed, but they must run and print their ratio."""
    done = project.run(sys.executable, str(Path("benchmarks") / script))
    assert re.search(ratio, done.stdout), done.stdout


def test_fashion_mnist_runs_the_same_stages(project):
    """`data.name: fashion_mnist` needs no other change: every stage reruns on the new data."""
    done = project.dvc("exp", "run", "-S", "data.name=fashion_mnist", "-S", "model.latent=4")
    assert "data" in ran_stages(done.stdout) and "report" in ran_stages(done.stdout)
    assert ran_stages(done.stdout) >= {"classifier", "vqvae2", "prior_bottom", "sample", "eval_generation"}
    for path in (project.path / "metrics").rglob("*.json"):
        values = numbers(json.loads(path.read_text()))
        assert values and all(math.isfinite(v) for v in values), path
