"""A copy of the project in a temporary git repo on tiny params, driven through the real dvc CLI."""

from __future__ import annotations

import hashlib
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

BIN = Path(sys.executable).parent
PROJECT_FILES = ["dvc.yaml", "params.yaml", "pyproject.toml", ".gitignore", ".dvcignore", ".dvc/config",
                 ".dvc/.gitignore", "stages", "src", "plots/templates", "benchmarks"]
TINY = {  # the whole study in about two minutes on 2 cores
    "data.train_size": 300, "data.validation_size": 100, "data.test_size": 100,
    "classifier.train.epochs": 1, "train.epochs": 1, "train.grid_images": 8,
    "sweep.latents": [2, 4], "sweep.seeds": [0, 1], "model.latent": 4,
    "vqvae2.train.epochs": 1, "prior_top.train.epochs": 1, "prior_bottom.train.epochs": 1,
    "sample.per_label": 3, "sample.unconditional": 20, "sample.reference_per_label": 2,
    "reconstruct.grid_images": 8, "noise.images": 20, "noise.spread_images": 100, "noise.grid_images": 4,
    "traversal.spread_images": 100, "traversal.score_images": 3, "interpolation.pairs": 2,
    "probe.train_images": 200, "probe.max_iter": 20,
    "generation.samples": 20, "generation.mixture_components": 2, "generation.grid_images": 16,
    "generation.grid_columns": 8,
    "codebooks.vq_sizes": [8, 512], "codebooks.fsq_levels": [[2, 2, 2], [8, 8, 8]],
    "nll.importance_samples": 20, "nll.test_images": 50,
    "maps.images": 100, "maps.tsne_images": 60, "maps.perplexity": 10.0, "maps.grid_steps": 5,
}
RESULTS = ("metrics", "plots", "logs", "models", "data", "samples")  # every output of the study, byte for byte
SUPPORT = ROOT / "tests" / "support"  # sitecustomize.py: param recording and kills at a chosen point


def set_key(params: dict, key: str, value: Any) -> None:
    """params[a][b][c] = value for key "a.b.c"."""
    *parents, leaf = key.split(".")
    for part in parents:
        params = params[part]
    params[leaf] = value


def ran_stages(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


class Project:
    """The project's files in `path`, a git repo; commands run with bytecode writing on (users' default)."""

    def __init__(self, path: Path, mirror: Path, params: dict[str, Any]):
        self.path = path
        for name in PROJECT_FILES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, path / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
            else:
                (path / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, path / name)
        self.edit_params(params)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self.env = {**env, "PATH": str(BIN) + os.pathsep + env["PATH"], "PYTHONPATH": str(path / "src"),
                    "LATENTLAB_DATA_MIRROR": str(mirror), "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t",
                    "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
        self.cores: set[int] | None = None  # the cores its processes may run on (None: all)
        self.run("git", "init", "-q")
        self.commit("the project on tiny params")

    def duplicate(self, path: Path, cores: set[int] | None = None) -> Project:
        """A copy of this project (git history, DVC cache, outputs) at `path`, its processes on `cores`."""
        shutil.copytree(self.path, path, symlinks=True)
        return self.adopt(path, cores)

    def adopt(self, path: Path, cores: set[int] | None = None) -> Project:
        """The project at `path` (e.g. a clone of this one), run as this one is, with its own library."""
        twin = object.__new__(Project)
        twin.__dict__.update(self.__dict__, path=path, cores=self.cores if cores is None else cores,
                             env={**self.env, "PYTHONPATH": str(path / "src")})
        return twin

    def run(self, *args: str, check: bool = True, env: dict | None = None, cwd: Path | None = None,
            file_limit: int | None = None, session: bool = False) -> subprocess.CompletedProcess:
        """`args` in the project's environment; file_limit: the largest file (bytes) a process may write;
        session: in a process group of its own (which a kill of the whole group ends, and nothing else)."""
        with self.start(*args, env=env, cwd=cwd, file_limit=file_limit, session=session) as process:
            try:
                stdout, stderr = process.communicate()
            except BaseException:  # as subprocess.run: a test stopped (Ctrl-C) leaves no child behind
                process.kill()
                raise
        done = subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
        if check and done.returncode != 0:
            pytest.fail(f"{' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def start(self, *args: str, env: dict | None = None, cwd: Path | None = None, file_limit: int | None = None,
              session: bool = False, stdout=subprocess.PIPE, stderr=subprocess.PIPE) -> subprocess.Popen:
        """`args` started in the project's environment (see `run`), its output to `stdout` and `stderr`."""
        return subprocess.Popen(args, cwd=cwd or self.path, env={**self.env, **(env or {})}, stdout=stdout,
                                stderr=stderr, text=True, preexec_fn=self.limits(file_limit, session))

    def limits(self, file_limit: int | None = None, session: bool = False):
        """What a child process sets up before it starts: its cores, a file size limit (a write beyond it
        fails with EFBIG, as on a full disk, instead of SIGXFSZ killing the process), its own session."""
        cores = self.cores

        def apply() -> None:
            if session:
                os.setsid()
            if cores is not None:
                os.sched_setaffinity(0, cores)
            if file_limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

        return apply if (cores is not None or file_limit is not None or session) else None

    def dvc(self, *args: str, check: bool = True, env: dict | None = None, cwd: Path | None = None,
            file_limit: int | None = None, session: bool = False) -> subprocess.CompletedProcess:
        return self.run(str(BIN / "dvc"), *args, check=check, env=env, cwd=cwd, file_limit=file_limit, session=session)

    def python(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(sys.executable, *args, check=check)

    def commit(self, message: str) -> str:
        self.run("git", "add", "-A")
        self.run("git", "commit", "-qm", message)
        return self.run("git", "rev-parse", "HEAD").stdout.strip()

    def restore(self, commit: str, *stages: str) -> None:
        """Back to `commit`: tracked files from git, DVC-cached outputs (of `stages`, default all) from the cache."""
        self.run("git", "reset", "-q", "--hard", commit)
        self.run("git", "clean", "-qfd")
        self.dvc("checkout", "-q", "--force", *stages)

    def params(self) -> dict:
        return yaml.safe_load((self.path / "params.yaml").read_text())

    def write_params(self, params: dict) -> None:
        (self.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    def edit_params(self, changes: dict[str, Any]) -> None:
        params = self.params()
        for key, value in changes.items():
            set_key(params, key, value)
        self.write_params(params)

    def support_path(self) -> str:
        """PYTHONPATH with tests/support: stage processes then load its sitecustomize hooks."""
        return os.pathsep.join([self.env["PYTHONPATH"], str(SUPPORT)])

    def digests(self, folders: tuple[str, ...] = RESULTS) -> dict[str, str]:
        """sha256 of every file under `folders`."""
        return {str(p.relative_to(self.path)): hashlib.sha256(p.read_bytes()).hexdigest()
                for folder in folders for p in sorted((self.path / folder).rglob("*")) if p.is_file()}

    def outputs(self) -> list[Path]:
        """Every output that dvc.lock records."""
        lock = yaml.safe_load((self.path / "dvc.lock").read_text())
        return [self.path / out["path"] for stage in lock["stages"].values() for out in stage.get("outs", [])]
