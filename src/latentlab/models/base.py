"""The interfaces the training loop and the evaluations rely on."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

Batch = tuple[torch.Tensor, ...]


class Trainable(nn.Module):
    """What `fit` needs: named loss terms for a batch, already weighted, to be summed."""

    def losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def measures(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Batch means of quantities other than the loss (accuracy, MSE), scored on the test split."""
        return {}


class LatentModel(Trainable):
    """An image model with a latent code Z: x -> encode -> Z -> decode -> logits of x."""

    latent: int  # coordinates of Z (for VQ models: slots)
    snaps = False  # VQ models snap Z to codes before decoding, and have `codes_of(z)`

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The continuous code of x (AE: z, VAE: posterior mean, VQ: before quantization)."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel logits for a code of `encode`'s shape (VQ models quantize it first)."""
        raise NotImplementedError

    def bottleneck(self, z: torch.Tensor) -> torch.Tensor:
        """What the decoder reads for z: z itself here; VQ models snap it to code vectors."""
        return z

    def decode_unsnapped(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel logits from z used as it is, without quantization (the same as `decode` here)."""
        return self.decode(z)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1]: the model's reconstruction of x."""
        return torch.sigmoid(self.decode(self.encode(x)))

    def measures(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Per epoch on the held-out splits: pixel MSE and the reconstruction NLL of decode(encode(x)),
        the one distortion every model shares (the VAE's `recon` term decodes a sampled z instead)."""
        x = batch[0]
        logits = self.decode(self.encode(x))
        return {"mse": (torch.sigmoid(logits) - x).pow(2).mean(), "recon_nll": bernoulli_nll(logits, x)}


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x | logits) under independent Bernoulli pixels, summed per image, mean over the batch."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]


def bernoulli_nll_per_image(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x | logits) of each image, (B,), in nats."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
