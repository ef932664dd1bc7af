"""VQ-VAE-2 (Razavi et al. 2019): a top code map for global shape, a bottom code map for detail.

    x (padded) -> bottom encoder -> z_b -> top encoder -> z_t -> top codebook -> e_t
    e_t -> top decoder -> d_t;   z_b + d_t -> bottom codebook -> e_b
    (e_b, upsampled e_t) -> decoder -> x_rec (cropped back to the image size)

Images are padded to `image_size` (32 for MNIST); the bottom grid is image_size / 4 and the
top grid image_size / 8 (8x8 and 4x4 by default). Both levels use the study's one quantizer,
each with its own codebook.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from latentlab.config import VQVAE2ModelConfig
from latentlab.models.base import Batch, LatentModel, bernoulli_nll
from latentlab.quantize import Quantized, Quantizer, build_quantizer


@dataclass
class Codes:
    top: torch.Tensor  # (B, H/8, W/8) int64
    bottom: torch.Tensor  # (B, H/4, W/4) int64


class ResBlock(nn.Module):
    def __init__(self, channels: int, res_channels: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.ReLU(), nn.Conv2d(channels, res_channels, 3, padding=1),
            nn.ReLU(), nn.Conv2d(res_channels, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


def _down(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)  # halves H and W


def _up(c_in: int, c_out: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)  # doubles H and W


def _stack(cfg: VQVAE2ModelConfig, first: nn.Module) -> list[nn.Module]:
    """`first`, a 3x3 convolution, then the residual blocks and a ReLU."""
    c = cfg.channels
    blocks = [ResBlock(c, cfg.res_channels) for _ in range(cfg.res_blocks)]
    return [first, nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), *blocks, nn.ReLU()]


class VQVAE2(LatentModel):
    """Z, for the evaluations, is both levels before quantization, flattened into one vector:
    the top map, then the bottom encoder's own part (z_b's projection, before d_t is added)."""

    snaps = True

    def __init__(self, image_shape: tuple[int, int, int], model: VQVAE2ModelConfig):
        super().__init__()
        channels, height, width = image_shape
        size, c = model.image_size, model.channels
        d_top, d_bottom = model.top.embed_dim, model.bottom.embed_dim
        if size % 8 or size < max(height, width):
            raise ValueError(f"vqvae2.model.image_size: {size} must be a multiple of 8 and at least {height}x{width}")
        self.image_shape = image_shape
        self.padding = ((size - width) // 2, (size - width + 1) // 2, (size - height) // 2, (size - height + 1) // 2)
        self.top_shape = (d_top, size // 8, size // 8)  # (D, h, w) of one image's top map
        self.bottom_shape = (d_bottom, size // 4, size // 4)
        self.latent = (size // 8) ** 2 + (size // 4) ** 2  # slots: code positions of both levels
        self.encoder_bottom = nn.Sequential(*_stack(model, nn.Sequential(_down(channels, c // 2), nn.ReLU(), _down(c // 2, c))))
        self.encoder_top = nn.Sequential(*_stack(model, _down(c, c)))
        self.pre_quantize_top = nn.Conv2d(c, d_top, 1)
        self.quantize_top = build_quantizer(model.top)
        self.decoder_top = nn.Sequential(*_stack(model, nn.Conv2d(d_top, c, 3, padding=1)), _up(c, d_bottom))
        self.pre_quantize_bottom = nn.Conv2d(c, d_bottom, 1)
        self.quantize_bottom = build_quantizer(model.bottom)
        self.upsample_top = _up(d_top, d_top)
        self.decoder = nn.Sequential(*_stack(model, nn.Conv2d(d_top + d_bottom, c, 3, padding=1)),
                                     _up(c, c // 2), nn.ReLU(), _up(c // 2, channels))
        # Training runs the convolutions in bfloat16 where the CPU has bf16 arithmetic: 1.4x faster
        # steps, test MSE and codebook usage within the run-to-run spread. The quantizers (distances,
        # EMA codebooks) and the loss stay float32, and so does everything outside training.
        self.train_in_bf16_where_native()

    def _pre_quantization(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The top map to quantize, and the bottom encoder's part, each (B, D, grid, grid)."""
        z_b = self.encoder_bottom(F.pad(x, self.padding))
        return self.pre_quantize_top(self.encoder_top(z_b)), self.pre_quantize_bottom(z_b)

    def decode_quantized(self, top: torch.Tensor, bottom: torch.Tensor) -> torch.Tensor:
        """Pixel logits (B, C, H, W), cropped to the image size, from both levels' vector maps."""
        logits = self.decoder(torch.cat([bottom, self.upsample_top(top)], dim=1))
        left, _, upper, _ = self.padding
        _, height, width = self.image_shape
        return logits[:, :, upper : upper + height, left : left + width]

    # --- codes: the training path, extraction and the priors ------------------------------

    def losses_and_logits(self, batch: Batch) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        x = batch[0]
        with self.training_autocast():
            top_z, bottom_z = self._pre_quantization(x)
            top = _quantize_map(self.quantize_top, top_z)
            bottom = _quantize_map(self.quantize_bottom, bottom_z.float() + self.decoder_top(top.quantized).float())
            logits = self.decode_quantized(top.quantized, bottom.quantized)
        logits = logits.float()
        terms = {"recon": bernoulli_nll(logits, x)}
        terms.update({f"{name}_top": value for name, value in top.losses.items()})
        terms.update({f"{name}_bottom": value for name, value in bottom.losses.items()})
        return terms, logits

    @torch.no_grad()
    def encode_codes(self, x: torch.Tensor) -> Codes:
        top_z, bottom_z = self._pre_quantization(x)
        top = _nearest_map(self.quantize_top, top_z)
        bottom = _nearest_map(self.quantize_bottom, bottom_z + self.decoder_top(_lookup_map(self.quantize_top, top)))
        return Codes(top, bottom)

    def decode_codes(self, codes: Codes) -> torch.Tensor:
        return self.decode_quantized(_lookup_map(self.quantize_top, codes.top),
                                     _lookup_map(self.quantize_bottom, codes.bottom))

    # --- Z: both levels before quantization, flattened --------------------------------------

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        top_z, bottom_z = self._pre_quantization(x)
        return torch.cat([top_z.flatten(1), bottom_z.flatten(1)], dim=1)  # (B, D_t*h*w + D_b*H*W)

    def _levels(self, z: torch.Tensor, snap: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Both levels' vector maps for Z; the bottom gets d_t from the (snapped) top, as in training."""
        split = math.prod(self.top_shape)
        top = z[:, :split].view(-1, *self.top_shape)
        if snap:
            top = _snap_map(self.quantize_top, top)
        bottom = z[:, split:].view(-1, *self.bottom_shape) + self.decoder_top(top)
        return top, _snap_map(self.quantize_bottom, bottom) if snap else bottom

    @torch.no_grad()
    def codes_of(self, z: torch.Tensor) -> torch.Tensor:
        """Code indices (B, slots) that Z snaps to: the top map's, then the bottom map's, flattened."""
        split = math.prod(self.top_shape)
        top = _nearest_map(self.quantize_top, z[:, :split].view(-1, *self.top_shape))
        bottom_z = z[:, split:].view(-1, *self.bottom_shape) + self.decoder_top(_lookup_map(self.quantize_top, top))
        return torch.cat([top.flatten(1), _nearest_map(self.quantize_bottom, bottom_z).flatten(1)], dim=1)

    def bottleneck(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([level.flatten(1) for level in self._levels(z, snap=True)], dim=1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode_quantized(*self._levels(z, snap=True))

    def decode_unsnapped(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode_quantized(*self._levels(z, snap=False))


# The quantizer works on (..., D) vectors; VQ-VAE-2's levels are (B, D, H, W) maps.

def _quantize_map(quantizer: Quantizer, z: torch.Tensor) -> Quantized:
    with torch.autocast("cpu", enabled=False):  # nearest codes and EMA updates need float32
        out = quantizer(z.float().permute(0, 2, 3, 1))  # (B, D, H, W) -> (B, H, W, D)
    return Quantized(out.quantized.permute(0, 3, 1, 2), out.codes, out.losses)


def _snap_map(quantizer: Quantizer, z: torch.Tensor) -> torch.Tensor:
    return quantizer.snap(z.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _nearest_map(quantizer: Quantizer, z: torch.Tensor) -> torch.Tensor:
    """Code indices (B, H, W) of a map (B, D, H, W)."""
    batch, _, height, width = z.shape
    return quantizer.nearest(z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])).view(batch, height, width)


def _lookup_map(quantizer: Quantizer, codes: torch.Tensor) -> torch.Tensor:
    return quantizer.lookup(codes).permute(0, 3, 1, 2)  # (B, H, W, D) -> (B, D, H, W)
