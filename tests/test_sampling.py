"""Sampling VQ-VAE-2 through its priors, and the classifier's verdict on samples."""

from __future__ import annotations

import pytest
import torch

from conftest import SHAPE, classifier, latent_model, moved, priors, uint8_images
from latentlab.codes import decode
from latentlab.evaluate.classifier_score import (
    class_histogram,
    hits,
    per_label_share,
    predict,
    predict_from_features,
    to_uint8,
)
from latentlab.evaluate.fid import classifier_features
from latentlab.evaluate.sampling import labels_like, labels_per_class, sample_images


def draw(models, labels: torch.Tensor, generator: torch.Generator, batch_size: int = 2) -> torch.Tensor:
    vqvae2, top, bottom = models
    return sample_images(vqvae2, top, bottom, labels, temperature=1.0, batch_size=batch_size, generator=generator)


@pytest.fixture
def models():
    return (latent_model("vqvae2"), *priors())


def test_sample_images_decode_the_codes_the_priors_draw(models):
    """Top codes, then bottom codes given them, from one generator, decoded: batch after batch."""
    vqvae2, top, bottom = models
    labels = torch.tensor([0, 1, 2, 3, 4])
    images = draw(models, labels, torch.Generator().manual_seed(0))
    assert images.shape == (5, *SHAPE) and images.dtype == torch.uint8
    generator, expected = torch.Generator().manual_seed(0), []
    for batch in labels.split(2):
        top_codes = top.sample(batch, generator=generator)
        bottom_codes = bottom.sample(batch, condition_codes=top_codes, generator=generator)
        expected.append(to_uint8(decode(vqvae2, top_codes, bottom_codes)))
    assert torch.equal(images, torch.cat(expected))


def test_sample_images_depend_on_the_generator_alone(models):
    torch.manual_seed(5)  # the global RNG must not matter
    labels = torch.tensor([0, 1, 2, 3, 4])
    images = draw(models, labels, torch.Generator().manual_seed(0))
    torch.manual_seed(6)
    assert torch.equal(images, draw(models, labels, torch.Generator().manual_seed(0)))


def test_sample_images_on_a_device_come_back_to_the_cpu(models, device):
    """With the device's own generator (as the sample stage makes it): the same images as drawing the codes there."""
    vqvae2, top, bottom = (moved(m, device) for m in models)
    labels = torch.tensor([3, 1, 4], device=device)
    images = sample_images(vqvae2, top, bottom, labels, temperature=0.7, batch_size=2,
                           generator=torch.Generator(device).manual_seed(0))
    assert images.device.type == "cpu" and images.dtype == torch.uint8 and images.shape == (3, *SHAPE)
    generator, expected = torch.Generator(device).manual_seed(0), []
    for batch in labels.split(2):
        top_codes = top.sample(batch, temperature=0.7, generator=generator)
        bottom_codes = bottom.sample(batch, condition_codes=top_codes, temperature=0.7, generator=generator)
        expected.append(to_uint8(decode(vqvae2, top_codes, bottom_codes)).cpu())
    assert torch.equal(images, torch.cat(expected))


def test_requested_labels():
    assert labels_per_class(3, 4).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    skewed = torch.tensor([0] * 90 + [1] * 10)
    drawn = labels_like(skewed, 5000, 3, torch.Generator().manual_seed(0))
    shares = torch.bincount(drawn, minlength=3).double() / 5000
    assert abs(shares[0] - 0.9) < 0.02 and shares[2] == 0


def test_hits_and_shares_per_requested_label():
    requested = torch.tensor([0, 0, 1, 1])
    predicted = torch.tensor([0, 1, 1, 1])
    assert hits(predicted, requested).tolist() == [1.0, 0.0, 1.0, 1.0]
    assert per_label_share(predicted, requested, num_classes=3) == {"0": 0.5, "1": 1.0}  # no request for 2


def test_class_histogram_and_its_entropy():
    histogram = class_histogram(torch.tensor([0, 1, 1, 1]), num_classes=3)
    assert histogram["histogram"] == {"0": 0.25, "1": 0.75, "2": 0.0}
    assert histogram["entropy_bits"] == pytest.approx(0.8113, abs=1e-4)
    assert class_histogram(torch.arange(4), num_classes=4)["entropy_bits"] == 2.0
    assert class_histogram(torch.zeros(5, dtype=torch.long), num_classes=4)["entropy_bits"] == 0.0


def test_to_uint8_rounds_and_clamps():
    assert to_uint8(torch.tensor([-0.5, 0.0, 0.5, 1.0, 2.0])).tolist() == [0, 0, 128, 255, 255]


def test_predict_agrees_across_devices(device):
    judge = classifier()
    images = uint8_images(7)
    expected = judge(images.float() / 255).argmax(1)
    predicted = predict(moved(judge, device), images, device)
    assert predicted.device.type == "cpu" and torch.equal(predicted, expected)


def test_labels_from_features_are_the_classifier_s_labels(device):
    """eval_generation runs the convolutions once per image set: FID features, then the head alone."""
    judge = classifier()
    for norm in (m for m in judge.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        norm.running_var.fill_(1e-4)  # untrained, the judge gives every image one label; this spreads its features
    judge = moved(judge, device)
    images = (uint8_images(40) * torch.linspace(0, 1, 40).view(-1, 1, 1, 1)).to(torch.uint8)  # dark to bright
    features = classifier_features(judge, images, device)
    predicted = predict_from_features(judge, features, device)
    assert predicted.device.type == "cpu" and torch.equal(predicted, predict(judge, images, device))
    assert len(predicted.unique()) > 1  # a judge with one answer would agree with anything
