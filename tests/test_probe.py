"""How much of the label Z keeps: the probes return one hit per test image, on what the decoder reads."""

from __future__ import annotations

import pytest
import torch

from conftest import latent_model, moved, uint8_images
from latentlab.evaluate.probe import knn_probe, logistic_probe, probe_features, probe_hits, standardize

CPU = torch.device("cpu")


def test_probes_beat_chance_on_separable_codes_and_not_on_shuffled_labels():
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (1200,), generator=generator)
    centres = torch.randn(4, 8, generator=generator) * 4
    codes = centres[labels] + torch.randn(1200, 8, generator=generator)
    train, test = slice(0, 800), slice(800, None)
    logistic = logistic_probe(codes[train], labels[train], codes[test], labels[test], max_iter=100)
    knn = knn_probe(codes[train], labels[train], codes[test], labels[test], k=5)
    for hits in (logistic, knn):
        assert hits.shape == (400,) and set(hits.tolist()) <= {0.0, 1.0}  # one hit or miss per test image
        assert hits.mean() > 0.95
    shuffled = labels[torch.randperm(1200, generator=generator)]
    assert logistic_probe(codes[train], shuffled[train], codes[test], shuffled[test], max_iter=100).mean() < 0.4
    assert knn_probe(codes[train], shuffled[train], codes[test], shuffled[test], k=5).mean() < 0.4


def test_knn_votes_among_the_nearest_training_codes():
    train = torch.tensor([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])
    train_labels = torch.tensor([0, 0, 1, 1, 1, 2])
    test = torch.tensor([[0.5], [11.2], [1.4]])
    # Nearest 3: {0, 1, 2} -> labels 0, 0, 1 -> 0; {10, 11, 12} -> 1, 1, 2 -> 1; {0, 1, 2} -> 0.
    assert knn_probe(train, train_labels, test, torch.tensor([0, 1, 1]), k=3).tolist() == [1.0, 1.0, 0.0]
    # A tie between two labels goes to the smaller one.
    assert knn_probe(train[[1, 2]], torch.tensor([3, 1]), torch.tensor([[1.5]]), torch.tensor([1]), k=2).tolist() == [1.0]


def test_standardize_uses_the_training_statistics():
    train, test = torch.tensor([[1.0, 10.0], [3.0, 10.0]]), torch.tensor([[5.0, 11.0]])
    train_std, test_std = standardize(train, test)
    assert torch.allclose(train_std[:, 0], torch.tensor([-1.0, 1.0]) / 2**0.5)
    assert torch.allclose(test_std[0, 0], torch.tensor(3 / 2**0.5))  # (5 - 2) / sd 1.414
    assert torch.isfinite(test_std).all()  # a constant training feature does not divide by zero


@pytest.mark.parametrize("name", ["ae", "vae", "vqvae", "fsq", "vqvae2"])
def test_probes_read_what_the_decoder_reads(name):
    m = latent_model(name)
    images = uint8_images(5)
    x = images.float() / 255
    features = probe_features(m, images, CPU)
    assert torch.allclose(features, m.bottleneck(m.encode(x)).flatten(1), atol=1e-6)
    if name == "vqvae":  # the codes' vectors, not their indices
        assert torch.allclose(features, m.quantizer.lookup(m.encode_codes(x)).flatten(1), atol=1e-6)
    if name == "vae":  # the posterior mean
        assert torch.allclose(features, m.posterior(x)[0], atol=1e-6)


@pytest.mark.parametrize("name", ["ae", "vqvae", "vqvae2"])
def test_probe_hits_agree_across_devices(name, device):
    m = latent_model(name)
    train, test = uint8_images(60, seed=1), uint8_images(20, seed=2)
    train_labels, test_labels = torch.arange(60) % 3, torch.arange(20) % 3
    expected = probe_hits(m, train, train_labels, test, test_labels, max_iter=50, k=3, device=CPU)
    hits = probe_hits(moved(m, device), train, train_labels, test, test_labels, max_iter=50, k=3, device=device)
    assert set(hits) == {"logistic", "knn"} and hits["knn"].shape == (20,)
    assert torch.equal(hits["knn"], expected["knn"])
    assert (hits["logistic"] != expected["logistic"]).sum() <= 1  # L-BFGS may tip one borderline image
    features = probe_features(moved(m, device), test, device)
    assert features.device.type == "cpu" and torch.allclose(features, probe_features(m, test, CPU), atol=1e-5)
