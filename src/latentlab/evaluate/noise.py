"""Robustness of the decoder: Gaussian noise of growing scale added to Z before decoding.

The noise on each coordinate is `scale` times that coordinate's standard deviation over the
training codes, so the curves of different models share one x axis. The damage is measured
against the model's own clean reconstruction and against the clean image. VQ models snap the
noisy Z back to codes: noise smaller than the gap to the next code is absorbed by construction,
which `same_code` (the share of slots that keep their code) shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd
import torch

from latentlab.figures import plot_by_model
from latentlab.models import LatentModel


@dataclass
class NoisyDecodes:
    clean: torch.Tensor  # (N, C, H, W): the reconstructions, no noise
    noisy: list[torch.Tensor]  # per scale, (N, C, H, W)
    same_code: list[torch.Tensor] | None  # per scale, (N,): share of slots that keep their code (VQ models)


@torch.no_grad()
def noisy_decodes(model: LatentModel, images: torch.Tensor, spread: torch.Tensor, scales: tuple[float, ...],
                  generator: torch.Generator) -> NoisyDecodes:
    """Decode z + scale * spread * eps for each scale, eps ~ N(0, I) drawn on the CPU (the same for every device)."""
    model.eval()
    z = model.encode(images)
    codes = model.codes_of(z) if model.snaps else None
    noisy, same = [], []
    for scale in scales:
        moved = z + scale * spread * torch.randn(z.shape, generator=generator).to(z.device)
        noisy.append(torch.sigmoid(model.decode(moved)))
        if model.snaps:
            same.append((model.codes_of(moved) == codes).double().mean(1).cpu())
    return NoisyDecodes(torch.sigmoid(model.decode(z)), noisy, same if model.snaps else None)


def per_image_errors(decodes: NoisyDecodes, images: torch.Tensor, scales: tuple[float, ...]) -> dict[str, torch.Tensor]:
    """Per image (N,), for each scale: MSE to the clean reconstruction, MSE to the image, and (VQ) same_code."""
    out = {}
    for i, scale in enumerate(scales):
        noisy = decodes.noisy[i]
        out[f"mse_to_recon_at_{scale:g}sd"] = (noisy - decodes.clean).pow(2).flatten(1).mean(1).cpu()
        out[f"mse_to_image_at_{scale:g}sd"] = (noisy - images).pow(2).flatten(1).mean(1).cpu()
        if decodes.same_code is not None:
            out[f"same_code_at_{scale:g}sd"] = decodes.same_code[i]
    return out


def curve_frame(metrics: dict, scales: tuple[float, ...]) -> pd.DataFrame:
    """Long table (model, scale, measure, mean, low, high) of the MSE curves in a noise metrics dict."""
    rows = []
    for model, scores in metrics.items():
        if not isinstance(scores, dict):
            continue
        for measure in ("mse_to_recon", "mse_to_image"):
            for scale in scales:
                estimate = scores[f"{measure}_at_{scale:g}sd"]
                rows.append({"model": model, "scale": scale, "measure": measure, "mean": estimate["mean"],
                             "low": estimate.get("low"), "high": estimate.get("high")})
    return pd.DataFrame(rows)


def curve_figure(curve: pd.DataFrame, latent: int) -> plt.Figure:
    """MSE against noise scale, to the clean reconstruction (left) and to the image (right)."""
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True, layout="constrained")
    titles = {"mse_to_recon": "to the model's clean reconstruction", "mse_to_image": "to the clean image"}
    for ax, (measure, title) in zip(axes, titles.items(), strict=True):
        plot_by_model(ax, curve[curve["measure"] == measure], "scale", "mean", low="low", high="high")
        ax.set(title=f"MSE {title}", xlabel="noise on Z (sd of each coordinate over training codes)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("pixel MSE")
    axes[0].legend()
    figure.suptitle(f"Noise on Z before decoding, latent size {latent} (mean and 95% interval; VQ: before snapping)")
    return figure
