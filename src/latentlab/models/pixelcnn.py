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
    caches, so the parallel forward pass and the step-by-step sampler run the same computations.

    The condition enters as the gates' biases, both gates' from one 1x1 conv (`gate_biases`).
    """

    def __init__(self, channels: int, kernel_size: int, first: bool):
        super().__init__()
        c, self.half, self.first = channels, kernel_size // 2, first
        self.vertical_conv = nn.Conv2d(c, 2 * c, (self.half + 1, kernel_size))  # this row and `half` above
        self.horizontal_conv = nn.Conv2d(c, 2 * c, (1, self.half + 1))  # this column and `half` to the left
        # No bias: horizontal_conv's covers it, and without one the row shift may follow this conv
        # (row 0, with nothing above, gets exact zeros either way).
        self.vertical_to_horizontal = nn.Conv2d(2 * c, 2 * c, 1, bias=False)
        self.out = nn.Conv2d(c, 2 * c, 1)  # the horizontal output and the skip output in one conv
        self.condition = nn.Conv2d(c, 4 * c, 1)  # the vertical, then the horizontal gate's bias

    def gate_biases(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The vertical and the horizontal gate's bias, each (B, 2C, H, W) or (B, 2C, 1, 1) like cond."""
        return self.condition(cond).chunk(2, dim=1)

    def pad_vertical(self, v: torch.Tensor) -> torch.Tensor:
        return F.pad(v, (self.half, self.half, self.half, 0))  # left, right, top

    def pad_horizontal(self, h: torch.Tensor) -> torch.Tensor:
        if self.first:  # shifted right by one: position j must not see its own code
            return F.pad(h, (self.half + 1, 0))[..., :-1]
        return F.pad(h, (self.half, 0))

    def vertical(self, v_padded: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The next vertical input, and what this row gives the horizontal stack of the row below."""
        pre = self.vertical_conv(v_padded)
        return gate(pre + bias), self.vertical_to_horizontal(pre)

    def horizontal(self, h_padded: torch.Tensor, bias: torch.Tensor,
                   residual: torch.Tensor | int) -> tuple[torch.Tensor, torch.Tensor]:
        """The next horizontal input and the skip output. bias: `vertical`'s second output for the row
        above plus the gate's condition bias; residual: the layer's unpadded input (0 for the first
        layer, whose input holds the code at j)."""
        out = gate(self.horizontal_conv(h_padded) + bias)
        h, skip = self.out(out).chunk(2, dim=1)
        return h + residual, skip

    def horizontal_step(self, window: torch.Tensor, bias: torch.Tensor,
                        residual: torch.Tensor | int) -> tuple[torch.Tensor, torch.Tensor]:
        """`horizontal` at one position, for the sampler: window (B, C, half + 1), bias (B, 2C),
        residual (B, C). On (B, C) rows a matrix product does what the convolutions do on 1x1 maps,
        several times faster at sampling batch sizes."""
        out = gate(_linear(self.horizontal_conv, window.flatten(1)) + bias)
        h, skip = _linear(self.out, out).chunk(2, dim=1)
        return h + residual, skip


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
        # Training runs the network in bfloat16 where the CPU has bf16 arithmetic: 1.4-1.8x faster
        # steps (benchmarks/priors.py), the same test NLL. Weights, AdamW and the loss stay float32;
        # evaluation and sampling run in float32 (so the sampler stays exact).
        self.train_in_bf16_where_native()

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
            vertical_bias, horizontal_bias = layer.gate_biases(cond)
            v, from_above = layer.vertical(layer.pad_vertical(v), vertical_bias)
            h, skip = layer.horizontal(layer.pad_horizontal(h), shift_down(from_above) + horizontal_bias,
                                       residual=0 if layer.first else h)
            skips = skips + skip
        return self.head(skips)

    def losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Negative log-likelihood in nats per code. batch: (codes, labels[, condition codes])."""
        codes, labels, condition_codes = batch[0], batch[1], batch[2] if len(batch) > 2 else None
        with self.training_autocast():
            logits = self(codes, labels, condition_codes)
        return {"nll": F.cross_entropy(logits.float(), codes)}

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
        cond = self.condition(labels, condition_codes)
        biases = [[b.expand(-1, -1, height, width) for b in layer.gate_biases(cond)] for layer in self.layers]
        channels = self.embed.embedding_dim
        rows_above = [cond.new_zeros(batch, channels, layer.half, width + 2 * layer.half)  # top padding
                      for layer in self.layers]
        from_above = [cond.new_zeros(batch, 2 * channels, 1, width) for _ in self.layers]  # nothing above row 0
        for i in range(height):
            # The horizontal gates' biases of row i, position-major so that each step reads (B, 2C) rows.
            row_biases = [(above[:, :, 0] + bias[1][:, :, i]).permute(2, 0, 1).contiguous()  # (W, B, 2C)
                          for above, bias in zip(from_above, biases, strict=True)]
            codes[:, i] = self._draw_row(row_biases, temperature, generator)
            # Row i is complete: run it through the vertical stack once, for the rows below.
            v = self.embed(codes[:, i : i + 1]).permute(0, 3, 1, 2)  # (B, C, 1, W)
            for n, layer in enumerate(self.layers):
                window = torch.cat([rows_above[n], F.pad(v, (layer.half, layer.half))], dim=2)
                rows_above[n] = window[:, :, 1:]
                v, from_above[n] = layer.vertical(window, biases[n][0][:, :, i : i + 1])
        return codes

    def _draw_row(self, row_biases: list[torch.Tensor], temperature: float,
                  generator: torch.Generator | None) -> torch.Tensor:
        """One row of codes (B, W), drawn left to right given each layer's horizontal biases (W, B, 2C)."""
        width, batch, _ = row_biases[0].shape
        drawn_codes = []
        # left[n]: the columns left of j that layer n's horizontal convolution reads (left padding).
        left = [row_biases[0].new_zeros(batch, self.embed.embedding_dim, layer.half + layer.first)
                for layer in self.layers]  # (B, C, columns)
        for j in range(width):
            h, skips = None, 0
            for n, layer in enumerate(self.layers):
                window = left[n] if layer.first else torch.cat([left[n], h[:, :, None]], dim=2)  # (B, C, half + 1)
                if not layer.first:
                    left[n] = window[..., 1:]
                h, skip = layer.horizontal_step(window, row_biases[n][j],
                                                residual=0 if layer.first else window[..., -1])
                skips = skips + skip
            probs = F.softmax(_pointwise(self.head, skips) / temperature, dim=1)  # (B, codebook_size)
            drawn_codes.append(torch.multinomial(probs, 1, generator=generator)[:, 0])
            drawn = self.embed(drawn_codes[-1])[:, :, None]  # (B, C, 1)
            left[0] = torch.cat([left[0], drawn], dim=2)[..., 1:]  # the first layer sees code j from j + 1 on
        return torch.stack(drawn_codes, dim=1)


def _linear(conv: nn.Conv2d, rows: torch.Tensor) -> torch.Tensor:
    """conv applied at one position: rows (B, C_in * kernel area) in the weight's order -> (B, C_out)."""
    return F.linear(rows, conv.weight.flatten(1), conv.bias)


def _pointwise(net: nn.Sequential, rows: torch.Tensor) -> torch.Tensor:
    """A stack of 1x1 convolutions and activations applied to (B, C) rows."""
    for module in net:
        rows = _linear(module, rows) if isinstance(module, nn.Conv2d) else module(rows)
    return rows


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
