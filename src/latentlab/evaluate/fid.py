"""Fréchet distance between image sets in the classifier's feature space ("FID" in this study).

Not Inception-FID: the features are the penultimate layer of this project's own classifier,
so the numbers compare samplers within this study only, not with published FIDs.

    d^2 = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))
"""

from __future__ import annotations

import torch

from latentlab.inference import map_batches
from latentlab.models.classifier import Classifier


def classifier_features(classifier: Classifier, images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Penultimate features (N, hidden) of uint8 images (N, C, H, W), in float64 on the CPU."""
    classifier.eval()
    return map_batches(lambda x: classifier.features(x).double(), images, device)


def statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (F,) and covariance (F, F) of features (N, F)."""
    features = features.double()
    return features.mean(0), torch.cov(features.T)


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> float:
    """d^2 between N(mu1, sigma1) and N(mu2, sigma2)."""
    # Tr((S1 S2)^(1/2)) = Tr((S1^(1/2) S2 S1^(1/2))^(1/2)): the inner matrix is symmetric PSD,
    # so its square root comes from a stable symmetric eigendecomposition.
    root1 = _sqrt_psd(sigma1)
    inner = root1 @ sigma2 @ root1
    trace_root = torch.linalg.eigvalsh((inner + inner.T) / 2).clamp_min(0).sqrt().sum()
    return float((mu1 - mu2).pow(2).sum() + sigma1.trace() + sigma2.trace() - 2 * trace_root)


def fid(features1: torch.Tensor, features2: torch.Tensor) -> float:
    return frechet_distance(*statistics(features1), *statistics(features2))


def _sqrt_psd(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return vectors @ torch.diag(values.clamp_min(0).sqrt()) @ vectors.T
