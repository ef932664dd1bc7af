"""What `persist` costs, and what it buys: DVC's run-cache cannot restore a stage whose outputs persist.

    python benchmarks/persist.py [--params KEY=VALUE ...] [--stage replicates] [--latents A B] [--workdir DIR]

Clones HEAD twice, with an empty DVC cache each: as committed (every output `persist`), and with
`persist` taken out of dvc.yaml (DVC then removes a stage's outputs before running it, and can restore
them from its run-cache). In each clone, on the given params: `dvc repro <stage>`, then
`dvc exp run -S model.latent=A <stage>`, then back to the latent size already run
(`-S model.latent=B`); and a failure: the stage run under a file size limit that its first resume state
exceeds. Prints the seconds of each step (the last switch is the cost: a persistent stage trains again
what the run-cache would restore) and how many of the stage's outputs each clone still holds after the
failure. The default params are small (a few minutes in all); the seconds scale with the budget.
"""

from __future__ import annotations

import argparse
import re
import resource
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from pipeline import BIN, ROOT, apply_params, clone, parse_params, project_env, remove_outputs

SMALL = ["data.train_size=4000", "train.epochs=1", "sweep.latents=[2,4]", "sweep.seeds=[0,1,2]", "model.latent=4",
         "probe.train_images=2000", "generation.samples=2000", "noise.spread_images=2000",
         "traversal.spread_images=2000"]  # what validate accepts on 4000 training images


def without_persist(project: Path) -> None:
    """dvc.yaml with every `persist: true` dropped: DVC's default, outputs removed before a stage runs."""
    text = (project / "dvc.yaml").read_text()
    (project / "dvc.yaml").write_text(re.sub(r",\s*persist: true", "", text).replace("{persist: true}", "{}"))


def timed(project: Path, *args: str, file_limit: int | None = None) -> tuple[float, subprocess.CompletedProcess]:
    def limit() -> None:
        if file_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    started = time.perf_counter()
    done = subprocess.run([str(BIN / "dvc"), *args], cwd=project, env=project_env(project), capture_output=True,
                          text=True, preexec_fn=limit)
    return time.perf_counter() - started, done


def outputs_of(project: Path, stage: str) -> list[Path]:
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    return [project / next(iter(out)) if isinstance(out, dict) else project / out for out in stages[stage]["outs"]]


def measure(project: Path, stage: str, latents: tuple[int, int]) -> dict:
    row: dict = {}
    for label, args in (("first run", ("repro", stage)),
                        (f"-S model.latent={latents[0]}", ("exp", "run", "-S", f"model.latent={latents[0]}", stage)),
                        (f"back: -S model.latent={latents[1]}", ("exp", "run", "-S", f"model.latent={latents[1]}", stage))):
        seconds, done = timed(project, *args)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed in {project}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        row[label] = seconds
        row[f"{label}: restored from the run-cache"] = f"Stage '{stage}' is cached - skipping run" in done.stdout
    timed(project, "repro", "-s", "--force", stage, file_limit=200_000)  # fails writing its first resume state
    row["outputs left after a failed run"] = f"{sum(path.exists() for path in outputs_of(project, stage))} of " \
                                             f"{len(outputs_of(project, stage))}"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", nargs="*", default=SMALL, metavar="KEY=VALUE", help="edits of params.yaml")
    parser.add_argument("--stage", default="replicates")
    parser.add_argument("--latents", type=int, nargs=2, default=(2, 4), metavar=("A", "B"),
                        help="switch model.latent to A, then back to B (the size of the first run)")
    parser.add_argument("--workdir", type=Path, help="keep the clones in DIR (default: a temporary folder)")
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory(prefix="latentlab-persist-") as temporary:
        workdir = (args.workdir or Path(temporary)).resolve()
        for variant, change in (("persist (committed)", None), ("no persist (run-cache)", without_persist)):
            project = workdir / variant.split()[0].replace("(", "")
            clone(ROOT, "HEAD", project)
            remove_outputs(project)
            apply_params(project, parse_params(args.params))
            if change:
                change(project)
            subprocess.run(["git", "commit", "-qam", variant], cwd=project, check=True, capture_output=True,
                           env=project_env(project) | {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
                                                       "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"})
            rows[variant] = measure(project, args.stage, tuple(args.latents))
    print(pd.DataFrame(rows).to_string(float_format="{:.1f}".format))


if __name__ == "__main__":
    main()
