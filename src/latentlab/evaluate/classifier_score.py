"""The classifier as judge: which class do generated images show?"""

from __future__ import annotations

import math

import torch

from latentlab.models.classifier import Classifier

BATCH_SIZE = 1000


@torch.no_grad()
def predict(classifier: Classifier, images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Predicted labels (N,) of uint8 images (N, C, H, W)."""
    classifier.eval()
    return torch.cat([classifier(batch.to(device).float().div(255)).argmax(1).cpu()
                      for batch in images.split(BATCH_SIZE)])


def agreement(predicted: torch.Tensor, requested: torch.Tensor, num_classes: int) -> dict:
    """Share of samples classified as the requested label, overall and per label."""
    hits = (predicted == requested).double()
    per_label = {str(k): float(hits[requested == k].mean()) for k in range(num_classes) if (requested == k).any()}
    return {"accuracy": float(hits.mean()), "per_label": per_label}


def class_histogram(predicted: torch.Tensor, num_classes: int) -> dict:
    """Share of samples per predicted class, and the entropy of that histogram in bits (max log2 K)."""
    shares = torch.bincount(predicted, minlength=num_classes).double() / len(predicted)
    entropy = sum(float(p) * math.log2(1 / float(p)) for p in shares if p > 0)
    return {"histogram": [round(float(p), 6) for p in shares], "entropy_bits": entropy}
