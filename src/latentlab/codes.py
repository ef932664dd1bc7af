"""VQ-VAE-2 codes of a data set: extracted once, the training data of the PixelCNN priors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from latentlab.data import Split, TensorSet
from latentlab.inference import map_batches
from latentlab.io import load_tensors, save_tensors
from latentlab.models.vqvae2 import VQVAE2, Codes

CODE_DTYPE = torch.int16  # codebooks stay below 32768 codes; a quarter of int64's disk and memory


@dataclass(frozen=True)
class CodeSplit:
    """Top codes (N, h, w), bottom codes (N, H, W) and labels (N,) of one split."""

    top: torch.Tensor
    bottom: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def for_prior(self, level: str) -> TensorSet:
        """What a prior's `losses` reads: (top, labels), or (bottom, labels, top) for the bottom prior."""
        if level == "top":
            return TensorSet((self.top, self.labels))
        return TensorSet((self.bottom, self.labels, self.top))


def extract_codes(model: VQVAE2, data: Split, device: torch.device) -> CodeSplit:
    """Encode every image of `data` (model in eval mode: the codebooks do not move)."""
    model.eval()

    def both_levels(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        codes = model.encode_codes(x)
        return codes.top.to(CODE_DTYPE), codes.bottom.to(CODE_DTYPE)

    top, bottom = map_batches(both_levels, data.images, device)
    return CodeSplit(top, bottom, data.labels.clone())


def save_codes(path: str | Path, splits: dict[str, CodeSplit], codebook_sizes: dict[str, int],
               num_classes: int) -> None:
    """The splits with the facts a prior needs: each level's codebook size, the number of classes."""
    if max(codebook_sizes.values()) > torch.iinfo(CODE_DTYPE).max + 1:
        raise ValueError(f"codebook sizes {codebook_sizes} do not fit {CODE_DTYPE}")
    save_tensors(path, {
        "codebook_sizes": codebook_sizes, "num_classes": num_classes,
        **{name: {"top": s.top, "bottom": s.bottom, "labels": s.labels} for name, s in splits.items()},
    })


def load_codes(path: str | Path) -> tuple[dict[str, CodeSplit], dict[str, Any]]:
    """The splits, and the facts a prior needs: codebook_sizes (per level), num_classes."""
    stored = load_tensors(path, keys=("codebook_sizes", "num_classes"))
    facts = {"codebook_sizes": stored.pop("codebook_sizes"), "num_classes": stored.pop("num_classes")}
    return {name: CodeSplit(split["top"], split["bottom"], split["labels"]) for name, split in stored.items()}, facts


def decode(model: VQVAE2, top: torch.Tensor, bottom: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] from code maps of any integer dtype."""
    return torch.sigmoid(model.decode_codes(Codes(top.long(), bottom.long())))
