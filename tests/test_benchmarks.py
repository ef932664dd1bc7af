"""The benchmarks on a tiny copy of the project: they run and print what they promise (behaviour, not speed).

One tiny `benchmarks/pipeline.py` run (its clone kept) serves every test. compare.py is run on its
measurement (`--from-json`), not on two fresh runs: two more pipeline runs would take minutes.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys

import pytest
import yaml

from project import ROOT, Project

sys.path.insert(0, str(ROOT / "benchmarks"))
from pipeline import apply_params  # noqa: E402 - benchmarks/ is not a package
from stagetimer import POLL_SECONDS  # noqa: E402

TRAINING = {"classifier", "vqvae2", "prior_top", "prior_bottom", "sweep", "replicates", "codebooks", "vae_nll"}
STAGES = TRAINING | {"validate", "data", "sweep_summary", "reconstruct", "extract_codes", "sample", "eval_noise",
                     "eval_traversal", "eval_interpolation", "eval_probe", "eval_generation", "rate_distortion", "report",
                     "latent_maps"}
NEW_STAGES = {"validate", "rate_distortion", "replicates", "codebooks", "vae_nll", "latent_maps"}  # a baseline lacks
ROW = re.compile(r"^\s*(\S+)\s+([\d.]+)\s+([\d.]+)%\s+(\d+)(?:\s+([\d.]+)\s+([\d.]+)\s+([\d.]+))?\s*$")


def one_core() -> None:
    """Pin a process to one core: on a loaded 2-core machine two threads that wait for each other make
    each step many times slower (the stages take their thread count from the affinity)."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def run_pinned(project: Project, *args: str, cwd=None, env: dict | None = None) -> str:
    """The stdout of `args` run on one core in the project's environment; fail with its output."""
    done = subprocess.run(args, cwd=cwd or project.path, env={**project.env, **(env or {})}, capture_output=True,
                          text=True, preexec_fn=one_core)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done.stdout


@pytest.fixture
def bench(tiny_run) -> Project:
    """The tiny run that benchmarks/pipeline.py made and timed (tests/conftest.py): its clone, restored;
    `measured` its JSON, `shown` its stdout."""
    tiny_run.restore(tiny_run.head)
    tiny_run.clone = tiny_run.path
    return tiny_run


def table_rows(shown: str) -> dict[str, tuple]:
    """stage -> (seconds, share %, peak MiB, epoch s, bare epoch s, ratio) of the printed table."""
    rows = {}
    for line in shown.splitlines():
        if match := ROW.match(line):
            name, *numbers = match.groups()
            rows[name] = tuple(None if n is None else float(n) for n in numbers)
    return rows


def seen_too_briefly(seconds: float) -> bool:
    """A stage shorter than two memory polls (`validate`: 0.1 s) may end before any poll sees it."""
    return seconds < 2 * POLL_SECONDS


def test_the_table_has_every_stage_with_its_time_peak_and_epoch_ratio(bench):
    rows = table_rows(bench.shown)
    assert set(rows) == STAGES == set(yaml.safe_load((bench.clone / "dvc.lock").read_text())["stages"]), bench.shown
    for name, (seconds, share, peak, epoch, bare, ratio) in rows.items():
        assert seconds > 0 and share > 0 and (peak > 0 or seen_too_briefly(seconds)), (name, bench.shown)
        assert (ratio is not None) == (name in TRAINING), (name, bench.shown)
        if name in TRAINING:
            assert epoch > 0 and bare > 0 and ratio > 0, (name, bench.shown)
    assert re.search(r"^total [\d.]+ s for \d+ stages", bench.shown, re.M), bench.shown
    assert re.search(r"^largest peak \d+ MiB \(\S+\) = [\d.]+ of the 4096 MiB limit", bench.shown, re.M), bench.shown


def test_the_clone_starts_without_outputs_runs_its_own_library_and_the_json_holds_the_table(bench):
    assert json.loads((bench.clone / "metrics" / "train" / "ae-2.json").read_text())["model"] == "ae"  # not the old file
    assert bench.measured["library"] == str(bench.clone / "src" / "latentlab" / "__init__.py")
    assert bench.measured["commit"] == bench.run("git", "rev-parse", "HEAD~1").stdout.strip()  # HEAD: the run
    stages = {s["stage"]: s for s in bench.measured["stages"]}
    assert set(stages) == STAGES
    assert all(s["seconds"] > 0 and (s["peak_mib"] > 0 or seen_too_briefly(s["seconds"])) for s in stages.values())
    assert all((s["ratio"] is not None) == (name in TRAINING) for name, s in stages.items())
    whole = bench.measured["startup_seconds"] + sum(s["seconds"] for s in stages.values())
    assert math.isclose(whole, bench.measured["seconds"], rel_tol=1e-9)


