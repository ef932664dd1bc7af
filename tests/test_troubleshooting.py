"""README's "When something goes wrong" table is true: each row's situation, produced for real,
prints the row's message (`…` stands for what varies)."""

from __future__ import annotations

import dataclasses
import os
import re
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml

from conftest import ROOT
from latentlab.checkpoint import load_model, save_checkpoint
from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_split
from latentlab.datasets import MIRROR_ENV, RawFile, dataset_spec, fetch, mirror_from_env
from latentlab.io import copy, read_json, save_tensors
from latentlab.models import build_model
from latentlab.resume import STATE_KEYS, ResumeFile
from latentlab.runtime import pick_device
from latentlab.train import fit

DVC = str(Path(sys.executable).parent / "dvc")


@dataclass
class Situation:
    """What a scenario may use: a scratch folder, pytest's capture and monkeypatch, the raw files."""

    tmp: Path
    capsys: pytest.CaptureFixture
    monkeypatch: pytest.MonkeyPatch
    mirror: Path
    images: tuple[torch.Tensor, torch.Tensor]


def printed(main: Callable[[], object], capsys) -> str:
    """What a stage prints when `main` runs inside `cli.run` (stderr and stdout)."""
    with pytest.raises(SystemExit):
        run(main)
    out = capsys.readouterr()
    return out.err + out.out


