"""Generation: the Fréchet distance against scipy, the samplers of the sweep's models, on every device."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from conftest import SHAPE, classifier, latent_model, moved, uint8_images
from latentlab.evaluate import generation as g
from latentlab.evaluate.classifier_score import to_uint8
from latentlab.evaluate.contest import encode_all
from latentlab.evaluate.fid import classifier_features, fid, frechet_distance, statistics

CPU = torch.device("cpu")

# --- FID ---------------------------------------------------------------------------------


def random_covariance(dim: int, generator: torch.Generator) -> torch.Tensor:
    a = torch.randn(dim, dim, generator=generator, dtype=torch.float64)
    return a @ a.T + 0.1 * torch.eye(dim, dtype=torch.float64)


def scipy_frechet(mu1, s1, mu2, s2) -> float:
    """d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 sqrtm(S1 S2)), with scipy's general matrix square root."""
    root = scipy.linalg.sqrtm(s1.numpy() @ s2.numpy()).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1.numpy() + s2.numpy() - 2 * root))


def wrong_frechet(mu1, s1, mu2, s2) -> float:
    """A tempting mistake: Tr(sqrt(S1) sqrt(S2)) for Tr(sqrtm(S1 S2)); equal only when S1 and S2 commute."""
    cross = np.trace(scipy.linalg.sqrtm(s1.numpy()).real @ scipy.linalg.sqrtm(s2.numpy()).real)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1.numpy() + s2.numpy()) - 2 * cross)


def test_frechet_distance_matches_the_closed_form_for_diagonal_covariances():
    # Diagonal covariances commute: d^2 = |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2 = 5 + 1 + 1 = 7.
    mu1, mu2 = torch.tensor([0.0, 0.0]), torch.tensor([1.0, 2.0])
    s1, s2 = torch.diag(torch.tensor([1.0, 4.0])), torch.diag(torch.tensor([4.0, 9.0]))
    assert frechet_distance(mu1.double(), s1.double(), mu2.double(), s2.double()) == pytest.approx(7.0)
    # The distance ignores a rotation applied to both Gaussians.
    angle = torch.tensor(0.7, dtype=torch.float64)
    r = torch.tensor([[angle.cos(), -angle.sin()], [angle.sin(), angle.cos()]])
    rotated = frechet_distance(r @ mu1.double(), r @ s1.double() @ r.T, r @ mu2.double(), r @ s2.double() @ r.T)
    assert rotated == pytest.approx(7.0)


@pytest.mark.parametrize("dim", [2, 6])
def test_frechet_distance_matches_scipy_for_covariances_that_do_not_commute(dim):
    generator = torch.Generator().manual_seed(dim)
    s1, s2 = random_covariance(dim, generator), random_covariance(dim, generator)
    mu1, mu2 = torch.randn(dim, generator=generator, dtype=torch.float64), torch.randn(dim, generator=generator,
                                                                                        dtype=torch.float64)
    assert not torch.allclose(s1 @ s2, s2 @ s1)
    expected = scipy_frechet(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)
    assert abs(wrong_frechet(mu1, s1, mu2, s2) - expected) > 1e-3 * abs(expected)  # this test tells them apart


def test_fid_of_samples_approaches_the_closed_form():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(200_000, 2, generator=generator, dtype=torch.float64) * torch.tensor([1.0, 2.0])
    b = torch.randn(200_000, 2, generator=generator, dtype=torch.float64) * torch.tensor([2.0, 3.0]) + torch.tensor([1.0, 2.0])
    assert fid(a, b) == pytest.approx(7.0, rel=0.02)
    assert fid(a, a) == pytest.approx(0.0, abs=1e-6)


def test_statistics_are_the_mean_and_the_unbiased_covariance():
    features = torch.tensor([[1.0, 2.0], [3.0, 0.0], [5.0, 4.0]])
    mean, cov = statistics(features)
    assert mean.dtype == torch.float64 and mean.tolist() == [3.0, 2.0]
    assert torch.allclose(cov, torch.tensor(np.cov(features.numpy().T)))


def test_classifier_features_agree_across_devices(device):
    judge = classifier()
    images = uint8_images(6)
    expected = judge.features(images.float() / 255).double()
    assert torch.allclose(classifier_features(judge, images, CPU), expected)
    features = classifier_features(moved(judge, device), images, device)
    assert features.device.type == "cpu" and features.dtype == torch.float64
    assert torch.allclose(features, expected, rtol=1e-4, atol=1e-5)


# --- samplers ------------------------------------------------------------------------------