def test_compare_builds_the_ratios_from_the_stage_seconds_it_writes(bench, tmp_path):
    """A made-up baseline from the tiny measurement: without the new stages, every stage twice as slow."""
    baseline = dict(bench.measured, commit="0" * 40, startup_seconds=2 * bench.measured["startup_seconds"],
                    stages=[dict(s, seconds=2 * s["seconds"]) for s in bench.measured["stages"]
                            if s["stage"] not in NEW_STAGES])
    baseline["seconds"] = baseline["startup_seconds"] + sum(s["seconds"] for s in baseline["stages"])
    (tmp_path / "baseline.json").write_text(json.dumps(baseline))
    out = tmp_path / "results" / "pipeline.json"
    shown = bench.run(sys.executable, str(ROOT / "benchmarks" / "compare.py"), "--from-json",
                      str(tmp_path / "baseline.json"), str(bench.json), "--out", str(out)).stdout
    result = json.loads(out.read_text())
    for key in ("baseline_commit", "baseline_seconds", "commit", "seconds", "ratio", "ratio_with_seeds", "stages",
                "date", "cpu", "cores", "avx512"):
        assert key in result, key
    stages = {s["stage"]: s for s in result["stages"]}
    assert set(stages) == STAGES and set(result["new_stages"]) == NEW_STAGES
    assert all(stages[name]["baseline_seconds"] is None for name in NEW_STAGES)
    shared = result["startup_seconds"] + sum(s["seconds"] for name, s in stages.items() if name not in NEW_STAGES)
    base = result["baseline_startup_seconds"] + sum(s["baseline_seconds"] or 0 for s in stages.values())
    assert math.isclose(base, result["baseline_seconds"])
    assert math.isclose(result["ratio"], shared / base) and math.isclose(result["ratio"], 0.5)
    assert math.isclose(result["ratio_with_seeds"], result["seconds"] / base)
    assert re.search(r"^ratio 0\.50 \(the baseline's stages\), ratio_with_seeds [\d.]+", shown, re.M), shown


@pytest.mark.parametrize("script, options, ratio", [
    ("foundation.py", ["--steps", "3"], r"= [\d.]+ of the 12-minute budget"),
    ("sampling.py", ["--per-label", "2", "--naive-samples", "10"], r"= [\d.]+ of the 60 s target"),
])
def test_foundation_and_sampling_run_on_the_tiny_models(bench, script, options, ratio):
    """Not tests of speed: they must run on the tiny run's data and models and print their ratio."""
    shown = run_pinned(bench, sys.executable, str(ROOT / "benchmarks" / script), *options, cwd=bench.clone,
                       env={"PYTHONPATH": str(bench.clone / "src")})
    assert re.search(ratio, shown) and re.search(r"[\d.]+x faster", shown), shown


def test_label_share_splits_the_loss_between_the_vqvae2_and_each_prior(bench, tmp_path):
    """Three rows per temperature over the same test labels; the test codes' row reads no temperature."""
    out = tmp_path / "shares.json"
    shown = run_pinned(bench, sys.executable, str(ROOT / "benchmarks" / "label_share.py"), "--images", "40",
                       "--temperatures", "1.0", "0.5", "--json", str(out), cwd=bench.clone,
                       env={"PYTHONPATH": str(bench.clone / "src")})
    rows = json.loads(out.read_text())
    assert [(r["temperature"], r["codes"]) for r in rows] == [
        (t, codes) for t in (1.0, 0.5) for codes in ("test codes", "test top, sampled bottom", "sampled top and bottom")]
    assert all(r["images"] == 40 and r["low"] <= r["label_share"] <= r["high"] for r in rows), rows
    assert rows[0]["label_share"] == rows[3]["label_share"]  # the test images' own codes: nothing drawn
    for r in rows:
        assert re.search(rf"{r['temperature']:.4f}\s+{r['codes']}\s+40\s+{r['label_share']:.4f}", shown), shown


def test_params_a_commit_lacks_are_skipped(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"data": {"train_size": None}, "sweep": {"latents": [2]}}))
    skipped = apply_params(tmp_path, {"data.train_size": 300, "data.validation_size": 100, "sweep.seeds": [0],
                                      "nothing.here": 1})
    assert skipped == ["data.validation_size", "sweep.seeds", "nothing.here"]
    assert yaml.safe_load((tmp_path / "params.yaml").read_text()) == {"data": {"train_size": 300},
                                                                       "sweep": {"latents": [2]}}
