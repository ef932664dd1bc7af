"""The classifier as judge: which class do generated images show?"""

from __future__ import annotations

import math

import torch

from latentlab.inference import map_batches
from latentlab.models.classifier import Classifier


def predict(classifier: Classifier, images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Predicted labels (N,) of uint8 images (N, C, H, W)."""
    classifier.eval()
    return map_batches(lambda x: classifier(x).argmax(1), images, device)


def predict_from_features(classifier: Classifier, features: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Predicted labels (N,) from the classifier's penultimate features (`fid.classifier_features`):
    only the head runs, so one pass of the convolutions serves both the FID and the labels."""
    classifier.eval()
    return map_batches(lambda f: classifier.head(f.float()).argmax(1), features, device)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] as the uint8 pixels a saved picture would hold."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


def hits(predicted: torch.Tensor, requested: torch.Tensor) -> torch.Tensor:
    """1.0 where a sample was classified as the label it was drawn for, else 0.0, per sample (N,)."""
    return (predicted == requested.to(predicted.device)).double()


def per_label_share(predicted: torch.Tensor, requested: torch.Tensor, num_classes: int) -> dict[str, float]:
    """Share of samples classified as the requested label, per requested label."""
    h, requested = hits(predicted, requested).cpu(), requested.cpu()
    return {str(k): float(h[requested == k].mean()) for k in range(num_classes) if (requested == k).any()}


def class_histogram(predicted: torch.Tensor, num_classes: int) -> dict:
    """Share of samples per predicted class, and the entropy of that histogram in bits (max log2 K)."""
    shares = torch.bincount(predicted, minlength=num_classes).double() / len(predicted)
    entropy = sum(float(p) * math.log2(1 / float(p)) for p in shares if p > 0)
    return {"histogram": {str(k): round(float(p), 6) for k, p in enumerate(shares)}, "entropy_bits": entropy}
