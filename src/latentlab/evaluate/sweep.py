"""The sweep at a glance: every run's final numbers in one table, and all loss curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latentlab.cli import run_name
from latentlab.io import read_json
from latentlab.tables import Row
from latentlab.tracking import read_series


def sweep_rows(metrics_dir: Path, models: tuple[str, ...], latents: tuple[int, ...]) -> list[Row]:
    """One row per (model, latent): losses, reconstruction scores and, for VQ-VAE, codebook use."""
    rows = []
    for model in models:
        for latent in latents:
            m = read_json(metrics_dir / f"{run_name(model, latent)}.json")
            codebook = m.get("codebook", {})
            rows.append({
                "model": model, "latent": latent, "epochs": m["epochs"],
                "best_test_loss": m["test"]["best_loss"], "test_loss": m["test"]["loss"],
                "train_loss": m["train"]["loss"], "test_mse": m["test"]["mse"],
                "test_psnr": m["test"]["psnr"], "test_ssim": m["test"]["ssim"],
                "codebook_usage": codebook.get("usage"), "codebook_perplexity": codebook.get("perplexity"),
                "code_bits": codebook.get("bits"),
            })
    return rows


def sweep_metrics(rows: list[Row]) -> dict[str, Any]:
    """Nested {model: {latent: numbers}}, so `dvc metrics diff` shows e.g. vae.16.test_mse."""
    keys = ("best_test_loss", "test_mse", "test_psnr", "test_ssim", "codebook_usage")
    nested: dict[str, Any] = {}
    for row in rows:
        numbers = {k: row[k] for k in keys if row[k] is not None}
        nested.setdefault(row["model"], {})[str(row["latent"])] = numbers
    return nested


def loss_curves(log_dir: Path, models: tuple[str, ...], latents: tuple[int, ...]) -> list[Row]:
    """Long-format rows (model, latent, split, epoch, loss) of every run's per-epoch losses."""
    rows = []
    for model in models:
        for latent in latents:
            for split in ("train", "test"):
                series = read_series(log_dir / run_name(model, latent), f"{split}/loss")
                rows += [{"model": model, "latent": latent, "split": split, "epoch": epoch, "loss": loss}
                         for epoch, loss in enumerate(series, start=1)]
    return rows
