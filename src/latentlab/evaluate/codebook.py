"""How a VQ model uses its codebook, and how many bits its code spends per image."""

from __future__ import annotations

import math

import torch

from latentlab.quantize import code_statistics


def codebook_scores(codes: torch.Tensor, quantizer: torch.nn.Module) -> dict[str, float]:
    """Usage and perplexity of the codes, dead codes restarted in training (none for FSQ), and two rates in
    bits per image. quantizer: a VQ codebook or an FSQ grid (its codebook_size and restart_count).

    codes: (N, *slots) of one split. `bits`: the fixed-length code, slots x log2(codebook size).
    `entropy_bits`: the sum over slots of the entropy of that slot's empirical code distribution,
    what an entropy coder with one table per slot would spend (an upper bound of the code's entropy).
    """
    slots = codes.flatten(1)  # (N, slots)
    return {**code_statistics(codes, quantizer.codebook_size), "restarts": quantizer.restart_count,
            "bits": slots.shape[1] * math.log2(quantizer.codebook_size),
            "entropy_bits": sum(entropy_bits(slots[:, s], quantizer.codebook_size) for s in range(slots.shape[1]))}


def entropy_bits(codes: torch.Tensor, codebook_size: int) -> float:
    """Entropy in bits of the empirical distribution of `codes`."""
    p = torch.bincount(codes.flatten(), minlength=codebook_size).double()
    p = p[p > 0] / p.sum()
    return float(-(p * p.log2()).sum())
