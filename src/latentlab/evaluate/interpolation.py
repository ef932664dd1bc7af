"""What lies between two codes: decode points on the straight line from z_a to z_b.

Scored per pair of test images of two classes: the share of the inner frames that the judge
classifier assigns to one of the two end classes, and the largest step between frames.
"""

from __future__ import annotations

import torch

from latentlab.evaluate.classifier_score import predict, to_uint8
from latentlab.models import LatentModel
from latentlab.models.classifier import Classifier


def line(z_a: torch.Tensor, z_b: torch.Tensor, steps: int) -> torch.Tensor:
    """(steps, *z shape): z_a, ..., z_b at equal spacing."""
    alphas = torch.linspace(0, 1, steps, device=z_a.device).view(-1, *[1] * z_a.ndim)
    return (1 - alphas) * z_a + alphas * z_b


@torch.no_grad()
def interpolate(model: LatentModel, x_a: torch.Tensor, x_b: torch.Tensor, steps: int,
                snap: bool = True) -> torch.Tensor:
    """Frames (steps, C, H, W) between images x_a and x_b (each (C, H, W)).

    VQ models interpolate before quantization; snap=False decodes the unquantized points.
    """
    model.eval()
    z = model.encode(torch.stack([x_a, x_b]))
    points = line(z[0], z[1], steps)
    logits = model.decode(points) if snap else model.decode_unsnapped(points)
    return torch.sigmoid(logits)


def smoothness(frames: torch.Tensor) -> float:
    """The largest mean absolute pixel change between consecutive frames (lower is smoother)."""
    return float((frames[1:] - frames[:-1]).abs().flatten(1).mean(1).max())


def pair_scores(frames: list[torch.Tensor], classifier: Classifier, classes: tuple[int, int],
                device: torch.device) -> dict[str, torch.Tensor]:
    """Per pair: `end_class_share` of its inner frames, and its `smoothness`; each (pairs,)."""
    inner = torch.stack([f[1:-1] for f in frames])  # (pairs, steps - 2, C, H, W)
    predicted = predict(classifier, to_uint8(inner.flatten(0, 1)), device).view(len(frames), -1)
    at_ends = torch.isin(predicted, torch.tensor(classes)).double().mean(1)
    return {"end_class_share": at_ends, "smoothness": torch.tensor([smoothness(f) for f in frames], dtype=torch.float64)}
