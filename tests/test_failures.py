"""A failed stage loses nothing, and no value of params.yaml reaches a shell or a path.

Fuzz cases against the committed tiny run (tests/conftest.py), each through the real dvc CLI: wrong
types and ranges, injections and path traversals in params.yaml, corrupt and truncated inputs of every
kind a stage reads, a full disk (RLIMIT_FSIZE: a write past the limit fails as on a full disk), SIGKILL
at chosen points of every kind of stage (tests/support/sitecustomize.py). Each case asserts: a non-zero
exit with one error line and no traceback (a SIGKILL prints nothing), every earlier output byte-identical,
nothing outside the project created or removed, and, after the fix, the results of an uninterrupted run:
every output byte for byte the committed run's (where the case needs the stage to run again, after that
rerun), which is what `dvc repro` would then keep (`dvc status` is checked at the end).

The cases play in one copy of the run per core at once, each copy's processes pinned to its core.
With LATENTLAB_FUZZ_TABLE=<file>, the table of cases (message, seconds, outputs untouched) is written there.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
import yaml

from latentlab.io import TMP_SUFFIX
from latentlab.tracking import TIMINGS
from project import Project, set_key

DELETE = object()  # a params change that removes the key
TMP_NAME = re.compile(rf"(^|/)\.[^/]*{re.escape(TMP_SUFFIX)}(/|$)")  # a temporary file or folder of latentlab.io


@dataclass(frozen=True)
class Case:
    """One way to break a stage, what it must print, and what must hold afterwards."""

    name: str
    command: tuple[str, ...]  # dvc's arguments
    message: str  # the one error line contains this ({outside}: the folder outside the project)
    params: dict = field(default_factory=dict)  # params.yaml changes (key -> value, or DELETE)
    corrupt: tuple[str, Callable[[Path], None]] | None = None  # a file of the run, and what is done to it
    kill_before: str | None = None  # module:function at whose call the whole process group is SIGKILLed
    remove: tuple[str, ...] = ()  # outputs removed before the run, which only the rerun makes again
    file_limit: int | None = None  # RLIMIT_FSIZE of dvc and the stage, in bytes
    mirror: str | None = None  # LATENTLAB_DATA_MIRROR: "damaged" gives a copy with a truncated raw file
    rerun: str | None = None  # after the fix, this stage runs again: its outputs must be the committed bytes


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])


def garbage(path: Path) -> None:
    path.write_bytes(b"\x00\xffnot what was written here\x00" * 20)


def writes(content: bytes | str) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(content if isinstance(content, bytes) else content.encode())


def tensors(content) -> Callable[[Path], None]:
    return lambda path: torch.save(content, path)


def another_architecture(path: Path) -> None:
    """A readable checkpoint whose weights do not fit its config (a wider trunk)."""
    stored = torch.load(path, weights_only=True)
    stored["config"]["trunk"]["hidden"] *= 2
    torch.save(stored, path)


REPRO, SINGLE = ("repro",), ("repro", "--single-item", "--force")
INJECT = "{outside}/injected"

CASES = [
    # --- wrong types and ranges: `validate` stops `dvc repro` before any other stage -------------------
    Case("string where a float goes", REPRO, "train.lr: expected float, got str '3e-4'", {"train.lr": "3e-4"}),
    Case("negative epochs", REPRO, "train.epochs: must be at least 1, got -1", {"train.epochs": -1}),
    Case("misspelled key", REPRO, "models.vqvae: unknown key 'codebok_size'; did you mean 'codebook_size'?",
         {"models.vqvae.codebok_size": 512}),
    Case("missing key", REPRO, "train: missing key 'train.epochs'", {"train.epochs": DELETE}),
    Case("latent outside the sweep", REPRO, "model.latent: 3 is not one of sweep.latents [2, 4]", {"model.latent": 3}),
    Case("empty sweep", REPRO, "sweep.latents: expected a non-empty list", {"sweep.latents": []}),
    Case("sweep not a list", REPRO, "sweep.latents: expected a list, got str 'abc'", {"sweep.latents": "abc"}),
    Case("unknown data set", REPRO, "data.name: expected one of", {"data.name": "emnist"}),
    Case("nan", REPRO, "models.vae.beta: expected a finite number, got nan", {"models.vae.beta": float("nan")}),
    Case("one image for a spread (noise)", REPRO, "noise.spread_images: must be at least 2 (a standard deviation",
         {"noise.spread_images": 1}),
    Case("one image for a spread (traversal)", REPRO, "traversal.spread_images: must be at least 2",
         {"traversal.spread_images": 1}),
    Case("more neighbours than probe codes", REPRO, "probe.neighbours: 500 is more than the 200 of probe.train_images",
         {"probe.neighbours": 500}),
    Case("more mixture components than codes", REPRO,
         "generation.mixture_components: 1000 is more than the 300 of the training codes", {"generation.mixture_components": 1000}),
    Case("a temperature that overflows", REPRO, "sample.temperature: must be at least 0.01",
         {"sample.temperature": 1.0e-300}),
    Case("a seed numpy cannot take", REPRO, "base.seed: must be less than 4294967296", {"base.seed": 2**40}),
    Case("a prior too shallow for its grid", REPRO, "prior_bottom.model.layers: 3 layers of 3x3 cannot see the whole 8x8",
         {"prior_bottom.model.layers": 3}),
    Case("more images than the split", REPRO, "probe.train_images: 100000 is more than the 300 images",
         {"probe.train_images": 100000}),
    Case("two noise scales that print alike", REPRO, "noise.scales: [0.5, 0.5000001] lists 0.5 sd more than once",
         {"noise.scales": [0.5, 0.5000001]}),
    # --- injections and traversals, each through `dvc repro -s`: the stage's own check stops them ------
    Case("shell command in a seed", ("repro", "-s", "replicates"), "sweep.seeds[2]: expected int, got str '2; touch",
         {"sweep.seeds": [0, 1, f"2; touch {INJECT}; echo"]}),
    Case("path traversal in a seed", ("repro", "-s", "replicates"), "sweep.seeds[1]: expected int, got str '/../..",
         {"sweep.seeds": [0, "/../../../../{outside}/victim"]}),
    Case("backticks in a model name", ("repro", "-s", "sweep"), "sweep.models[0]: expected one of 'ae', 'vae', 'vqvae', 'fsq'",
         {"sweep.models": [f"ae`touch {INJECT}`"]}),
    Case("$(...) in the latent", ("repro", "-s", "reconstruct"), "model.latent: expected int, got str '$(touch",
         {"model.latent": f"$(touch {INJECT})"}),
    Case("newline in the device", ("repro", "-s", "eval_noise"), "base.device: expected one of 'auto', 'cpu', 'cuda'",
         {"base.device": f"cpu\nrm -f {{outside}}/victim\ntouch {INJECT}"}),
    Case("absolute path as the data set", ("repro", "-s", "data"), "data.name: expected one of",
         {"data.name": "{outside}/victim"}),
    Case("'..' in a latent size", ("repro", "-s", "sweep"), "sweep.latents[1]: expected int, got str '../../..",
         {"sweep.latents": [2, "../../../{outside}"]}),
    Case("shell command in a stage name", ("repro", "-s", f"replicate@ae-2; touch {INJECT}; echo"),
         "not found inside 'dvc.yaml'"),
    Case("--single-item with an injected seed", ("repro", "--single-item", "replicates"),
         "sweep.seeds[1]: expected int, got str '1 && touch", {"sweep.seeds": [0, f"1 && touch {INJECT}"]}),
    # --- corrupt and truncated inputs, each read by the stage that consumes it ----------------------
    Case("truncated metrics JSON", ("repro", "-s", "--force", "report"), "metrics/probe.json: unreadable (JSONDecodeError",
         corrupt=("metrics/probe.json", truncate)),
    Case("metrics JSON of another structure", ("repro", "-s", "--force", "report"),
         "metrics/probe.json: not the file this stage reads", corrupt=("metrics/probe.json", writes('{"ae": 1}'))),
    Case("metrics JSON that is not an object", ("repro", "-s", "--force", "report"),
         "metrics/noise.json: not the file this stage reads (a list", corrupt=("metrics/noise.json", writes("[1, 2]"))),
    Case("truncated data/prepared/info.json", ("repro", "-s", "--force", "sweep"),
         "data/prepared/info.json: unreadable", corrupt=("data/prepared/info.json", truncate)),
    Case("truncated prepared split", ("repro", "-s", "--force", "classifier"), "data/prepared/train.pt: unreadable",
         corrupt=("data/prepared/train.pt", truncate)),
    Case("prepared split of another structure", ("repro", "-s", "--force", "eval_noise"),
         "data/prepared/test.pt: not the file this stage reads (no images)",
         corrupt=("data/prepared/test.pt", tensors({"pictures": torch.zeros(2)}))),
    Case("truncated checkpoint", ("repro", "-s", "--force", "sample"), "models/classifier.pt: unreadable",
         corrupt=("models/classifier.pt", truncate)),
    Case("checkpoint of another structure", ("repro", "-s", "--force", "extract_codes"),
         "models/vqvae2.pt: not the file this stage reads (a Tensor", corrupt=("models/vqvae2.pt", tensors(torch.ones(3)))),
    Case("checkpoint of another architecture", ("repro", "-s", "--force", "eval_traversal"),
         "models/replicates/vae-s1.pt: written by another version of latentlab",
         corrupt=("models/replicates/vae-s1.pt", another_architecture)),
    Case("garbage codes", ("repro", "-s", "--force", "prior_top"), "data/codes.pt: unreadable",
         corrupt=("data/codes.pt", garbage)),
    Case("samples of another structure", ("repro", "-s", "--force", "eval_generation"),
         "samples/vqvae2.pt: not the file this stage reads (no unconditional)",
         corrupt=("samples/vqvae2.pt", tensors({"conditional": {}}))),
    Case("truncated run metrics", ("repro", "-s", "--force", "sweep_summary"), "metrics/train/ae-2.json: unreadable",
         corrupt=("metrics/train/ae-2.json", truncate)),
    Case("garbage loss curve", ("repro", "-s", "--force", "sweep_summary"),
         "logs/train/ae-4/plots/metrics/train/loss.tsv: not the table this stage reads",
         corrupt=("logs/train/ae-4/plots/metrics/train/loss.tsv", writes("nothing\tlike\nit\there\n"))),
    Case("table without its columns", ("repro", "-s", "--force", "rate_distortion"),
         "metrics/sweep.csv: not the table this stage reads (no column", corrupt=("metrics/sweep.csv", writes("a,b\n1,2\n"))),
    Case("params.yaml that is not YAML", REPRO, "ERROR: unable to read: 'params.yaml', YAML file structure is corrupted",
         corrupt=("params.yaml", writes("base: {seed: 0\n"))),
    Case("damaged raw file in the mirror", ("repro", "-s", "--force", "data"), "checksum mismatch: expected md5",
         mirror="damaged"),
    # --- a full disk -----------------------------------------------------------------------------
    Case("full disk while preparing the data", ("repro", "-s", "--force", "data"),
         "cannot write data/prepared/train.pt: File too large", file_limit=200_000),
    Case("full disk while a training saves its state", ("repro", "-s", "--force", "classifier"),
         "cannot write .resume/models-classifier.pt: File too large", file_limit=400_000),
    Case("full disk while a pool trains", ("repro", "-s", "--force", "sweep"),
         "cannot write .resume/models-sweep-vae-2.pt: File too large", remove=("models/sweep/vae-2.pt",),
         file_limit=1_000_000, rerun="sweep"),
    # --- SIGKILL at chosen points of each kind of stage; the rerun gives the uninterrupted run's bytes ----
    Case("kill while the data stage writes", SINGLE + ("data",), "", kill_before="latentlab.data:write_json",
         rerun="data"),
    Case("kill in the middle of training", SINGLE + ("classifier",), "", kill_before="latentlab.train:_check_finite",
         rerun="classifier"),
    Case("kill after the last epoch, before the checkpoint", SINGLE + ("classifier",), "",
         kill_before="latentlab.checkpoint:save_checkpoint", rerun="classifier"),
    Case("kill a pool of trainings", SINGLE + ("sweep",), "", kill_before="latentlab.checkpoint:save_checkpoint",
         remove=("models/sweep/vae-2.pt",), rerun="sweep"),
    Case("kill during code extraction", SINGLE + ("extract_codes",), "",
         kill_before="latentlab.evaluate.codebook:codebook_scores", rerun="extract_codes"),
    Case("kill while sampling", SINGLE + ("sample",), "", kill_before="latentlab.stats:bootstrap", rerun="sample"),
    Case("kill during an evaluation", SINGLE + ("eval_noise",), "", kill_before="latentlab.tables:write_csv",
         rerun="eval_noise"),
    Case("kill during a probe fit", SINGLE + ("eval_probe",), "", kill_before="latentlab.evaluate.probe:knn_probe",
         rerun="eval_probe"),
    Case("kill while the report is written", SINGLE + ("report",), "", kill_before="latentlab.report:headline",
         rerun="report"),
]


@dataclass
class Outcome:
    case: Case
    returncode: int
    output: str
    seconds: float
    broken: set[str]  # files the case itself changed (excluded from the byte check until the fix)
    untouched: bool  # every other output byte-identical right after the failure
    outside_untouched: bool
    restored: bool  # after the fix (and the rerun), every output the committed bytes
    rerun_output: str = ""


def params_changed(p: Project, changes: dict, outside: Path) -> None:
    params = yaml.safe_load((p.path / "params.yaml").read_text())
    for key, value in changes.items():
        if value is DELETE:
            *parents, leaf = key.split(".")
            node = params
            for part in parents:
                node = node[part]
            del node[leaf]
        else:
            set_key(params, key, fill(value, outside))
    (p.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def fill(value, outside: Path):
    if isinstance(value, str):
        return value.replace("{outside}", str(outside))
    if isinstance(value, list):
        return [fill(v, outside) for v in value]
    return value


def digests(p: Project, folders: tuple[str, ...]) -> dict[str, str]:
    """sha256 of every file under `folders` that DVC hashes: not the temporary files a killed process left
    beside its outputs (*.tmp: the next write of that output removes them), nor the epoch timings of a
    training's log (timings.tsv), which differ from run to run."""
    return {path: digest for path, digest in p.digests(folders).items()
            if not TMP_NAME.search(path) and Path(path).name != TIMINGS}


