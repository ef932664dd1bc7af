"""Reconstruction quality: MSE, PSNR and SSIM in [0, 1] pixel scale, per image then averaged."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from PIL import Image

from latentlab.data import Split
from latentlab.images import grid
from latentlab.models import LatentModel
from latentlab.models.vqvae import VQVAE
from latentlab.quantize import Quantizer, code_statistics

SSIM_WINDOW = 11  # Gaussian window of Wang et al. 2004
SSIM_SIGMA = 1.5
SSIM_C1 = 0.01**2  # (K1 * L)^2 with L = 1, the pixel range
SSIM_C2 = 0.03**2
BATCH_SIZE = 500


def psnr(mse: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB for images in [0, 1]."""
    return 10 * torch.log10(1 / mse.clamp_min(1e-10))


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Structural similarity per image (B,), Gaussian-weighted local statistics, channels averaged."""
    channels = x.shape[1]
    coords = torch.arange(SSIM_WINDOW, dtype=x.dtype, device=x.device) - SSIM_WINDOW // 2
    g = torch.exp(-coords.pow(2) / (2 * SSIM_SIGMA**2))
    g = g / g.sum()
    window = (g[:, None] * g[None, :]).expand(channels, 1, SSIM_WINDOW, SSIM_WINDOW)

    def local_mean(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, window, groups=channels)  # "valid" windows only, as in the reference code

    mu_x, mu_y = local_mean(x), local_mean(y)
    var_x = local_mean(x * x) - mu_x.pow(2)
    var_y = local_mean(y * y) - mu_y.pow(2)
    cov = local_mean(x * y) - mu_x * mu_y
    index = ((2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)) / (
        (mu_x.pow(2) + mu_y.pow(2) + SSIM_C1) * (var_x + var_y + SSIM_C2))
    return index.flatten(1).mean(1)


@torch.no_grad()
def reconstruction_scores(model: LatentModel, data: Split, device: torch.device) -> dict[str, float]:
    """Mean per-image MSE, PSNR and SSIM of the model's reconstructions of `data`."""
    model.eval()
    totals = {"mse": 0.0, "psnr": 0.0, "ssim": 0.0}
    for x, _ in data.batches(BATCH_SIZE, device=device):
        recon = model.reconstruct(x)
        mse = (recon - x).pow(2).flatten(1).mean(1)
        totals["mse"] += float(mse.sum())
        totals["psnr"] += float(psnr(mse).sum())
        totals["ssim"] += float(ssim(recon, x).sum())
    return {name: total / len(data) for name, total in totals.items()}


@torch.no_grad()
def encode_codes(model: VQVAE, data: Split, device: torch.device) -> torch.Tensor:
    """The VQ-VAE's codes of every image of `data`, (N, latent)."""
    model.eval()
    return torch.cat([model.encode_codes(x) for x, _ in data.batches(BATCH_SIZE, device=device)])


def codebook_scores(codes: torch.Tensor, quantizer: Quantizer) -> dict[str, float]:
    """Codebook usage and perplexity of `codes`, dead codes restarted in training, and the code's size in bits.

    codes: (N, *slots). Bits: slots x log2(codebook size), the capacity of one image's code.
    """
    bits = math.prod(codes.shape[1:]) * math.log2(quantizer.codebook_size)
    return {**code_statistics(codes, quantizer.codebook_size), "restarts": int(quantizer.restarts), "bits": bits}


@torch.no_grad()
def reconstruction_grid(models: dict[str, LatentModel], images: torch.Tensor) -> Image.Image:
    """Originals in the top row, each model's reconstructions in a row below, labelled."""
    rows = [images] + [model.eval().reconstruct(images) for model in models.values()]
    return grid(rows, labels=["original", *models])
