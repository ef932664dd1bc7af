"""Robustness of the decoder: Gaussian noise of growing scale added to Z before decoding.

The noise on each coordinate is `scale` times that coordinate's standard deviation over the
training codes, so the curves of different models share one x axis.
"""

from __future__ import annotations

import torch

from latentlab.models import LatentModel


@torch.no_grad()
def noisy_decodes(model: LatentModel, images: torch.Tensor, spread: torch.Tensor, scales: tuple[float, ...],
                  generator: torch.Generator) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The clean reconstructions, and per scale the images decoded from z + scale * spread * eps."""
    model.eval()
    z = model.encode(images)
    clean = torch.sigmoid(model.decode(z))
    noisy = []
    for scale in scales:
        eps = torch.randn(z.shape, generator=generator).to(z.device)
        noisy.append(torch.sigmoid(model.decode(z + scale * spread * eps)))
    return clean, noisy


def mse_to_clean(clean: torch.Tensor, noisy: list[torch.Tensor]) -> list[float]:
    """Mean squared pixel difference between each noisy decode and the clean reconstruction."""
    return [float((n - clean).pow(2).mean()) for n in noisy]
