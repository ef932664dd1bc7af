"""Time a whole `dvc repro` from a clean state, stage by stage, with each stage's peak memory.

    python benchmarks/pipeline.py [--project DIR] [--commit REV] [--params KEY=VALUE ...] [--json OUT]
                                  [--steps N] [--workdir DIR]

Clones commit REV (default HEAD; uncommitted changes are not measured) of the project at DIR
(default: this repository) into a temporary folder and deletes the outputs its dvc.lock lists, and
the lock: no outputs, an empty DVC cache of its own. Runs `dvc repro --force --no-run-cache` there
with the clone's own library on PYTHONPATH and prints, per stage in the order DVC ran them: seconds,
share of the whole run, peak resident memory of the stage's python processes (MiB) and, for each
training stage, its median epoch against one epoch of bare training steps of its network
(benchmarks/steps.py). Then the total, and the largest peak against the 4 GiB limit. Machines
differ up to 2x from day to day: compare shares and ratios within one run.
--params edits the clone's params.yaml (a tiny run); keys that commit's params.yaml lacks are skipped.
--workdir keeps the clone (e.g. to run foundation.py and sampling.py on its models) and, beside it,
repro.log: what `dvc repro` printed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from stagetimer import time_repro

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LIMIT_MIB = 4096  # every stage, default params: at most 4 GiB resident
COLUMNS = ["stage", "seconds", "share", "peak_mib", "epoch_s", "bare_epoch_s", "ratio"]


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def clone(repo: Path, commit: str, dest: Path) -> str:
    """A fresh clone of `repo` at `commit` in `dest` with an empty DVC cache of its own; the full hash."""
    git("clone", "-q", str(repo), str(dest), cwd=repo)
    git("checkout", "-q", git("rev-parse", commit, cwd=repo), cwd=dest)
    # Also when a global or system config shares a cache between projects:
    subprocess.run([str(BIN / "dvc"), "config", "--local", "cache.dir", str(dest / ".dvc" / "cache")], cwd=dest,
                   check=True, capture_output=True)
    return git("rev-parse", "HEAD", cwd=dest)


def remove_outputs(project: Path) -> None:
    """Delete the outputs the committed dvc.lock lists (metrics, logs and plots are committed to git), and
    the lock: the run starts from none, and a smaller run reads no stale file of a bigger one."""
    lock = project / "dvc.lock"
    if not lock.is_file():
        return
    for stage in yaml.safe_load(lock.read_text())["stages"].values():
        for out in stage.get("outs", []):
            path = project / out["path"]
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    lock.unlink()


def apply_params(project: Path, changes: dict[str, Any]) -> list[str]:
    """Set each dotted key of `changes` in project/params.yaml; return the keys it lacks (left out)."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    skipped = []
    for key, value in changes.items():
        *parents, leaf = key.split(".")
        node = params
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or leaf not in node:
            skipped.append(key)
            continue
        node[leaf] = value
    if len(skipped) < len(changes):  # untouched otherwise: its comments, and the hash dvc.lock records
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return skipped


