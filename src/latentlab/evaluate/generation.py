"""Samplers for models without a learned prior: what each model generates from a simple Z."""

from __future__ import annotations

from pathlib import Path

import torch

from latentlab.config import GenerationConfig
from latentlab.evaluate.classifier_score import to_uint8
from latentlab.evaluate.contest import encode_all
from latentlab.figures import image_grid, save_figure
from latentlab.inference import map_batches
from latentlab.models import LatentModel
from latentlab.models.vqvae import QuantizedAutoencoder


def decode_to_uint8(model: LatentModel, z: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Images (N, C, H, W) as uint8 from codes of `model.encode`'s shape (on any device)."""
    model.eval()
    return map_batches(lambda batch: to_uint8(torch.sigmoid(model.decode(batch))), z, device)


def standard_normal(n: int, latent: int, generator: torch.Generator) -> torch.Tensor:
    """Z ~ N(0, I) on the CPU: the VAE's prior, and the naive sampler of the AE."""
    return torch.randn(n, latent, generator=generator)


def gaussian_mixture(codes: torch.Tensor, n: int, components: int, seed: int) -> torch.Tensor:
    """n draws from a Gaussian mixture (full covariances) fit to training codes (N, latent), on the CPU."""
    from sklearn.mixture import GaussianMixture

    mixture = GaussianMixture(n_components=components, covariance_type="full", random_state=seed)
    mixture.fit(codes.double().numpy())
    draws, _ = mixture.sample(n)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))  # sample() groups by component
    return torch.from_numpy(draws).float()[order]


def uniform_codes(model: QuantizedAutoencoder, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Images from codes drawn uniformly and independently per slot: the naive sampler of VQ-VAE and FSQ."""
    model.eval()
    codes = torch.randint(model.quantizer.codebook_size, (n, model.latent), generator=generator)
    return map_batches(lambda batch: to_uint8(torch.sigmoid(model.decode_codes(batch))), codes, device)


def uniform_noise_images(n: int, shape: tuple[int, int, int], generator: torch.Generator) -> torch.Tensor:
    """Pixels drawn uniformly: the far anchor of the FID scale."""
    return torch.randint(256, (n, *shape), generator=generator, dtype=torch.uint8)


def evenly_spaced(images: torch.Tensor, n: int) -> torch.Tensor:
    """At most n images spread over the whole tensor (so a label-sorted set keeps every label)."""
    if len(images) <= n:
        return images
    return images[torch.linspace(0, len(images) - 1, n).round().long()]


def sweep_samplers(models: dict[str, LatentModel], train_images: torch.Tensor, n: int, components: int, seed: int,
                   device: torch.device) -> dict[str, torch.Tensor]:
    """n uint8 images from each sampler of the sweep's models (those of `models` present): AE naive and
    with a Gaussian mixture fit to its training codes, VAE from its prior, VQ-VAE and FSQ from uniform codes."""
    generator = torch.Generator().manual_seed(seed)
    out = {}
    if "ae" in models:
        ae = models["ae"]
        out["ae_normal"] = decode_to_uint8(ae, standard_normal(n, ae.latent, generator), device)
        mixture = gaussian_mixture(encode_all(ae, train_images, device), n, components, seed)
        out["ae_mixture"] = decode_to_uint8(ae, mixture, device)
    if "vae" in models:
        out["vae_normal"] = decode_to_uint8(models["vae"], standard_normal(n, models["vae"].latent, generator), device)
    for name in ("vqvae", "fsq"):
        if name in models:
            out[f"{name}_uniform"] = uniform_codes(models[name], n, generator, device)
    return out


def draw_samples(shown: dict[str, torch.Tensor], titles: dict[str, str], conditional: dict, classes: list[str],
                 cfg: GenerationConfig, folder: Path) -> None:
    """One grid per sampler (uint8 images, grid_columns per row), and VQ-VAE-2's conditional samples by label."""
    for sampler, images in shown.items():
        rows = list((images[: cfg.grid_images].float() / 255).split(cfg.grid_columns))
        save_figure(image_grid(rows, title=titles[sampler]), folder / f"{sampler}.png")
    rows = [conditional["images"][conditional["labels"] == k][: cfg.grid_columns].float() / 255
            for k in range(len(classes))]
    title = f"VQ-VAE-2 samples of each requested label, temperature {conditional['temperature']:g}"
    save_figure(image_grid(rows, row_labels=classes, title=title), folder / "vqvae2_conditional.png")