def close_uint8(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal images, up to one grey level where a device rounds a pixel the other way."""
    return a.shape == b.shape and a.dtype == b.dtype == torch.uint8 and (a.int() - b.int()).abs().max() <= 1


@pytest.mark.parametrize("name", ["ae", "vae", "vqvae", "fsq"])
def test_decode_to_uint8_decodes_the_codes(name, device):
    m = latent_model(name)
    z = m.encode(torch.rand(5, *SHAPE)) + 0.1 * torch.randn(5, *m.encode(torch.rand(1, *SHAPE)).shape[1:])
    expected = to_uint8(torch.sigmoid(m.decode(z)))
    assert torch.equal(g.decode_to_uint8(m, z, CPU), expected)
    assert close_uint8(g.decode_to_uint8(moved(m, device), z, device), expected)


def test_uniform_codes_decode_the_codes_their_generator_draws(device):
    m = latent_model("vqvae")
    codes = torch.randint(16, (10, 4), generator=torch.Generator().manual_seed(0))
    expected = to_uint8(torch.sigmoid(m.decode_codes(codes)))
    assert torch.equal(g.uniform_codes(m, 10, torch.Generator().manual_seed(0), CPU), expected)
    assert close_uint8(g.uniform_codes(moved(m, device), 10, torch.Generator().manual_seed(0), device), expected)
    assert len(codes.unique()) > 8  # the draws spread over the codebook


def test_gaussian_mixture_samples_follow_the_codes():
    generator = torch.Generator().manual_seed(0)
    codes = torch.cat([torch.randn(500, 2, generator=generator) - 5, torch.randn(500, 2, generator=generator) + 5])
    draws = g.gaussian_mixture(codes, 2000, components=2, seed=0)
    assert draws.shape == (2000, 2) and draws.dtype == torch.float32
    assert (draws[:, 0] > 0).float().mean() == pytest.approx(0.5, abs=0.05)  # both modes, in proportion
    assert (draws[:, 0].abs() - 5).abs().mean() < 1.5  # near the modes, not between them
    assert (draws[:1000, 0] > 0).float().mean() == pytest.approx(0.5, abs=0.1)  # shuffled, not grouped by mode
    assert torch.equal(draws, g.gaussian_mixture(codes, 2000, components=2, seed=0))


def test_sweep_samplers_draw_each_models_z_from_one_generator():
    models = {name: latent_model(name) for name in ("ae", "vae", "vqvae", "fsq")}
    train = uint8_images(40)
    out = g.sweep_samplers(models, train, 6, components=2, seed=3, device=CPU)
    assert set(out) == {"ae_normal", "ae_mixture", "vae_normal", "vqvae_uniform", "fsq_uniform"}
    generator = torch.Generator().manual_seed(3)  # AE-naive, VAE, VQ-VAE, then FSQ draw from it, in that order
    assert torch.equal(out["ae_normal"], g.decode_to_uint8(models["ae"], torch.randn(6, 4, generator=generator), CPU))
    assert torch.equal(out["vae_normal"], g.decode_to_uint8(models["vae"], torch.randn(6, 4, generator=generator), CPU))
    assert torch.equal(out["vqvae_uniform"], g.uniform_codes(models["vqvae"], 6, generator, CPU))
    assert torch.equal(out["fsq_uniform"], g.uniform_codes(models["fsq"], 6, generator, CPU))
    mixture = g.gaussian_mixture(encode_all(models["ae"], train, CPU), 6, 2, 3)
    assert torch.equal(out["ae_mixture"], g.decode_to_uint8(models["ae"], mixture, CPU))
    assert set(g.sweep_samplers({"vae": models["vae"]}, train, 6, 2, 3, CPU)) == {"vae_normal"}


def test_sweep_samplers_agree_across_devices(device):
    models = {name: latent_model(name) for name in ("ae", "vae", "vqvae", "fsq")}
    train = uint8_images(40)
    expected = g.sweep_samplers(models, train, 6, components=2, seed=3, device=CPU)
    out = g.sweep_samplers({k: moved(m, device) for k, m in models.items()}, train, 6, 2, 3, device)
    for sampler, images in expected.items():
        assert out[sampler].device.type == "cpu" and close_uint8(out[sampler], images), sampler


def test_uniform_noise_images_are_reproducible_pixels():
    noise = g.uniform_noise_images(500, SHAPE, torch.Generator().manual_seed(0))
    assert noise.shape == (500, *SHAPE) and noise.dtype == torch.uint8
    assert torch.equal(noise, g.uniform_noise_images(500, SHAPE, torch.Generator().manual_seed(0)))
    assert float(noise.float().mean()) == pytest.approx(127.5, abs=1)  # uniform over 0..255


def test_evenly_spaced_keeps_every_label_of_a_sorted_set():
    labels = torch.arange(10).repeat_interleave(100)  # 0 x100, 1 x100, ... like labels_per_class
    assert set(g.evenly_spaced(labels, 20).tolist()) == set(range(10))
    assert len(g.evenly_spaced(labels, 20)) == 20 and torch.equal(g.evenly_spaced(labels, 5000), labels)
    assert g.evenly_spaced(labels, 2).tolist() == [0, 9]  # the first and the last