def project_env(project: Path) -> dict[str, str]:
    """The environment of the run: this Python's bin first on PATH, the clone's own library first on
    PYTHONPATH (before what PYTHONPATH held, e.g. a folder of sitecustomize hooks)."""
    path = os.pathsep.join(filter(None, [str(project / "src"), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": path,
            "DVC_NO_ANALYTICS": "1"}


def library(project: Path, env: dict[str, str]) -> str:
    """Where `import latentlab` resolves for the stages; raise unless it is the clone's own src/."""
    found = subprocess.run([sys.executable, "-c", "import latentlab; print(latentlab.__file__)"], cwd=project,
                           env=env, check=True, capture_output=True, text=True).stdout.strip()
    if not Path(found).resolve().is_relative_to((project / "src").resolve()):
        raise RuntimeError(f"the stages would import latentlab from {found}, not from {project / 'src'}")
    return found


def step_rates(project: Path, env: dict[str, str], steps: int, stages: list[str]) -> pd.DataFrame:
    """benchmarks/steps.py in the project, on its own library: epoch_s, bare_epoch_s, ratio per training stage
    among `stages` (those that ran)."""
    out = project / ".benchmark-steps.json"
    command = [sys.executable, str(Path(__file__).with_name("steps.py")), "--project", str(project),
               "--steps", str(steps), "--json", str(out), "--stages", *stages]
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks/steps.py failed in {project}:\n{done.stderr[-3000:]}")
    return pd.DataFrame(json.loads(out.read_text()), columns=["stage", "epoch_s", "bare_epoch_s", "ratio"])


def benchmark(repo: Path, commit: str, changes: dict[str, Any], workdir: Path, steps: int = 30) -> dict[str, Any]:
    """Clone `commit` of `repo` into workdir/project, apply `changes` to its params, run and measure it.

    Returns the commit's full hash, date, library path, skipped params, whole-run seconds, DVC's
    start-up seconds and own peak MiB, and `stages`: one dict per stage with COLUMNS (NaN-free: None).
    """
    project = workdir / "project"
    full = clone(repo, commit, project)
    remove_outputs(project)
    skipped = apply_params(project, changes)
    for key in skipped:
        print(f"note: {full[:7]} has no param {key}: left out", flush=True)
    env = project_env(project)
    found = library(project, env)
    print(f"{full[:7]}: running dvc repro in {project} (latentlab from {found})", flush=True)
    repro = time_repro([str(BIN / "dvc"), "repro", "--force", "--no-run-cache"], project, env)
    table = pd.DataFrame([vars(s) for s in repro.stages], columns=["name", "seconds", "peak_mib"])
    table = table.rename(columns={"name": "stage"}).assign(share=table.seconds / repro.seconds)
    table = table.merge(step_rates(project, env, steps, list(table.stage)), on="stage", how="left")[COLUMNS]
    (workdir / "repro.log").write_text(repro.output)
    return {"commit": full, "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "library": found, "params": changes, "skipped_params": skipped, "seconds": repro.seconds,
            "startup_seconds": repro.startup_seconds, "dvc_peak_mib": repro.dvc_peak_mib,
            "stages": [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
                       for row in table.to_dict(orient="records")]}


def format_table(measured: dict[str, Any]) -> str:
    """The per-stage table, the total, and the largest peak against LIMIT_MIB."""
    table = pd.DataFrame(measured["stages"], columns=COLUMNS).astype({c: float for c in COLUMNS[1:]})
    shown = table.to_string(index=False, na_rep="", formatters={
        "seconds": "{:.1f}".format, "share": "{:.1%}".format, "peak_mib": "{:.0f}".format,
        "epoch_s": "{:.2f}".format, "bare_epoch_s": "{:.2f}".format, "ratio": "{:.2f}".format})
    largest = table.loc[table.peak_mib.idxmax()]
    return "\n".join([
        shown,
        f"total {measured['seconds']:.1f} s for {len(table)} stages (DVC start-up {measured['startup_seconds']:.1f} s, "
        f"dvc's own peak {measured['dvc_peak_mib']:.0f} MiB)",
        f"largest peak {largest.peak_mib:.0f} MiB ({largest.stage}) = {largest.peak_mib / LIMIT_MIB:.2f} of the "
        f"{LIMIT_MIB} MiB limit: {'within' if largest.peak_mib <= LIMIT_MIB else 'OVER'}",
    ])


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """["a.b=3", "c=[1, 2]"] -> {"a.b": 3, "c": [1, 2]}: each value read as YAML."""
    changes = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--params: expected KEY=VALUE, got {pair!r}")
        changes[key] = yaml.safe_load(value)
    return changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, default=ROOT, help="a git repository of the project")
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--params", nargs="*", default=[], metavar="KEY=VALUE", help="edits of params.yaml")
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per network")
    parser.add_argument("--json", type=Path, help="write the measurements here")
    parser.add_argument("--workdir", type=Path, help="clone into DIR/project and keep it (default: a temporary folder)")
    args = parser.parse_args()
    if git("status", "--porcelain", "--untracked-files=no", cwd=args.project):
        print(f"note: uncommitted changes in {args.project} are not measured (a clone of {args.commit} runs)")
    with tempfile.TemporaryDirectory(prefix="latentlab-bench-") as temporary:
        workdir = (args.workdir or Path(temporary)).resolve()
        measured = benchmark(args.project.resolve(), args.commit, parse_params(args.params), workdir, args.steps)
    print(format_table(measured))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(measured, indent=1) + "\n")


if __name__ == "__main__":
    main()
