"""Sampling VQ-VAE-2 through its priors, and the classifier's verdict on samples."""

from __future__ import annotations

import torch

from conftest import tiny_quantizer
from latentlab.config import PixelCNNModelConfig, VQVAE2ModelConfig
from latentlab.evaluate.classifier_score import agreement, class_histogram
from latentlab.evaluate.sampling import labels_like, labels_per_class, sample_images
from latentlab.models.pixelcnn import PixelCNN
from latentlab.models.vqvae2 import VQVAE2


def test_sample_images_are_uint8_images_and_reproducible():
    torch.manual_seed(0)
    quantizer = tiny_quantizer()
    vqvae2 = VQVAE2((1, 28, 28), VQVAE2ModelConfig(32, 16, 8, 1, quantizer, quantizer)).eval()
    pixel = PixelCNNModelConfig(channels=8, layers=2, kernel_size=3, condition_blocks=1)
    top = PixelCNN((4, 4), 16, 10, None, None, pixel).eval()
    bottom = PixelCNN((8, 8), 16, 10, (4, 4), 16, pixel).eval()
    labels = torch.tensor([0, 1, 2, 3, 4])

    def draw(seed: int) -> torch.Tensor:
        return sample_images(vqvae2, top, bottom, labels, temperature=1.0, batch_size=2,
                             generator=torch.Generator().manual_seed(seed))

    images = draw(0)
    assert images.shape == (5, 1, 28, 28) and images.dtype == torch.uint8
    assert torch.equal(images, draw(0)) and not torch.equal(images, draw(1))


def test_requested_labels():
    assert labels_per_class(3, 4).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    skewed = torch.tensor([0] * 90 + [1] * 10)
    drawn = labels_like(skewed, 5000, 3, torch.Generator().manual_seed(0))
    shares = torch.bincount(drawn, minlength=3).double() / 5000
    assert abs(shares[0] - 0.9) < 0.02 and shares[2] == 0


def test_agreement_and_histogram():
    requested = torch.tensor([0, 0, 1, 1])
    predicted = torch.tensor([0, 1, 1, 1])
    scores = agreement(predicted, requested, num_classes=3)
    assert scores["accuracy"] == 0.75 and scores["per_label"] == {"0": 0.5, "1": 1.0}
    histogram = class_histogram(predicted, num_classes=2)
    assert histogram["histogram"] == [0.25, 0.75]
    assert abs(histogram["entropy_bits"] - 0.8113) < 1e-3
    assert class_histogram(torch.arange(4), num_classes=4)["entropy_bits"] == 2.0
