"""The latent sweep at a glance: every run's final numbers in one table, every loss curve, and figures.

Runs are found by content: each run's metrics file names its model, latent size and seed, and
its DVCLive log folder (in the logs folder) has the metrics file's name.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.ticker
import pandas as pd

from latentlab.config import Config
from latentlab.errors import CheckpointError
from latentlab.figures import latent_axis, plot_by_model
from latentlab.io import read_json
from latentlab.names import MODEL_COLOURS, label
from latentlab.tables import read_csv

SIDE_TERMS = {"vae": ("kl_bits", "VAE: KL to its prior (bits per image)"),
              "vqvae": ("commitment", "VQ-VAE: commitment term (nats per image)")}


def runs(folder: Path, cfg: Config) -> dict[tuple[str, int], Path]:
    """The metrics file of each (model, latent) of sweep.models x sweep.latents, found by content."""
    found = {}
    for path in sorted(folder.glob("*.json")):
        m = read_json(path)
        found[m["model"], m["latent"]] = path
    wanted = [(name, latent) for name in cfg.sweep.models for latent in cfg.sweep.latents]
    missing = [key for key in wanted if key not in found]
    if missing:
        raise CheckpointError(f"{folder}: no metrics of {missing[0][0]} at latent {missing[0][1]}; run `dvc repro`")
    return {key: found[key] for key in wanted}


def sweep_table(paths: dict[tuple[str, int], Path]) -> pd.DataFrame:
    """One row per run: final-epoch test numbers (the saved model's), the best validation epoch, codebook use."""
    rows = []
    for (name, latent), path in paths.items():
        m = read_json(path)
        test, codebook = m["test"], m.get("codebook", {})
        rows.append({"model": name, "latent": latent, "epochs": m["epochs"],
                     "best_validation_epoch": m["best_validation_epoch"], "recon_nll": test["recon_nll"],
                     "mse": test["mse"], "psnr": test["psnr"], "ssim": test["ssim"], "kl_bits": test.get("kl_bits"),
                     "commitment": test.get("commitment"), "code_bits": codebook.get("bits"),
                     "code_entropy_bits": codebook.get("entropy_bits"), "codebook_usage": codebook.get("usage"),
                     "codebook_perplexity": codebook.get("perplexity")})
    return pd.DataFrame(rows)


def sweep_metrics(table: pd.DataFrame) -> dict:
    """Nested {model: {latent: numbers}}, so `dvc metrics diff` shows e.g. vae.16.mse."""
    nested: dict = {}
    for record in table.to_dict(orient="records"):  # native Python numbers, as JSON needs
        numbers = {key: value for key, value in record.items() if key not in ("model", "latent") and pd.notna(value)}
        nested.setdefault(record["model"], {})[str(record["latent"])] = numbers
    return nested


def loss_curves(paths: dict[tuple[str, int], Path], logs: Path) -> pd.DataFrame:
    """Long table (model, latent, split, epoch, loss) of every run's per-epoch train and validation loss."""
    frames = []
    for (name, latent), path in paths.items():
        for split in ("train", "validation"):
            series = read_csv(logs / path.stem / "plots" / "metrics" / split / "loss.tsv", ("step", "loss"),
                              sep="\t")  # DVCLive's layout
            frames.append(pd.DataFrame({"model": name, "latent": latent, "split": split,
                                        "epoch": series["step"] + 1, "loss": series["loss"]}))
    return pd.concat(frames, ignore_index=True)


def loss_figure(curves: pd.DataFrame) -> plt.Figure:
    """One panel per model: train (dashed) and validation (solid) loss per epoch, one colour per latent size."""
    models = list(curves["model"].unique())
    figure, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.8), squeeze=False, layout="constrained")
    for ax, model in zip(axes[0], models, strict=True):
        for i, (latent, rows) in enumerate(curves[curves["model"] == model].groupby("latent")):
            for split, style in (("train", "--"), ("validation", "-")):
                line = rows[rows["split"] == split]
                ax.plot(line["epoch"], line["loss"], style, marker="o", markersize=3, color=plt.cm.viridis(i / 5),
                        label=f"latent {latent}" if split == "validation" else None)
        ax.set(title=f"{label(model)}: its training objective", xlabel="epoch", ylabel="loss (nats per image)")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle("Train (dashed) and validation (solid) loss per epoch")
    return figure


def reconstruction_figure(table: pd.DataFrame) -> plt.Figure:
    """Reconstruction NLL against latent size (the term every model shares), and beside it, each on its
    own axis and not added in, what the VAE and the VQ-VAE pay on top: KL in bits, commitment in nats."""
    sides = [(model, column, title) for model, (column, title) in SIDE_TERMS.items() if model in set(table["model"])]
    figure, axes = plt.subplots(1, 1 + len(sides), figsize=(4.6 * (1 + len(sides)), 4), squeeze=False, layout="constrained")
    plot_by_model(axes[0, 0], table, "latent", "recon_nll")
    axes[0, 0].set(title="Reconstruction: Bernoulli NLL of decode(encode(x))", ylabel="nats per test image")
    axes[0, 0].legend(fontsize=8)
    for ax, (model, column, title) in zip(axes[0, 1:], sides, strict=True):
        rows = table[table["model"] == model].sort_values("latent")
        ax.plot(rows["latent"], rows[column], marker="o", color=MODEL_COLOURS[model])
        ax.set(title=title)
    for ax in axes[0]:
        latent_axis(ax, sorted(table["latent"].unique()))
        ax.grid(alpha=0.3)
    figure.suptitle("The latent sweep on the test split (final epoch): one quantity per axis")
    return figure


def contest_runs(folder: Path, cfg: Config) -> dict[str, dict[int, dict]]:
    """The metrics of each model of sweep.models at model.latent, per seed of sweep.seeds, found by content."""
    found = {}
    for path in sorted(folder.glob("*.json")):
        m = read_json(path)
        found[m["model"], m["latent"], m["seed"]] = m
    contest: dict[str, dict[int, dict]] = {}
    for name in cfg.sweep.models:
        for seed in cfg.sweep.seeds:
            if (name, cfg.model.latent, seed) not in found:
                raise CheckpointError(f"{folder}: no metrics of {name} at latent {cfg.model.latent} and seed {seed}; "
                                      "run `dvc repro`")
            contest.setdefault(name, {})[seed] = found[name, cfg.model.latent, seed]
    return contest
