"""Training runs of the models on the shared trunk (AE, VAE, VQ-VAE, ...): what identifies a run, where a
finished one is found again, and a pool that trains the others side by side, one core each.

A stage (the latent sweep, the seed replicates) plans its runs and hands them to `train_runs`. A run
whose key — model, config, budget, seed, device, the prepared data and the code that trains it — matches
a finished run in the folders it may reuse (the stage's own previous outputs, another stage's) is copied
from there; the others are trained. So a changed param retrains only the runs it changes, and the seed
replicate at the sweep's seed is the sweep's run, copied. Every run trains on one thread of its own:
as many run at once as there are cores (2 small networks on 2 cores: 1.2-1.3x the steps of one network
on both; benchmarks/README.md), and each gives the same bytes however many run beside it.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import hashlib
import json
import multiprocessing
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from latentlab.checkpoint import save_checkpoint
from latentlab.closure import module_closure
from latentlab.config import Config, FSQConfig, TrainConfig
from latentlab.data import Split, load_splits
from latentlab.errors import CheckpointError
from latentlab.evaluate.codebook import codebook_scores
from latentlab.evaluate.reconstruction import mean_scores, per_image_scores
from latentlab.inference import map_batches
from latentlab.io import after_commit, atomic_folder, copy, load_tensors, read_json, write_json
from latentlab.models import build_model, sweep_model_config
from latentlab.resume import RESUME_DIR, ResumeFile, file_digest
from latentlab.runtime import deterministic_cuda, keep_freed_memory, usable_cores
from latentlab.train import budget, fit_logged, summarize


@dataclass(frozen=True)
class Run:
    """One training of a trunk model: `stem` names its checkpoint, metrics file and log folder."""

    stem: str
    model: str
    config: dict[str, Any]  # the plain config its checkpoint stores
    seed: int

    @property
    def latent(self) -> int:
        return self.config["latent"]


@dataclass(frozen=True)
class RunFolders:
    """Where a stage keeps its runs: checkpoints, metrics files and DVCLive logs, one of each per run."""

    checkpoints: Path
    metrics: Path
    logs: Path

    def files(self, stem: str) -> tuple[Path, Path, Path]:
        return self.checkpoints / f"{stem}.pt", self.metrics / f"{stem}.json", self.logs / stem


def sweep_runs(cfg: Config, image_shape: tuple[int, int, int]) -> list[Run]:
    """The latent sweep: every model of sweep.models at every size of sweep.latents, at base.seed."""
    return [Run(f"{name}-{latent}", name, sweep_model_config(name, image_shape, latent, cfg), cfg.base.seed)
            for name in cfg.sweep.models for latent in cfg.sweep.latents]


def replicate_runs(cfg: Config, image_shape: tuple[int, int, int]) -> list[Run]:
    """The contest: every model of sweep.models at model.latent, once per seed of sweep.seeds."""
    return [Run(f"{name}-s{seed}", name, sweep_model_config(name, image_shape, cfg.model.latent, cfg), seed)
            for name in cfg.sweep.models for seed in cfg.sweep.seeds]


def codebook_runs(cfg: Config, image_shape: tuple[int, int, int]) -> list[Run]:
    """Where VQ loses its codes: at model.latent and base.seed, for each size of codebooks.vq_sizes, VQ-VAE
    as models.vqvae has it (EMA and dead-code restarts), the same without restarts, and FSQ with the grid
    of as many codes (codebooks.fsq_levels)."""
    runs = []
    for size, levels in zip(cfg.codebooks.vq_sizes, cfg.codebooks.fsq_levels, strict=True):
        variants = {f"vqvae-{size}": ("vqvae", dataclasses.replace(cfg.models.vqvae, codebook_size=size)),
                    f"vqvae-no-restarts-{size}": ("vqvae", dataclasses.replace(cfg.models.vqvae, codebook_size=size,
                                                                              dead_code_threshold=0.0)),
                    f"fsq-{size}": ("fsq", FSQConfig(levels=levels))}
        runs += [Run(stem, name, sweep_model_config(name, image_shape, cfg.model.latent, cfg, bottleneck), cfg.base.seed)
                 for stem, (name, bottleneck) in variants.items()]
    return runs


def run_key(run: Run, train: TrainConfig, data_digest: str, device: torch.device) -> str:
    """What determines a run's result, hashed: two runs with one key give the same bytes."""
    identity = {"model": run.model, "config": run.config, "seed": run.seed, "train": budget(train),
                "device": device.type, "data": data_digest, "code": training_code_digest()}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


@functools.cache
def training_code_digest() -> str:
    """sha256 of the code that trains and scores a run: this module and every latentlab module it imports."""
    return file_digest(module_closure(__name__))


@dataclass(frozen=True)
class Finished:
    """A run written by `train_runs`: its metrics, and its checkpoint, readable for the rest of the stage."""

    metrics: dict
    checkpoint: Path


