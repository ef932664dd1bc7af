"""The variational autoencoder (Kingma & Welling 2014): q(z|x) = N(mu, sigma^2), prior N(0, I)."""

from __future__ import annotations

import math

import torch

from latentlab.config import TrunkConfig, VAEConfig
from latentlab.models.base import Batch, LatentModel, bernoulli_nll, distortion
from latentlab.models.trunk import Decoder, Encoder


class VAE(LatentModel):
    def __init__(self, image_shape: tuple[int, int, int], latent: int, trunk: TrunkConfig, bottleneck: VAEConfig):
        super().__init__()
        self.latent = latent
        self.beta = bottleneck.beta
        self.encoder = Encoder(image_shape, trunk, out_features=2 * latent)
        self.decoder = Decoder(image_shape, trunk, in_features=latent)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z|x), each (B, latent)."""
        mean, log_var = self.trunk_pass(self.encoder, x).chunk(2, dim=1)
        return mean, log_var

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.trunk_pass(self.decoder, z)

    def losses_and_logits(self, batch: Batch) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The negative ELBO: reconstruction under one sample of z, plus beta * KL(q(z|x) || N(0, I))."""
        x = batch[0]
        return self._negative_elbo(x, *self.posterior(x))

    def _negative_elbo(self, x: torch.Tensor, mean: torch.Tensor,
                       log_var: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()  # reparameterization trick
        logits = self.decode(z)
        return {"recon": bernoulli_nll(logits, x), "kl": self.beta * gaussian_kl(mean, log_var).mean()}, logits

    def held_out_terms(self, batch: Batch) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """One encoder pass, two decodes: the loss decodes a sampled z, the measures the posterior mean."""
        x = batch[0]
        mean, log_var = self.posterior(x)
        return self._negative_elbo(x, mean, log_var)[0], self._measures(x, mean, log_var)

    def measures(self, batch: Batch) -> dict[str, torch.Tensor]:
        x = batch[0]
        return self._measures(x, *self.posterior(x))

    def _measures(self, x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> dict[str, torch.Tensor]:
        """MSE and reconstruction NLL of decoding the posterior mean (as for every model), and the rate:
        KL(q(z|x) || N(0, I)) in bits per image, unweighted by beta."""
        return {**distortion(self.decode(mean), x), "kl_bits": gaussian_kl(mean, log_var).mean() / math.log(2)}


def gaussian_kl(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_var)) || N(0, I)) per row, in closed form (appendix B of the paper)."""
    return 0.5 * (mean.pow(2) + log_var.exp() - 1 - log_var).sum(dim=1)


class BinarizedVAE(VAE):
    """The VAE as the VAE papers train it on MNIST: on images binarized afresh at every step (each pixel
    white with probability its grey level: dynamic binarization), so that its Bernoulli likelihood is a
    likelihood of binary images, whose test NLL can stand beside the published ones. Everything else,
    trunk, prior, loss and budget, is the study's VAE."""

    def losses_and_logits(self, batch: Batch) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        return super().losses_and_logits(binarized(batch))

    def held_out_terms(self, batch: Batch) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        return super().held_out_terms(binarized(batch))


def binarized(batch: Batch, generator: torch.Generator | None = None) -> Batch:
    """The batch with its images (in [0, 1]) replaced by one draw of black and white pixels."""
    return (torch.bernoulli(batch[0], generator=generator), *batch[1:])
