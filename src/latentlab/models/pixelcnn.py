"""Gated PixelCNN (van den Oord et al. 2016): an autoregressive prior over a grid of codes.

p(codes | condition) = prod_i p(code_i | codes before i in raster order, condition).

Two stacks keep the prediction at (i, j) causal without a blind spot: the vertical stack sees
rows at and above each position; it reaches the horizontal stack only shifted down one row, so
(i, j) gets every row above it. The horizontal stack sees the codes left of (i, j) in its row
(the first layer excludes (i, j) itself). Gates are tanh(a) * sigmoid(b); the condition (the
label, and for the bottom prior the top codes) is added to both gates of every layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from latentlab.config import PixelCNNModelConfig
from latentlab.models.base import Batch, Trainable
from latentlab.schema import NonNegativeInt, PositiveInt


def gate(pre: torch.Tensor) -> torch.Tensor:
    a, b = pre.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


def shift_down(x: torch.Tensor) -> torch.Tensor:
    """Row i takes row i - 1's values (row 0 gets zeros): (B, C, H, W) -> (B, C, H, W)."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


class GatedLayer(nn.Module):
    """One gated layer. Its stacks take inputs already padded, or windows cut from the sampler's
    caches, so the parallel forward pass and the step-by-step sampler run the same computations."""

    def __init__(self, channels: int, kernel_size: int, first: bool):
        super().__init__()
        c, self.half, self.first = channels, kernel_size // 2, first
        self.vertical_conv = nn.Conv2d(c, 2 * c, (self.half + 1, kernel_size))  # this row and `half` above
        self.horizontal_conv = nn.Conv2d(c, 2 * c, (1, self.half + 1))  # this column and `half` to the left
        self.vertical_to_horizontal = nn.Conv2d(2 * c, 2 * c, 1)
        self.condition_vertical = nn.Conv2d(c, 2 * c, 1)
        self.condition_horizontal = nn.Conv2d(c, 2 * c, 1)
        self.horizontal_out = nn.Conv2d(c, c, 1)
        self.skip = nn.Conv2d(c, c, 1)

    def pad_vertical(self, v: torch.Tensor) -> torch.Tensor:
        return F.pad(v, (self.half, self.half, self.half, 0))  # left, right, top

    def pad_horizontal(self, h: torch.Tensor) -> torch.Tensor:
        if self.first:  # shifted right by one: position j must not see its own code
            return F.pad(h, (self.half + 1, 0))[..., :-1]
        return F.pad(h, (self.half, 0))

    def vertical(self, v_padded: torch.Tensor, condition: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The next vertical input, and the pre-activation that feeds the horizontal stack."""
        pre = self.vertical_conv(v_padded)
        return gate(pre + self.condition_vertical(condition)), pre

    def horizontal(self, h_padded: torch.Tensor, vertical_above: torch.Tensor, condition: torch.Tensor,
                   residual: torch.Tensor | int) -> tuple[torch.Tensor, torch.Tensor]:
        """The next horizontal input and the skip output. vertical_above: the row above's pre-activation;
        residual: the layer's unpadded input (0 for the first layer, whose input holds the code at j)."""
        pre = self.horizontal_conv(h_padded) + self.vertical_to_horizontal(vertical_above)
        out = gate(pre + self.condition_horizontal(condition))
        return self.horizontal_out(out) + residual, self.skip(out)


@dataclass(frozen=True)
class ConditionCodes:
    """The coarser code map a prior is conditioned on, besides the label (the bottom prior: the top codes)."""

    grid: tuple[PositiveInt, PositiveInt]
    codebook_size: PositiveInt
    blocks: NonNegativeInt  # residual blocks over the condition codes


class PixelCNN(Trainable):
    """A prior over (B, H, W) code maps given labels and, optionally, a coarser code map."""

    def __init__(self, grid: tuple[int, int], codebook_size: int, num_classes: int, model: PixelCNNModelConfig,
                 condition: ConditionCodes | None):
        super().__init__()
        c = model.channels
        self.grid, self.codebook_size = grid, codebook_size
        self.embed = nn.Embedding(codebook_size, c)
        self.embed_label = nn.Embedding(num_classes, c)
        self.embed_condition = None
        if condition is not None:
            # A small residual network over the condition codes, computed once per image (also when
            # sampling): the bottom codes depend on the top codes through the VQ-VAE-2's top decoder,
            # so each position needs the condition codes around it, transformed, not just the one above.
            blocks = [_ConditionBlock(c) for _ in range(condition.blocks)]
            self.embed_condition = nn.Sequential(
                nn.Embedding(condition.codebook_size, c), _ChannelsFirst(), nn.Conv2d(c, c, 3, padding=1), *blocks,
                nn.ReLU(), nn.Upsample(scale_factor=grid[0] // condition.grid[0], mode="nearest"),
                nn.Conv2d(c, c, 3, padding=1),
            )
        self.layers = nn.ModuleList(GatedLayer(c, model.kernel_size, first=i == 0) for i in range(model.layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 1), nn.ReLU(), nn.Conv2d(c, codebook_size, 1))

    def condition(self, labels: torch.Tensor, condition_codes: torch.Tensor | None) -> torch.Tensor:
        """(B, C, 1, 1) from the label alone, or (B, C, H, W) with the condition codes."""
        cond = self.embed_label(labels)[:, :, None, None]
        if self.embed_condition is not None:
            cond = cond + self.embed_condition(condition_codes)
        return cond

    def forward(self, codes: torch.Tensor, labels: torch.Tensor,
                condition_codes: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, codebook_size, H, W); those at (i, j) depend only on codes before (i, j)."""
        cond = self.condition(labels, condition_codes)
        v = h = self.embed(codes).permute(0, 3, 1, 2)  # (B, H, W, C) -> (B, C, H, W)
        skips = 0
        for layer in self.layers:
            v, vertical_pre = layer.vertical(layer.pad_vertical(v), cond)
            h, skip = layer.horizontal(layer.pad_horizontal(h), shift_down(vertical_pre), cond,
                                       residual=0 if layer.first else h)
            skips = skips + skip
        return self.head(skips)

    def losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Negative log-likelihood in nats per code. batch: (codes, labels[, condition codes])."""
        codes, labels, condition_codes = batch[0], batch[1], batch[2] if len(batch) > 2 else None
        return {"nll": F.cross_entropy(self(codes, labels, condition_codes), codes)}

    @torch.no_grad()
    def sample(self, labels: torch.Tensor, condition_codes: torch.Tensor | None = None, temperature: float = 1.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Code maps (B, H, W) drawn position by position in raster order.

        The same draws as re-running `forward` for every position (a test checks it), for about the
        cost of one forward pass: each layer keeps the few rows (vertical stack) and columns
        (horizontal stack) of input its convolution still needs, so every position of every layer
        is computed once (Ramachandran et al. 2017, fast generation of convolutional models).
        """
        (height, width), batch, device = self.grid, len(labels), labels.device
        codes = torch.zeros(batch, height, width, dtype=torch.long, device=device)
        cond = self.condition(labels, condition_codes).expand(-1, -1, height, width)
        channels = self.embed.embedding_dim

        def zeros(*shape: int) -> torch.Tensor:
            return torch.zeros(batch, *shape, device=device)

        rows_above = [zeros(channels, layer.half, width + 2 * layer.half) for layer in self.layers]  # top padding
        vertical_above = [zeros(2 * channels, 1, width) for _ in self.layers]  # row -1: nothing above row 0
        for i in range(height):
            cond_row = cond[:, :, i : i + 1]
            # left[n]: the columns left of j that layer n's horizontal convolution reads (left padding).
            left = [zeros(channels, 1, layer.half + layer.first) for layer in self.layers]
            for j in range(width):
                h, skips = None, 0
                for n, layer in enumerate(self.layers):
                    window = left[n] if layer.first else torch.cat([left[n], h], dim=3)  # (B, C, 1, half + 1)
                    if not layer.first:
                        left[n] = window[..., 1:]
                    h, skip = layer.horizontal(window, vertical_above[n][..., j : j + 1], cond_row[..., j : j + 1],
                                               residual=0 if layer.first else window[..., -1:])
                    skips = skips + skip
                probs = F.softmax(self.head(skips)[:, :, 0, 0] / temperature, dim=1)  # (B, codebook_size)
                codes[:, i, j] = torch.multinomial(probs, 1, generator=generator)[:, 0]
                drawn = self.embed(codes[:, i, j])[:, :, None, None]  # (B, C, 1, 1)
                left[0] = torch.cat([left[0], drawn], dim=3)[..., 1:]  # the first layer sees code j from j + 1 on
            # Row i is complete: run it through the vertical stack once, for the rows below.
            v = self.embed(codes[:, i : i + 1]).permute(0, 3, 1, 2)  # (B, C, 1, W)
            for n, layer in enumerate(self.layers):
                window = torch.cat([rows_above[n], F.pad(v, (layer.half, layer.half))], dim=2)
                rows_above[n] = window[:, :, 1:]
                v, vertical_above[n] = layer.vertical(window, cond_row)
        return codes


class _ConditionBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.net = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1),
                                 nn.ReLU(), nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class _ChannelsFirst(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 3, 1, 2)  # (B, H, W, C) -> (B, C, H, W)