def listing(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def damaged_mirror(mirror: Path, folder: Path) -> Path:
    shutil.copytree(mirror / "MNIST", folder / "MNIST")
    path = folder / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz"
    path.chmod(0o644)
    truncate(path)
    return folder


def play(p: Project, case: Case, outside: Path, mirror: Path, scratch: Path) -> Outcome:
    """Break, run, check, fix, (rerun,) check again. `p` starts and ends as the committed run."""
    tracked = ("params.yaml", "dvc.lock", "metrics", "plots", "logs", "models", "data", "samples", "src", "stages")
    committed, outside_before = digests(p, tracked), listing(outside)
    saved = {path: (p.path / path).read_bytes() for path in ["params.yaml", *([case.corrupt[0]] if case.corrupt else [])]}
    params_changed(p, case.params, outside)
    if case.corrupt:
        case.corrupt[1](p.path / case.corrupt[0])
    for path in case.remove:
        (p.path / path).unlink()
    broken = {path for path, digest in digests(p, tracked).items() if committed.get(path) != digest} | set(case.remove)
    before = {path: digest for path, digest in digests(p, tracked).items()}
    env = {}
    if case.kill_before:
        env = {"LATENTLAB_KILL_BEFORE": case.kill_before, "PYTHONPATH": p.support_path()}
    if case.mirror == "damaged":
        env["LATENTLAB_DATA_MIRROR"] = str(damaged_mirror(mirror, scratch / "damaged"))
    command = [fill(arg, outside) for arg in case.command]
    started = time.monotonic()
    done = p.dvc(*command, check=False, env=env, file_limit=case.file_limit, session=True)
    seconds = time.monotonic() - started
    untouched = digests(p, tracked) == before
    leftovers = [str(path) for out in p.outputs() if out.is_dir() for path in out.rglob(f"*{TMP_SUFFIX}")]
    outside_untouched = listing(outside) == outside_before
    for path, content in saved.items():  # the fix: the value, file or output the case broke, as it was
        (p.path / path).write_bytes(content)
    rerun = p.dvc("repro", "--single-item", "--force", case.rerun, check=False) if case.rerun else None
    shutil.rmtree(p.path / ".resume", ignore_errors=True)
    restored = digests(p, tracked) == committed
    return Outcome(case, done.returncode, done.stdout + done.stderr, seconds, broken, untouched and not leftovers,
                   outside_untouched, restored, rerun.stdout + rerun.stderr if rerun else "")


@pytest.fixture(scope="module")
def outcomes(tiny_run, mirror, tmp_path_factory) -> dict[str, Outcome]:
    """Every case, played in one copy of the committed tiny run per core, at once."""
    tiny_run.restore(tiny_run.head)
    cores = sorted(os.sched_getaffinity(0))  # the run was made on one core (one thread): so is every rerun
    copies = [tiny_run.duplicate(tmp_path_factory.mktemp("copy") / "project", {core}) for core in cores]
    outside = tmp_path_factory.mktemp("outside")
    (outside / "victim").write_text("a file outside the project that no case may remove")
    free = list(copies)
    lock = concurrent.futures.thread.threading.Lock()

    def play_on_a_free_copy(case: Case) -> Outcome:
        with lock:
            p = free.pop()
        try:
            return play(p, case, outside, mirror, tmp_path_factory.mktemp("scratch"))
        finally:
            with lock:
                free.append(p)

    with concurrent.futures.ThreadPoolExecutor(len(copies)) as pool:
        results = {case.name: outcome for case, outcome in zip(CASES, pool.map(play_on_a_free_copy, CASES), strict=True)}
    if os.environ.get("LATENTLAB_FUZZ_TABLE"):
        Path(os.environ["LATENTLAB_FUZZ_TABLE"]).write_text(fuzz_table(results.values()))
    results["copies"] = copies
    return results


def fuzz_table(outcomes) -> str:
    rows = ["| case | command | message | seconds | outputs untouched | restored |", "|---|---|---|---:|---|---|"]
    for o in outcomes:
        line = error_lines(o.output)[0] if error_lines(o.output) else f"(SIGKILL, exit {o.returncode})"
        rows.append(f"| {o.case.name} | `dvc {' '.join(o.case.command)}` | `{line[:140]}` | {o.seconds:.1f} | "
                    f"{'yes' if o.untouched else 'NO'} | {'yes' if o.restored else 'NO'} |")
    return "\n".join(rows) + "\n"


def error_lines(output: str) -> list[str]:
    """Our one line (`error: ...`), or DVC's own when it stops before any stage runs."""
    ours = [line for line in output.splitlines() if line.startswith("error: ")]
    return ours or [line for line in output.splitlines() if line.startswith("ERROR: ")]


def test_there_are_at_least_40_cases_of_every_kind():
    assert len(CASES) >= 40 and len({case.name for case in CASES}) == len(CASES)
    assert sum(bool(c.kill_before) for c in CASES) >= 8 and sum(bool(c.file_limit) for c in CASES) >= 3
    assert sum(bool(c.corrupt) for c in CASES) >= 12 and sum("-s" in c.command for c in CASES if c.params) >= 7


@pytest.mark.parametrize("name", [case.name for case in CASES])
def test_a_failure_loses_nothing(outcomes, name):
    o = outcomes[name]
    assert o.returncode != 0, o.output
    assert "Traceback" not in o.output, o.output
    if o.case.kill_before:
        assert o.returncode == -9, o.output  # killed at the chosen point, with nothing printed
    else:
        lines = error_lines(o.output)
        assert len(lines) == 1 and o.case.message.replace("{outside}", "") in lines[0].replace(str(Path("/")), "/"), \
            o.output
    assert o.untouched, f"an output changed:\n{o.output}"
    assert o.outside_untouched, "a file outside the project was created or removed"
    assert o.restored, f"after the fix, the outputs are not the committed run's:\n{o.rerun_output}"


def test_after_every_case_dvc_status_has_nothing_to_rerun(outcomes):
    for p in outcomes["copies"]:
        assert "up to date" in p.dvc("status").stdout, p.path


def test_a_kill_after_the_last_epoch_resumes_without_training_again(outcomes):
    rerun = outcomes["kill after the last epoch, before the checkpoint"].rerun_output
    assert "Running stage 'classifier'" in rerun and not re.search(r"classifier epoch \d+/", rerun), rerun
    pool = outcomes["kill a pool of trainings"].rerun_output
    assert not re.search(r"^vae-2: unchanged", pool, re.M) and not re.search(r"^vae-2 epoch \d+/", pool, re.M), pool
    assert re.search(r"^ae-2: unchanged", pool, re.M), pool


def test_no_value_of_params_yaml_appears_in_a_command_or_a_path():
    """The guarantee by construction: dvc.yaml interpolates nothing (no `${...}`, no matrix)."""
    text = (Path(__file__).resolve().parents[1] / "dvc.yaml").read_text()
    assert "${" not in text and "matrix:" not in text and "foreach:" not in text
