"""Samplers for models without a learned prior: what each model generates from a simple Z."""

from __future__ import annotations

import torch

from latentlab.models import LatentModel
from latentlab.models.vqvae import VQVAE

BATCH_SIZE = 1000


@torch.no_grad()
def decode_to_uint8(model: LatentModel, z: torch.Tensor) -> torch.Tensor:
    """Images (N, C, H, W) as uint8 from codes of `model.encode`'s shape, decoded in batches."""
    model.eval()
    return torch.cat([(torch.sigmoid(model.decode(batch)) * 255).round().to("cpu", torch.uint8)
                      for batch in z.split(BATCH_SIZE)])


def standard_normal(n: int, latent: int, generator: torch.Generator) -> torch.Tensor:
    """Z ~ N(0, I): the VAE's prior, and the naive sampler of the AE."""
    return torch.randn(n, latent, generator=generator)


def gaussian_mixture(codes: torch.Tensor, n: int, components: int, seed: int) -> torch.Tensor:
    """n draws from a Gaussian mixture (full covariances) fit to training codes (N, latent)."""
    from sklearn.mixture import GaussianMixture

    mixture = GaussianMixture(n_components=components, covariance_type="full", random_state=seed)
    mixture.fit(codes.double().numpy())
    draws, _ = mixture.sample(n)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))  # sample() groups by component
    return torch.from_numpy(draws).float()[order]


@torch.no_grad()
def uniform_codes(model: VQVAE, n: int, generator: torch.Generator) -> torch.Tensor:
    """Images from codes drawn uniformly and independently per slot: the naive VQ-VAE sampler."""
    model.eval()
    codes = torch.randint(model.quantizer.codebook_size, (n, model.latent), generator=generator)
    return torch.cat([(torch.sigmoid(model.decode_codes(batch)) * 255).round().to(torch.uint8)
                      for batch in codes.split(BATCH_SIZE)])


def uniform_noise_images(n: int, shape: tuple[int, int, int], generator: torch.Generator) -> torch.Tensor:
    """Pixels drawn uniformly: the far anchor of the FID scale."""
    return torch.randint(256, (n, *shape), generator=generator, dtype=torch.uint8)


def evenly_spaced(images: torch.Tensor, n: int) -> torch.Tensor:
    """At most n images spread over the whole tensor (so a label-sorted set keeps every label)."""
    if len(images) <= n:
        return images
    return images[torch.linspace(0, len(images) - 1, n).round().long()]