def train_runs(runs: list[Run], train: TrainConfig, data: Path, out: RunFolders, reuse: list[RunFolders], *,
               device: torch.device, budget_key: str = "train") -> dict[str, Finished]:
    """Write every run of `runs` into `out` (which then holds those runs only): copied where `reuse` holds
    a finished run with its key, trained otherwise; return them by stem. The folders are replaced together
    with the stage's other outputs; until then the trained runs' resume states are kept."""
    digest = file_digest([data])
    keys = {run.stem: run_key(run, train, digest, device) for run in runs}
    finished = _finished_runs(reuse)
    with atomic_folder(out.checkpoints) as checkpoints, atomic_folder(out.metrics) as metrics, \
            atomic_folder(out.logs) as logs:
        staged = RunFolders(checkpoints, metrics, logs)
        todo, metrics = [], {}
        for run in runs:
            found = finished.get(keys[run.stem])
            if found is None:
                todo.append(run)
                continue
            folders, stem = found
            metrics[run.stem] = read_json(folders.files(stem)[1])
            for source, target in zip(folders.files(stem), staged.files(run.stem), strict=True):
                copy(source, target)
            same = "(same model, config, seed, budget, data and code)"
            print(f"{run.stem}: unchanged {same}: kept" if (folders, stem) == (out, run.stem) else
                  f"{run.stem}: the same run as {folders.checkpoints / stem}.pt {same}: copied", flush=True)
        plain = TrainConfig(**budget(train))  # a plain copy travels to the workers (a picklable, exact type)
        jobs = [_Job(run, keys[run.stem], plain, data, staged, _resume_path(out, run), budget_key) for run in todo]
        metrics |= _train_all(jobs, device)
    for job in jobs:
        after_commit(functools.partial(job.resume.unlink, missing_ok=True))
    # Inside a stage the new checkpoints wait in the temporary folder until the commit; outside, they are in place.
    where = staged if staged.checkpoints.exists() else out
    return {run.stem: Finished(metrics[run.stem], where.files(run.stem)[0]) for run in runs}


def _finished_runs(folders: list[RunFolders]) -> dict[str, tuple[RunFolders, str]]:
    """{key: (folders, stem)} of every complete run in `folders` (checkpoint with a key, metrics, log)."""
    found = {}
    for folder in folders:
        for path in sorted(folder.checkpoints.glob("*.pt")) if folder.checkpoints.is_dir() else []:
            try:
                stored = load_tensors(path, keys=("run_key",))
            except CheckpointError:
                continue  # unreadable, or written before runs had keys: trained again
            _, metrics, log = folder.files(path.stem)
            if metrics.is_file() and log.is_dir():
                found.setdefault(stored["run_key"], (folder, path.stem))
    return found


def _resume_path(out: RunFolders, run: Run) -> Path:
    return RESUME_DIR / f"{'-'.join(out.checkpoints.parts)}-{run.stem}.pt"


@dataclass(frozen=True)
class _Job:
    run: Run
    key: str
    train: TrainConfig
    data: Path
    out: RunFolders  # the stage's temporary folders
    resume: Path
    budget_key: str


def _train_all(jobs: list[_Job], device: torch.device) -> dict[str, dict]:
    """Train the jobs (on the CPU in a pool of one-thread processes, on a GPU one after the other here);
    their metrics by stem."""
    if not jobs:
        return {}
    if device.type != "cpu":
        deterministic_cuda()
        return dict(_train(job, device) for job in jobs)
    workers = min(usable_cores(), len(jobs))
    if workers == 1:  # one core: here, on one thread (as a worker would), without starting a process
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        done = dict(_train(job, device) for job in jobs)
        torch.set_num_threads(threads)
        return done
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no torch thread pool is forked
    pool = context.Pool(workers, initializer=_worker_setup)
    try:
        done = dict(pool.imap_unordered(functools.partial(_train, device=device), jobs))  # a run's error ends it
        pool.close()
        return done
    finally:
        pool.terminate()  # after an error or Ctrl-C: the other runs stop too (their finished epochs are kept)
        pool.join()


def _worker_setup() -> None:
    """One thread per run; Ctrl-C is the parent's to handle; a worker dies with its parent."""
    torch.set_num_threads(1)
    keep_freed_memory()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG


def _train(job: _Job, device: torch.device) -> tuple[str, dict]:
    """Train one run and write its checkpoint, metrics file and log into the job's folders; (stem, metrics)."""
    run = job.run
    torch.manual_seed(run.seed)
    train, validation, test = _splits(job.data)
    model = build_model(run.model, run.config)
    resume = ResumeFile(job.resume, {"key": job.key})
    checkpoint, metrics_path, log = job.out.files(run.stem)
    # The per-epoch curve is the validation split's (the one "best" epochs are chosen on); the test
    # split is scored once, after the last epoch.
    history = fit_logged(model, train, {"validation": validation}, job.train, device=device, title=run.stem,
                         budget_key=job.budget_key, log_dir=log, resume=resume, scored_at_end={"test": test},
                         live_progress=False)
    save_checkpoint(checkpoint, run.model, run.config, model, run.seed, run_key=job.key)
    metrics = {"model": run.model, "latent": run.latent, "seed": run.seed, **summarize(history)}
    metrics["test"].update(mean_scores(per_image_scores(model, test.images, device)))
    if model.snaps:
        metrics["codebook"] = codebook_scores(map_batches(model.encode_codes, test.images, device), model.quantizer)
    write_json(metrics_path, metrics)
    return run.stem, metrics


@functools.cache
def _splits(data: Path) -> tuple[Split, Split, Split]:
    """The prepared splits, read once per process (a worker trains several runs)."""
    return load_splits(data)
