"""What one coordinate of Z controls: move it around its encoded value, keep the rest, decode.

AE and VAE move coordinate c by t * (its standard deviation over the training codes). VQ-VAE
moves slot s along its first principal direction over the training codes, scaled by the
standard deviation along it, and re-quantizes: the slot visits nearby codes in embedding
space, never neighbouring code indices.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from latentlab.models import LatentModel

TOP_SHARE = 0.10  # locality: share of the change inside the 10% most changed pixels


def directions(codes: torch.Tensor) -> torch.Tensor:
    """One step direction per coordinate, shaped like a batch of codes: (latent, *code shape).

    codes: training codes, (N, latent) for AE/VAE or (N, slots, D) for VQ models.
    """
    if codes.ndim == 2:
        return torch.diag(codes.std(0))  # (latent, latent): coordinate c moves alone, by its spread
    slots, dim = codes.shape[1:]
    steps = torch.zeros(slots, slots, dim, device=codes.device)
    for s in range(slots):
        centred = codes[:, s] - codes[:, s].mean(0)
        _, singular, right = torch.linalg.svd(centred, full_matrices=False)
        steps[s, s] = right[0] * singular[0] / (len(codes) - 1) ** 0.5  # first principal direction x its std
    return steps


@torch.no_grad()
def traverse(model: LatentModel, z: torch.Tensor, steps: torch.Tensor, offsets: list[float]) -> torch.Tensor:
    """Images (coordinates, len(offsets), C, H, W): z + t * steps[c] for each c and t, decoded in one batch."""
    model.eval()
    moves = torch.tensor(offsets, dtype=z.dtype, device=z.device).view(1, -1, *[1] * z.ndim)
    moved = z + moves * steps.unsqueeze(1)  # (coordinates, offsets, *code shape)
    images = torch.sigmoid(model.decode(moved.flatten(0, 1)))
    return images.view(*moved.shape[:2], *images.shape[1:])


def change_scores(row: torch.Tensor, middle: int) -> dict[str, float]:
    """Mean absolute pixel change from the middle image, and the share of it in the top 10% pixels.

    A coordinate that changes nothing gets locality 0.
    """
    change = (row - row[middle]).abs()  # (offsets, C, H, W)
    per_pixel = change.sum(0).flatten()
    total = float(per_pixel.sum())
    top = per_pixel.topk(max(1, int(TOP_SHARE * len(per_pixel)))).values
    return {"mean_change": float(change.mean()), "locality": float(top.sum()) / total if total > 0 else 0.0}


def mean_scores(per_image: Iterable[list[dict[str, float]]]) -> list[dict[str, float]]:
    """Average each coordinate's scores over images: per_image yields one list of coordinate scores per image."""
    return [{key: sum(s[key] for s in coordinate) / len(coordinate) for key in coordinate[0]}
            for coordinate in zip(*per_image, strict=True)]


def offsets(span: float, steps: int) -> list[float]:
    """`steps` offsets from -span to +span (an odd count keeps 0, the reconstruction, in the middle)."""
    return [span * (2 * i / (steps - 1) - 1) for i in range(steps)]


@torch.no_grad()
def coordinate_scores(model: LatentModel, images: torch.Tensor, steps: torch.Tensor,
                      moves: list[float]) -> dict[str, torch.Tensor]:
    """Per coordinate (latent,): mean change and locality of moving it, averaged over `images` (N, C, H, W)."""
    model.eval()
    scores = mean_scores([change_scores(row, middle=len(moves) // 2) for row in traverse(model, z, steps, moves)]
                         for z in model.encode(images))
    return {key: torch.tensor([s[key] for s in scores], dtype=torch.float64) for key in ("mean_change", "locality")}
