"""Reconstruction quality per image: MSE, PSNR and SSIM in [0, 1] pixel scale, and the Bernoulli
NLL of the reconstruction (the distortion every model shares, in nats per image)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from latentlab.inference import map_batches
from latentlab.models import LatentModel
from latentlab.models.base import bernoulli_nll_per_image

SSIM_WINDOW = 11  # Gaussian window of Wang et al. 2004
SSIM_SIGMA = 1.5
SSIM_C1 = 0.01**2  # (K1 * L)^2 with L = 1, the pixel range
SSIM_C2 = 0.03**2
SCORES = ("mse", "psnr", "ssim", "recon_nll")


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


def per_image_scores(model: LatentModel, images: torch.Tensor, device: torch.device) -> dict[str, torch.Tensor]:
    """Each SCORES entry for every image (N,) of uint8 `images`, reconstructed by decode(encode(x))."""
    model.eval()

    def scores(x: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = model.decode(model.encode(x))
        recon = torch.sigmoid(logits)
        mse = (recon - x).pow(2).flatten(1).mean(1)
        return {"mse": mse, "psnr": psnr(mse), "ssim": ssim(recon, x), "recon_nll": bernoulli_nll_per_image(logits, x)}

    return map_batches(scores, images, device)


def mean_scores(per_image: dict[str, torch.Tensor]) -> dict[str, float]:
    return {name: float(values.double().mean()) for name, values in per_image.items()}

