"""Quantized autoencoders on the shared trunk: Z is `latent` slots, each snapped to a code.

VQ-VAE (van den Oord et al. 2017) snaps a slot to the nearest vector of a learned codebook; FSQ
(Mentzer et al. 2023) rounds each of its few coordinates to a fixed grid. Both share everything else.
"""

from __future__ import annotations

import torch
from torch import nn

from latentlab.config import FSQConfig, QuantizerConfig, TrunkConfig
from latentlab.models.base import Batch, LatentModel, bernoulli_nll
from latentlab.models.trunk import Decoder, Encoder
from latentlab.quantize import FiniteScalarQuantizer, build_quantizer


class QuantizedAutoencoder(LatentModel):
    """Encoder -> slots (B, latent, D) -> quantizer -> decoder; the quantizer alone tells the models apart."""

    snaps = True

    def __init__(self, image_shape: tuple[int, int, int], latent: int, trunk: TrunkConfig, quantizer: nn.Module):
        super().__init__()
        self.latent = latent
        self.quantizer = quantizer
        self.embed_dim = quantizer.embed_dim
        self.encoder = Encoder(image_shape, trunk, out_features=latent * self.embed_dim)
        self.decoder = Decoder(image_shape, trunk, in_features=latent * self.embed_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Slots before quantization, (B, latent, embed_dim)."""
        return self.trunk_pass(self.encoder, x).view(-1, self.latent, self.embed_dim)  # (B, latent*D) -> (B, latent, D)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self._decode_slots(self.bottleneck(z))

    def bottleneck(self, z: torch.Tensor) -> torch.Tensor:
        return self.quantizer.snap(z)

    def decode_unsnapped(self, z: torch.Tensor) -> torch.Tensor:
        """Logits from the slots as the quantizer would pass them before snapping (VQ: z itself; FSQ: z bounded)."""
        return self._decode_slots(self.quantizer.unsnapped(z))

    def _decode_slots(self, slots: torch.Tensor) -> torch.Tensor:
        return self.trunk_pass(self.decoder, slots.flatten(1))

    @torch.no_grad()
    def codes_of(self, z: torch.Tensor) -> torch.Tensor:
        """Code indices (B, latent) that the slots z (B, latent, D) snap to."""
        return self.quantizer.nearest(z.flatten(0, 1)).view(z.shape[:2])  # (B*latent, D) -> (B, latent)

    def encode_codes(self, x: torch.Tensor) -> torch.Tensor:
        """Code indices of images, (B, latent)."""
        return self.codes_of(self.encode(x))

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        return self._decode_slots(self.quantizer.lookup(codes))

    def losses_and_logits(self, batch: Batch) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        x = batch[0]
        out = self.quantizer(self.encode(x))
        logits = self._decode_slots(out.quantized)
        return {"recon": bernoulli_nll(logits, x), **out.losses}, logits


class VQVAE(QuantizedAutoencoder):
    """Slots snapped to the nearest of `codebook_size` learned codes; commitment loss, EMA or codebook loss."""

    def __init__(self, image_shape: tuple[int, int, int], latent: int, trunk: TrunkConfig,
                 bottleneck: QuantizerConfig):
        super().__init__(image_shape, latent, trunk, build_quantizer(bottleneck))


class FSQVAE(QuantizedAutoencoder):
    """Slots of len(levels) coordinates, each rounded to its levels: prod(levels) codes, no codebook, no
    commitment loss (the reconstruction is the whole loss).

    The encoder's outputs are standardized per coordinate over the batch (batch norm without a learned
    scale or shift; its running statistics in evaluation) before FSQ bounds them. Without it, this trunk
    does not train: in its first few hundred steps every model's decoder draws the mean image and ignores
    its code, so the gradient reaching the code is the same for every image, and Adam moves the
    encoder's outputs along it without limit (|z| ~300 after 50 steps at train.lr, ~5 even at lr 1e-4)
    into tanh's flat tails, where every image rounds to the same code and no gradient gets out again
    (test MSE 0.067, the mean image's, at every latent size; VQ-VAE's commitment loss holds its z back).
    Standardized, a coordinate cannot drift and always spans the levels: after one epoch at latent 16,
    test MSE 0.0145 with every code of a slot in use."""

    def __init__(self, image_shape: tuple[int, int, int], latent: int, trunk: TrunkConfig, bottleneck: FSQConfig):
        super().__init__(image_shape, latent, trunk, FiniteScalarQuantizer(bottleneck))
        self.standardize = nn.BatchNorm1d(latent * self.embed_dim, affine=False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Slots before rounding, (B, latent, len(levels)): the encoder's outputs, standardized."""
        return self.standardize(self.trunk_pass(self.encoder, x)).view(-1, self.latent, self.embed_dim)
