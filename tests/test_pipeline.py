"""End to end with the real `dvc` CLI: the whole study on tiny params in a fresh git repo.

One module-scoped run; every test starts from that committed run (restored before it), so the
tests do not depend on each other's order.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import time

import pytest
import yaml

from browser import check_plots_page, chromium_or_reason
from project import BIN, ROOT, Project, ran_stages

AT_THE_LATENT = {"replicates", "codebooks", "vae_nll"}  # trainings at model.latent
TRAINING = {"sweep"} | AT_THE_LATENT
COMPARISONS = {"reconstruct", "eval_noise", "eval_traversal", "eval_interpolation", "eval_probe", "eval_generation",
               "rate_distortion", "latent_maps", "report"}
EVERY_STAGE = TRAINING | COMPARISONS | {"validate", "data", "classifier", "sweep_summary", "vqvae2", "extract_codes",
                                        "prior_top", "prior_bottom", "sample"}


@pytest.fixture
def run(tiny_run) -> Project:
    """The tiny run, as its first `dvc repro` left it (restored)."""
    tiny_run.restore(tiny_run.head)
    return tiny_run


@pytest.fixture
def project(tiny_run) -> Project:
    """The tiny run, as committed."""
    tiny_run.restore(tiny_run.head)
    return tiny_run


def numbers(node) -> list[float]:
    if isinstance(node, dict):
        return [x for value in node.values() for x in numbers(value)]
    return [float(node)] if isinstance(node, (int, float)) and not isinstance(node, bool) else []


def test_repro_runs_every_stage_and_writes_every_output(run):
    assert ran_stages(run.first_output) == EVERY_STAGE
    for path in run.outputs():
        assert path.exists(), path
    for path in (run.path / "metrics").rglob("*.json"):
        values = numbers(json.loads(path.read_text()))
        assert values and all(math.isfinite(v) for v in values), path
    reconstruct = json.loads((run.path / "metrics" / "reconstruct.json").read_text())
    assert reconstruct["latent"] == 4 and set(reconstruct["ae"]["mse"]["per_seed"]) == {"0", "1"}
    report = (run.path / "metrics" / "report.md").read_text()
    assert "### Who wins at latent size 4" in report and "### Rate against distortion" in report


def leaves(node, prefix: str) -> set[str]:
    """The dotted keys of every leaf under a params value: lists are leaves, an empty group has none."""
    if isinstance(node, dict):
        return set().union(set(), *(leaves(value, f"{prefix}.{key}" if prefix else key) for key, value in node.items()))
    return {prefix}


def test_every_stage_lists_exactly_the_params_it_reads(run):
    """dvc.lock's params of each stage (dvc.yaml's lists, resolved) are the keys its processes read (a
    training stage's workers carry its command line)."""
    reads: dict[str, set[str]] = {}
    for record in map(json.loads, (path.read_text() for path in run.reads.glob("*.json"))):
        reads.setdefault(" ".join(record["argv"]), set()).update(record["reads"])
    lock = yaml.safe_load((run.path / "dvc.lock").read_text())["stages"]
    for name, stage in lock.items():
        if name == "validate":  # depends on the whole params.yaml, which it checks
            continue
        listed = leaves(stage.get("params", {}).get("params.yaml", {}), "")
        read = reads.get(" ".join(stage["cmd"].split()).removeprefix("python "), set())  # none: never loaded params
        assert listed == read, f"{name}: lists {sorted(listed - read)} unread, misses {sorted(read - listed)}"


def test_the_replicate_at_the_sweeps_seed_is_the_sweeps_run_copied(run):
    replicates = run.first_output.split("Running stage 'replicates'")[1].split("Running stage")[0]
    for model in ("ae", "vae", "vqvae"):
        assert f"{model}-s0: the same run as models/sweep/{model}-4.pt" in replicates, replicates
        assert re.search(rf"^{model}-s1 epoch 1/1", replicates, re.M), replicates
    assert (run.path / "models" / "replicates" / "ae-s0.pt").read_bytes() == \
        (run.path / "models" / "sweep" / "ae-4.pt").read_bytes()


def test_imports_with_bytecode_and_editor_files_change_nothing(project):
    """Python writes __pycache__ on import (users' default); editors and OSes drop files: no stage reruns."""
    modules = sorted(p.relative_to(project.path / "src").with_suffix("").as_posix().replace("/", ".")
                     for p in (project.path / "src" / "latentlab").rglob("*.py"))
    project.python("-c", "; ".join(f"import {m.removesuffix('.__init__')}" for m in modules))
    assert list((project.path / "src" / "latentlab" / "models").glob("__pycache__/*.pyc"))
    (project.path / "src" / "latentlab" / "models" / ".pixelcnn.py.swp").write_text("editor")
    (project.path / "src" / "latentlab" / "models" / ".DS_Store").write_text("finder")
    assert "up to date" in project.dvc("status").stdout
    assert ran_stages(project.dvc("repro").stdout) == set()


def touch(project: Project, module: str) -> None:
    """Edit a module the way a user would: a new comment at the end."""
    path = project.path / "src" / "latentlab" / module
    path.write_text(path.read_text() + "\n# edited\n")


def test_editing_the_report_reruns_only_the_report(project):
    touch(project, "report.py")
    assert ran_stages(project.dvc("repro").stdout) == {"report"}


def test_editing_the_probe_reruns_only_the_probe_and_what_reads_its_numbers(project):
    touch(project, "evaluate/probe.py")
    ran = ran_stages(project.dvc("repro").stdout)
    assert "eval_probe" in ran and ran <= {"eval_probe", "latent_maps", "report"}  # latent_maps embeds probe features


def test_a_picture_setting_retrains_nothing(project):
    ran = ran_stages(project.dvc("exp", "run", "-S", "train.grid_images=4").stdout)
    assert ran == {"validate", "sweep_summary"}


def test_another_latent_trains_only_the_seeds_at_that_size_and_reruns_the_comparisons(project):
    done = project.dvc("exp", "run", "-S", "model.latent=2").stdout
    assert ran_stages(done) == {"validate"} | AT_THE_LATENT | COMPARISONS
    for model in ("ae", "vae", "vqvae"):  # seed 0 is the sweep's run at size 2; seed 1 trains at size 2
        assert f"{model}-s0: the same run as models/sweep/{model}-2.pt" in done and f"{model}-s1 epoch 1/1" in done
    assert json.loads((project.path / "metrics" / "reconstruct.json").read_text())["latent"] == 2


def test_a_changed_bottleneck_param_retrains_only_the_runs_of_that_model(project):
    done = project.dvc("exp", "run", "-S", "models.vae.beta=0.5").stdout
    sweep, replicates = (done.split(f"Running stage '{stage}'")[1].split("Running stage")[0]
                         for stage in ("sweep", "replicates"))
    for model in ("ae", "vqvae"):
        assert all(f"{model}-{n}: unchanged" in sweep for n in (2, 4)), sweep
        assert all(f"{model}-s{n}: unchanged" in replicates for n in (0, 1)), replicates
    assert all(f"vae-{n} epoch 1/1" in sweep for n in (2, 4)) and "vae-s1 epoch 1/1" in replicates
    assert "vae-s0: the same run as models/sweep/vae-4.pt" in replicates


def test_a_folder_of_pictures_holds_only_this_runs_pictures(project):
    """Shrinking sweep.models leaves no picture of the model left out (only the stages that draw them run)."""
    project.dvc("exp", "run", "-S", "sweep.models=[ae,vae]", "eval_noise", "eval_traversal", "eval_generation",
                "sweep_summary")
    for folder, expected in {"noise": {"ae", "vae", "vqvae2"}, "traversal": {"ae", "vae"},
                             "generation": {"ae_normal", "ae_mixture", "vae_normal", "vqvae2_prior",
                                            "vqvae2_prior_reference", "vqvae2_conditional"}}.items():
        assert {p.stem for p in (project.path / "plots" / folder).iterdir()} == expected, folder
    assert not (project.path / "plots" / "sweep" / "reconstructions_vqvae.png").exists()


def test_the_same_run_twice_writes_the_same_bytes(project):
    """Same params and seed on the CPU: a run trained again gives identical metrics and checkpoint (timings
    live in the logs), however many runs train beside it."""
    before = project.digests(("metrics/train", "models/sweep"))
    for path in ("models/sweep/vae-2.pt", "models/sweep/vqvae-4.pt"):
        (project.path / path).unlink()
    done = project.dvc("repro", "--force", "--single-item", "sweep").stdout
    assert "vae-2 epoch 1/1" in done and "vqvae-4 epoch 1/1" in done and "ae-2: unchanged" in done, done
    assert project.digests(("metrics/train", "models/sweep")) == before


def test_results_travel_through_a_remote_and_a_fresh_clone_reruns_nothing(project, tmp_path):
    project.dvc("remote", "add", "--default", "shared", str(tmp_path / "remote"))
    project.commit("results shared through a local-folder remote")
    project.dvc("push")
    clone = tmp_path / "clone"
    project.run("git", "clone", "-q", str(project.path), str(clone))
    env = {"PYTHONPATH": str(clone / "src")}
    project.dvc("pull", cwd=clone, env=env)
    assert "up to date" in project.dvc("status", cwd=clone, env=env).stdout
    assert ran_stages(project.dvc("repro", cwd=clone, env=env).stdout) == set()


def readme_exp_show() -> list[str]:
    """The `dvc exp show` command README.md gives for params and headline metrics."""
    line = re.search(r"^\s*(dvc exp show --only-changed.*?)\s*(#.*)?$", (ROOT / "README.md").read_text(), re.M)
    assert line, "README.md gives no `dvc exp show --only-changed ...` command"
    return shlex.split(line.group(1))


def test_the_readme_experiments_table_drops_every_metric_but_the_headline_and_no_param():
    """The README's `--drop` regex, checked against every key of params.yaml and of the committed
    metrics files (named without their file, as DVC names a column whose name is unique)."""
    command = readme_exp_show()
    drop = re.compile(command[command.index("--drop") + 1])
    params = leaves(yaml.safe_load((ROOT / "params.yaml").read_text()), "")
    assert not [key for key in params if drop.match(key)], "the README's exp show command drops these params"
    headline = {f"metrics/headline.json:{key}" for key in leaves(json.loads((ROOT / "metrics/headline.json").read_text()), "")}
    metrics = {f"{path.relative_to(ROOT)}:{key}" for path in (ROOT / "metrics").rglob("*.json")
               for key in leaves(json.loads(path.read_text()), "")}
    shown = [name for name in metrics - headline if not drop.match(name.split(":", 1)[1])]
    assert not shown, f"the README's exp show command shows these metrics: {shown[:10]}"
    dropped = [name for name in headline if drop.match(name.split(":", 1)[1])]
    assert dropped == ["metrics/headline.json:mse.vqvae2"], dropped  # README: it does not fit in 120 columns


def test_two_queued_experiments_run_in_parallel_and_show_in_120_columns(project, tmp_path):
    project.dvc("exp", "remove", "--all-commits")  # other tests' experiments: the table shows these two only
    for change in ("noise.images=10", "noise.images=12"):  # each reruns eval_noise
        project.dvc("exp", "run", "--queue", "-S", change)
    # The workers inherit this environment: every stage process records when it ran (sitecustomize.py).
    recording = {"LATENTLAB_RECORD_PARAMS": str(tmp_path),
                 "PYTHONPATH": os.pathsep.join([project.env["PYTHONPATH"], str(ROOT / "tests" / "support")])}
    project.dvc("queue", "start", "-j", "2", env=recording)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = project.dvc("queue", "status").stdout
        if "Running" not in status and "Queued" not in status:
            break
        time.sleep(1)
    assert status.count("Success") == 2, status
    runs = [json.loads(path.read_text()) for path in tmp_path.glob("*.json")]
    noise = sorted((r["started"], r["ended"]) for r in runs if any("eval_noise" in arg for arg in r["argv"]))
    assert len(noise) == 2, runs
    (_, first_end), (second_start, _) = noise
    assert second_start < first_end, f"eval_noise of the two experiments ran one after the other: {noise}"
    command = readme_exp_show()
    shown = project.run(str(BIN / "dvc"), *command[1:], "--no-pager", env={"COLUMNS": "120"}).stdout
    lines = shown.splitlines()
    assert lines and max(map(len, lines)) <= 120, shown
    assert all(name in shown for name in ("mse.vae", "mse.fsq", "fid.vqvae2", "share.vqvae2", "noise.images")), shown


def test_the_plots_page_draws_every_plot_without_the_network(project, tmp_path):
    chromium, reason = chromium_or_reason()
    if chromium is None:
        pytest.skip(reason)
    project.dvc("plots", "show", "-o", str(tmp_path / "page"))
    page = check_plots_page(tmp_path / "page" / "index.html")
    assert page.plots and all(plot.views == 1 and plot.marks > 0 for plot in page.plots), page
    pictures = [p for p in (project.path / "plots").rglob("*.png")]
    assert len(page.images) == len(pictures) and all(image.loaded for image in page.images), page
    assert page.remote_urls == [] and page.errors == [], page
