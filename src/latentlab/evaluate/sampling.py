"""Ancestral sampling of VQ-VAE-2: top codes from the top prior, bottom codes given them, decode."""

from __future__ import annotations

import torch

from latentlab.codes import decode
from latentlab.models.pixelcnn import PixelCNN
from latentlab.models.vqvae2 import VQVAE2


@torch.no_grad()
def sample_images(vqvae2: VQVAE2, prior_top: PixelCNN, prior_bottom: PixelCNN, labels: torch.Tensor, *,
                  temperature: float, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    """One image per label, uint8 (N, C, H, W), drawn in batches of `batch_size`."""
    images = []
    for batch in labels.split(batch_size):
        top = prior_top.sample(batch, temperature=temperature, generator=generator)
        bottom = prior_bottom.sample(batch, condition_codes=top, temperature=temperature, generator=generator)
        images.append((decode(vqvae2, top, bottom) * 255).round().to("cpu", torch.uint8))
    return torch.cat(images)


def labels_like(train_labels: torch.Tensor, n: int, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """n labels drawn from the label frequencies of the training set."""
    frequencies = torch.bincount(train_labels, minlength=num_classes).double()
    return torch.multinomial(frequencies / frequencies.sum(), n, replacement=True, generator=generator)


def labels_per_class(per_label: int, num_classes: int) -> torch.Tensor:
    """[0] * per_label + [1] * per_label + ...: `per_label` requests for every class."""
    return torch.arange(num_classes).repeat_interleave(per_label)
