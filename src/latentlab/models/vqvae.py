"""The VQ-VAE (van den Oord et al. 2017) on the shared trunk: Z is `latent` slots, each snapped to a code."""

from __future__ import annotations

import torch

from latentlab.config import QuantizerConfig, TrunkConfig
from latentlab.models.base import Batch, LatentModel, bernoulli_nll
from latentlab.models.trunk import Decoder, Encoder
from latentlab.quantize import build_quantizer


class VQVAE(LatentModel):
    snaps = True

    def __init__(self, image_shape: tuple[int, int, int], latent: int, trunk: TrunkConfig,
                 bottleneck: QuantizerConfig):
        super().__init__()
        self.latent = latent
        self.embed_dim = bottleneck.embed_dim
        self.encoder = Encoder(image_shape, trunk, out_features=latent * bottleneck.embed_dim)
        self.quantizer = build_quantizer(bottleneck)
        self.decoder = Decoder(image_shape, trunk, in_features=latent * bottleneck.embed_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Slots before quantization, (B, latent, embed_dim)."""
        return self.encoder(x).view(-1, self.latent, self.embed_dim)  # (B, latent*D) -> (B, latent, D)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode_unsnapped(self.bottleneck(z))

    def bottleneck(self, z: torch.Tensor) -> torch.Tensor:
        return self.quantizer.snap(z)

    def decode_unsnapped(self, z: torch.Tensor) -> torch.Tensor:
        """Logits from slot vectors used as they are: code vectors, or any point of that space."""
        return self.decoder(z.flatten(1))

    @torch.no_grad()
    def codes_of(self, z: torch.Tensor) -> torch.Tensor:
        """Code indices (B, latent) that the slots z (B, latent, D) snap to."""
        return self.quantizer.nearest(z.flatten(0, 1)).view(z.shape[:2])  # (B*latent, D) -> (B, latent)

    def encode_codes(self, x: torch.Tensor) -> torch.Tensor:
        """Code indices of images, (B, latent)."""
        return self.codes_of(self.encode(x))

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        return self.decode_unsnapped(self.quantizer.lookup(codes))

    def losses_and_logits(self, batch: Batch) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        x = batch[0]
        out = self.quantizer(self.encode(x))
        logits = self.decode_unsnapped(out.quantized)
        return {"recon": bernoulli_nll(logits, x), **out.losses}, logits
