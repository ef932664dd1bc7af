"""The plain autoencoder: Z = encoder(x) in R^latent, trained on reconstruction alone."""

from __future__ import annotations

import torch

from latentlab.config import AEConfig, TrunkConfig
from latentlab.models.base import Batch, LatentModel, bernoulli_nll
from latentlab.models.trunk import Decoder, Encoder


class Autoencoder(LatentModel):
    def __init__(self, image_shape: tuple[int, int, int], latent: int, trunk: TrunkConfig, bottleneck: AEConfig):
        super().__init__()
        self.latent = latent
        self.encoder = Encoder(image_shape, trunk, out_features=latent)
        self.decoder = Decoder(image_shape, trunk, in_features=latent)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk_pass(self.encoder, x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.trunk_pass(self.decoder, z)

    def losses_and_logits(self, batch: Batch) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        x = batch[0]
        logits = self.decode(self.encode(x))
        return {"recon": bernoulli_nll(logits, x)}, logits
