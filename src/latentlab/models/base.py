"""The interfaces the training loop and the evaluations rely on."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from latentlab.runtime import native_bf16

Batch = tuple[torch.Tensor, ...]


class Trainable(nn.Module):
    """What `fit` needs: named loss terms for a batch, already weighted, to be summed."""

    def __init__(self) -> None:
        super().__init__()
        self.bf16_training = False  # models whose training was measured faster and as good in bf16 set it

    def training_autocast(self) -> torch.autocast:
        """bfloat16 autocast while training, for models that set `bf16_training`; float32 otherwise, and
        always in evaluation and sampling. Convolutions and matrix products then run in bf16; weights,
        AdamW and whatever the model computes in float32 (losses, quantizers) stay float32."""
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.training and self.bf16_training)

    def train_in_bf16_where_native(self) -> None:
        """Opt in to bf16 training on CPUs with bf16 arithmetic (AVX512-BF16 or AMX), where it is fast;
        other CPUs train in float32 (their floats differ anyway, as they do between any two CPUs)."""
        self.bf16_training = native_bf16()

    def losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def measures(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Batch means of quantities other than the loss (accuracy, MSE), scored on the held-out splits."""
        return {}

    def held_out_terms(self, batch: Batch) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """(loss terms, measures) of a held-out batch, in eval mode. Two forward passes here; models whose
        measures read the very outputs of their loss override it with one (scoring is a fifth of an epoch)."""
        return self.losses(batch), self.measures(batch)


class LatentModel(Trainable):
    """An image model with a latent code Z: x -> encode -> Z -> decode -> logits of x."""

    latent: int  # coordinates of Z (for VQ models: slots)
    snaps = False  # VQ models snap Z to codes before decoding, and have `codes_of(z)`

    def __init__(self) -> None:
        super().__init__()
        # The trunk trains in bf16 where the CPU has bf16 arithmetic: steps 1.3x faster on one thread
        # (24-26 ms against 32-35 ms at latent 16, batch 128), at the same test MSE over seeds
        # (benchmarks/README.md); the bottleneck between encoder and decoder always runs in float32.
        self.train_in_bf16_where_native()

    def trunk_pass(self, net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """net(x) as float32: the encoder's or decoder's convolutions and products in bf16 while training
        (where the model trains in bf16), so that what the bottleneck reads and computes stays float32."""
        with self.training_autocast():
            return net(x).float()

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

    def losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self.losses_and_logits(batch)[0]

    def losses_and_logits(self, batch: Batch) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The loss terms and the pixel logits the reconstruction term was computed from."""
        raise NotImplementedError

    def held_out_terms(self, batch: Batch) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """One forward pass: in eval mode the loss's logits are decode(encode(x)) (VQ models snap in both),
        so the measures read them (the VAE, whose loss decodes a sampled z, overrides this)."""
        terms, logits = self.losses_and_logits(batch)
        return terms, distortion(logits, batch[0])

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1]: the model's reconstruction of x."""
        return torch.sigmoid(self.decode(self.encode(x)))

    def measures(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Per epoch on the held-out splits: pixel MSE and the reconstruction NLL of decode(encode(x)),
        the one distortion every model shares (the VAE's `recon` term decodes a sampled z instead)."""
        return distortion(self.decode(self.encode(batch[0])), batch[0])


def distortion(logits: torch.Tensor, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Pixel MSE of the reconstruction sigmoid(logits) of x, and its Bernoulli NLL per image."""
    return {"mse": (torch.sigmoid(logits) - x).pow(2).mean(), "recon_nll": bernoulli_nll(logits, x)}


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x | logits) under independent Bernoulli pixels, summed per image, mean over the batch."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]


def bernoulli_nll_per_image(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x | logits) of each image, (B,), in nats."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