def params_with(tmp_path: Path, key: str, value) -> Path:
    """A copy of params.yaml with one value changed."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    *parents, leaf = key.split(".")
    node = params
    for part in parents:
        node = node[part]
    node[leaf] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def wrong_type(s: Situation):
    return printed(lambda: load_config(params_with(s.tmp, "train.lr", "3e-4")), s.capsys)


def out_of_range(s: Situation):
    return printed(lambda: load_config(params_with(s.tmp, "noise.spread_images", 1)), s.capsys)


def misspelled(s: Situation):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["models"]["vqvae"]["codebok_size"] = params["models"]["vqvae"].pop("codebook_size")
    (s.tmp / "params.yaml").write_text(yaml.safe_dump(params))
    return printed(lambda: load_config(s.tmp / "params.yaml"), s.capsys)


def latent_outside_the_sweep(s: Situation):
    return printed(lambda: load_config(params_with(s.tmp, "model.latent", 3)), s.capsys)


def size_beyond_the_split(s: Situation):
    return printed(lambda: load_config(params_with(s.tmp, "probe.train_images", 100000)), s.capsys)


def count_beyond_its_source(s: Situation):
    return printed(lambda: load_config(params_with(s.tmp, "probe.neighbours", 20000)), s.capsys)


def dvc_repro_in_a_copy(s: Situation) -> str:
    """`dvc repro` in a fresh git repo of dvc.yaml, stages/, src/ and the params.yaml in s.tmp."""
    for name in ("dvc.yaml", "stages", "src"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, s.tmp / name)
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PYTHONPATH": str(s.tmp / "src")}
    for command in (["git", "init", "-q"], [DVC, "init", "-q"]):
        subprocess.run(command, cwd=s.tmp, check=True, env=env, capture_output=True)
    dvc = subprocess.run([DVC, "repro"], cwd=s.tmp, env=env, capture_output=True, text=True)
    return dvc.stdout + dvc.stderr


def sweep_not_a_list(s: Situation):
    """dvc.yaml builds nothing from sweep.*: `validate` reads it, and names the key."""
    params_with(s.tmp, "sweep.latents", "abc")
    return dvc_repro_in_a_copy(s)


def params_not_yaml(s: Situation):
    (s.tmp / "params.yaml").write_text((ROOT / "params.yaml").read_text() + "base: {seed: 0\n")
    output = dvc_repro_in_a_copy(s)
    check = subprocess.run([sys.executable, "stages/validate.py", "params.yaml"], cwd=s.tmp, capture_output=True,
                           text=True, env={**os.environ, "PYTHONPATH": str(s.tmp / "src")})
    assert re.fullmatch(r"error: params.yaml: not valid YAML at line \d+, column \d+ \(.+\); fix the file, or "
                        r"restore it with `git checkout -- params.yaml`\n", check.stderr), check.stderr
    return output


def no_mirror_folder(s: Situation):
    s.monkeypatch.setenv(MIRROR_ENV, str(s.tmp / "nowhere"))
    return printed(mirror_from_env, s.capsys)


def mirror_file_missing(s: Situation):
    partial = s.tmp / "mirror"
    shutil.copytree(s.mirror / "MNIST", partial / "MNIST")
    (partial / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").unlink()
    return printed(lambda: fetch(dataset_spec("mnist"), s.tmp / "work", partial), s.capsys)


def raw_file_damaged(s: Situation):
    damaged = s.tmp / "mirror"
    shutil.copytree(s.mirror / "MNIST", damaged / "MNIST")
    path = damaged / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz"
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:1000])  # a truncated download
    return printed(lambda: fetch(dataset_spec("mnist"), s.tmp / "work", damaged), s.capsys)


def no_internet(s: Situation):
    spec = dataclasses.replace(dataset_spec("mnist"), urls=("http://127.0.0.1:9/",),
                               files=(RawFile("train-images-idx3-ubyte.gz", "0" * 32),))
    return printed(lambda: fetch(spec, s.tmp / "work", None), s.capsys)


def tiny_vqvae():
    from conftest import tiny_quantizer, tiny_trunk
    from latentlab.schema import to_plain

    config = {"image_shape": [1, 28, 28], "latent": 4, "trunk": to_plain(tiny_trunk()),
              "bottleneck": to_plain(tiny_quantizer())}
    return config, build_model("vqvae", config)


def checkpoint_missing(s: Situation):
    return printed(lambda: load_model(s.tmp / "models" / "vqvae2.pt"), s.capsys)


def checkpoint_corrupt(s: Situation):
    config, model = tiny_vqvae()
    path = s.tmp / "vqvae-s0.pt"
    save_checkpoint(path, "vqvae", config, model, seed=0)
    path.write_bytes(path.read_bytes()[:2000])
    return printed(lambda: load_model(path), s.capsys)


def checkpoint_of_another_version(s: Situation):
    config, model = tiny_vqvae()
    path = s.tmp / "vqvae-s0.pt"
    save_checkpoint(path, "vqvae", {**config, "latent": 8}, model, seed=0)  # weights of another shape
    return printed(lambda: load_model(path), s.capsys)


def metrics_truncated(s: Situation):
    path = s.tmp / "probe.json"
    path.write_text('{"ae": {"logistic": {"me')
    return printed(lambda: read_json(path), s.capsys)


def input_of_another_kind(s: Situation):
    path = s.tmp / "test.pt"
    save_tensors(path, {"pictures": torch.zeros(2)})
    return printed(lambda: load_split(s.tmp, "test"), s.capsys)


def unreadable_while_copied(s: Situation):
    if not Path("/proc/self/mem").exists():
        pytest.skip("needs Linux's /proc/self/mem, a file whose read fails")
    return printed(lambda: copy("/proc/self/mem", s.tmp / "copy.pt"), s.capsys)


def stopped_by_ctrl_c():
    raise KeyboardInterrupt


def interrupted(s: Situation):
    with pytest.raises(SystemExit):
        run(stopped_by_ctrl_c, resumable=True)
    return s.capsys.readouterr().err


def another_stage_interrupted(s: Situation):
    return printed(stopped_by_ctrl_c, s.capsys)


def resume_of_another_run(s: Situation):
    state = {key: {} for key in STATE_KEYS if key != "key"}
    ResumeFile(s.tmp / ".resume" / "models-sweep-ae-16.pt", {"train.lr": 0.005}).save(state)
    assert ResumeFile(s.tmp / ".resume" / "models-sweep-ae-16.pt", {"train.lr": 0.001}).load() is None
    return s.capsys.readouterr().err


def resume_unreadable(s: Situation):
    (s.tmp / ".resume").mkdir()
    (s.tmp / ".resume" / "models-sweep-ae-16.pt").write_bytes(b"half a state")
    assert ResumeFile(s.tmp / ".resume" / "models-sweep-ae-16.pt", {}).load() is None
    return s.capsys.readouterr().err


def loss_not_finite(s: Situation):
    from conftest import tiny_train
    from latentlab.data import Split

    images, labels = s.images
    data = Split((images[:64] * 255).to(torch.uint8), labels[:64])
    _, model = tiny_vqvae()
    cfg = tiny_train(epochs=1, lr=1.0e30)
    return printed(lambda: fit(model, data, {"test": data}, cfg, device=torch.device("cpu"), title="vqvae-s0"), s.capsys)


def disk_full(s: Situation):
    """A real write that the operating system refuses part-way (a file size limit, like a full disk)."""
    previous = s.tmp / "report.md"
    previous.write_text("the previous report\n")

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing

    code = ("from latentlab.cli import run; from latentlab.io import write_text; "
            f"run(lambda: write_text({str(previous)!r}, 'x' * 100000))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=limit)
    assert done.returncode == 2 and previous.read_text() == "the previous report\n"
    assert not list(s.tmp.glob("*.tmp")), "a temporary file was left behind"
    return done.stderr


def no_gpu(s: Situation):
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device: asking for cuda is not an error here")
    return printed(lambda: pick_device("cuda"), s.capsys)


def not_at_the_root(s: Situation):
    s.monkeypatch.chdir(s.tmp)
    return printed(load_config, s.capsys)


SCENARIOS = {
    "a value in params.yaml has the wrong type": wrong_type,
    "a value is out of range": out_of_range,
    "a key is misspelled": misspelled,
    "`model.latent` is not in the sweep": latent_outside_the_sweep,
    "a size is larger than its split": size_beyond_the_split,
    "a count is larger than what it is taken from": count_beyond_its_source,
    "`sweep.models`, `sweep.latents` or `sweep.seeds` is not a list": sweep_not_a_list,
    "params.yaml is not valid YAML": params_not_yaml,
    "the mirror folder does not exist": no_mirror_folder,
    "a raw file is missing from the mirror": mirror_file_missing,
    "a raw file is damaged or truncated": raw_file_damaged,
    "no internet and no mirror": no_internet,
    "a checkpoint (or other input) is missing": checkpoint_missing,
    "a checkpoint is truncated or corrupt": checkpoint_corrupt,
    "a checkpoint was written by another version": checkpoint_of_another_version,
    "a metrics file (or other JSON or table) is truncated": metrics_truncated,
    "an input is readable but not the file the stage reads": input_of_another_kind,
    "an input cannot be read while it is copied": unreadable_while_copied,
    "a training was interrupted (Ctrl-C)": interrupted,
    "another stage was interrupted (Ctrl-C)": another_stage_interrupted,
    "a resume state belongs to another run": resume_of_another_run,
    "a resume state cannot be read": resume_unreadable,
    "the loss became NaN or infinite": loss_not_finite,
    "the disk is full, or the folder read-only": disk_full,
    "a GPU is asked for but absent": no_gpu,
    "a stage runs outside the project root": not_at_the_root,
}


def readme_rows() -> dict[str, str]:
    """{situation: message pattern} from README.md's table."""
    text = (ROOT / "README.md").read_text()
    table = text.split("## When something goes wrong", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (.+?) \| `` (.+?) `` \| .+ \|$", table, re.MULTILINE)
    return dict(rows)


def test_the_table_has_a_scenario_for_every_row():
    assert set(readme_rows()) == set(SCENARIOS) and len(SCENARIOS) >= 12


@pytest.mark.parametrize("situation", sorted(SCENARIOS))
def test_each_row_prints_its_message(situation, tmp_path, capsys, monkeypatch, mirror, mnist_test_images):
    output = SCENARIOS[situation](Situation(tmp_path, capsys, monkeypatch, mirror, mnist_test_images))
    pattern = ".*?".join(map(re.escape, readme_rows()[situation].split("…")))
    assert any(re.fullmatch(pattern, line) for line in output.splitlines()), f"{situation}:\n{output}"
