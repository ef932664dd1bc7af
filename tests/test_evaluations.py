"""The evaluations: FID against its closed form, probes, traversal, interpolation, noise, samplers."""

from __future__ import annotations

import math

import pytest
import torch

from conftest import tiny_quantizer, tiny_trunk
from latentlab.config import AEConfig, VAEConfig, VQVAE2ModelConfig
from latentlab.evaluate import generation as g
from latentlab.evaluate.fid import fid, frechet_distance
from latentlab.evaluate.generation import gaussian_mixture, uniform_codes
from latentlab.evaluate.interpolation import interpolate, line, smoothness
from latentlab.evaluate.noise import mse_to_clean, noisy_decodes
from latentlab.evaluate.probe import knn_probe, logistic_probe
from latentlab.evaluate.traversal import change_scores, directions, traverse
from latentlab.models import build_model
from latentlab.schema import to_plain

BOTTLENECKS = {"ae": AEConfig(), "vae": VAEConfig(beta=1.0), "vqvae": tiny_quantizer()}


def model(name: str, latent: int = 4):
    if name == "vqvae2":
        config = VQVAE2ModelConfig(image_size=32, channels=16, res_channels=8, res_blocks=1, top=tiny_quantizer(),
                              bottom=tiny_quantizer())
        built = build_model("vqvae2", {"image_shape": [1, 28, 28], "model": to_plain(config)})
    else:
        built = build_model(name, {"image_shape": [1, 28, 28], "latent": latent, "trunk": to_plain(tiny_trunk()),
                                   "bottleneck": to_plain(BOTTLENECKS[name])})
    built.train().losses((torch.rand(16, 1, 28, 28),))  # VQ codebooks start on encoder outputs
    return built.eval()


# --- FID ---------------------------------------------------------------------------------


def test_frechet_distance_matches_the_closed_form():
    # Diagonal covariances commute: d^2 = |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2 = 5 + 1 + 1 = 7.
    mu1, mu2 = torch.tensor([0.0, 0.0]), torch.tensor([1.0, 2.0])
    s1, s2 = torch.diag(torch.tensor([1.0, 4.0])), torch.diag(torch.tensor([4.0, 9.0]))
    assert frechet_distance(mu1.double(), s1.double(), mu2.double(), s2.double()) == pytest.approx(7.0)
    # The distance ignores a rotation applied to both Gaussians.
    angle = torch.tensor(0.7, dtype=torch.float64)
    r = torch.tensor([[angle.cos(), -angle.sin()], [angle.sin(), angle.cos()]])
    rotated = frechet_distance(r @ mu1.double(), r @ s1.double() @ r.T, r @ mu2.double(), r @ s2.double() @ r.T)
    assert rotated == pytest.approx(7.0)


def test_fid_of_samples_approaches_the_closed_form():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(200_000, 2, generator=generator, dtype=torch.float64) * torch.tensor([1.0, 2.0])
    b = torch.randn(200_000, 2, generator=generator, dtype=torch.float64) * torch.tensor([2.0, 3.0]) + torch.tensor([1.0, 2.0])
    assert fid(a, b) == pytest.approx(7.0, rel=0.02)
    assert fid(a, a) == pytest.approx(0.0, abs=1e-6)


# --- probes ------------------------------------------------------------------------------


def test_probes_beat_chance_on_separable_codes_and_not_on_shuffled_labels():
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (1200,), generator=generator)
    centres = torch.randn(4, 8, generator=generator) * 4
    codes = centres[labels] + torch.randn(1200, 8, generator=generator)
    train, test = slice(0, 800), slice(800, None)
    assert logistic_probe(codes[train], labels[train], codes[test], labels[test], max_iter=100) > 0.95
    assert knn_probe(codes[train], labels[train], codes[test], labels[test], k=5) > 0.95
    shuffled = labels[torch.randperm(1200, generator=generator)]
    assert logistic_probe(codes[train], shuffled[train], codes[test], shuffled[test], max_iter=100) < 0.4
    assert knn_probe(codes[train], shuffled[train], codes[test], shuffled[test], k=5) < 0.4


# --- traversal ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ae", "vae", "vqvae"])
def test_a_traversal_rows_middle_image_is_the_reconstruction(name):
    m = model(name)
    x = torch.rand(1, 1, 28, 28)
    steps = directions(m.encode(torch.rand(64, 1, 28, 28)))
    images = traverse(m, m.encode(x)[0], steps, [-1.0, -0.5, 0.0, 0.5, 1.0])
    assert images.shape == (4, 5, 1, 28, 28)
    for row in images:
        assert torch.allclose(row[2], m.reconstruct(x)[0], atol=1e-6)


def test_vq_slots_move_along_their_first_principal_direction():
    generator = torch.Generator().manual_seed(0)
    codes = torch.randn(5000, 2, 3, generator=generator) * torch.tensor([0.1, 3.0, 0.1])  # slot spread along axis 1
    steps = directions(codes)
    assert steps.shape == (2, 2, 3)
    for s in range(2):
        assert steps[s, 1 - s].abs().max() == 0  # only slot s moves
        assert abs(float(steps[s, s, 1].abs())) == pytest.approx(3.0, rel=0.05)  # by the sd along the axis
    ae_steps = directions(torch.randn(5000, 3, generator=generator) * torch.tensor([1.0, 2.0, 3.0]))
    assert torch.allclose(ae_steps, torch.diag(torch.tensor([1.0, 2.0, 3.0])), rtol=0.05)


def test_change_scores_tell_local_from_global_change():
    still = torch.zeros(5, 1, 10, 10)
    local = still.clone()
    local[:, 0, :2, :5] = torch.linspace(-1, 1, 5).view(5, 1, 1)  # 10 of 100 pixels change
    spread = still + torch.linspace(-1, 1, 5).view(5, 1, 1, 1)  # every pixel changes alike
    assert change_scores(local, middle=2)["locality"] == pytest.approx(1.0)
    assert change_scores(spread, middle=2)["locality"] == pytest.approx(0.1)
    assert change_scores(still, middle=2) == {"mean_change": 0.0, "locality": 0.0}


# --- interpolation -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ae", "vae", "vqvae", "vqvae2"])
def test_interpolation_endpoints_are_the_endpoints_reconstructions(name):
    m = model(name)
    x = torch.rand(2, 1, 28, 28)
    frames = interpolate(m, x[0], x[1], steps=9)
    assert frames.shape == (9, 1, 28, 28)
    recon = m.reconstruct(x)
    assert torch.allclose(frames[0], recon[0], atol=1e-6) and torch.allclose(frames[-1], recon[1], atol=1e-6)
    assert smoothness(frames) >= 0


def test_the_unsnapped_vq_path_decodes_points_between_codes():
    m = model("vqvae")
    x = torch.rand(2, 1, 28, 28)
    snapped = interpolate(m, x[0], x[1], steps=5)
    unsnapped = interpolate(m, x[0], x[1], steps=5, snap=False)
    assert not torch.allclose(snapped, unsnapped)
    z = m.encode(x)
    assert torch.allclose(unsnapped[0], torch.sigmoid(m.decode_unsnapped(z[:1]))[0], atol=1e-6)


def test_line_is_straight():
    points = line(torch.zeros(3), torch.ones(3) * 8, steps=5)
    assert torch.equal(points, torch.arange(0, 10, 2.0).unsqueeze(1).expand(5, 3))


# --- noise and samplers ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ae", "vqvae", "vqvae2"])
def test_zero_noise_decodes_the_clean_reconstruction(name):
    m = model(name)
    x = torch.rand(6, 1, 28, 28)
    spread = m.encode(torch.rand(64, 1, 28, 28)).std(0)
    clean, noisy = noisy_decodes(m, x, spread, (0.0, 1.0), torch.Generator().manual_seed(0))
    assert torch.allclose(clean, m.reconstruct(x), atol=1e-6)
    errors = mse_to_clean(clean, noisy)
    assert errors[0] == pytest.approx(0.0, abs=1e-10) and errors[1] > 0


def test_vqvae2_z_holds_both_levels_and_decodes_like_its_codes():
    m = model("vqvae2")
    x = torch.rand(3, 1, 28, 28)
    z = m.encode(x)
    assert z.shape == (3, (4 * 4 + 8 * 8) * 4) and m.latent == 80  # both levels' 4-dim vectors
    assert m.bottleneck(z).shape == z.shape
    assert torch.allclose(m.decode(z), m.decode_codes(m.encode_codes(x)), atol=1e-6)


def test_gaussian_mixture_samples_follow_the_codes():
    generator = torch.Generator().manual_seed(0)
    codes = torch.cat([torch.randn(500, 2, generator=generator) - 5, torch.randn(500, 2, generator=generator) + 5])
    draws = gaussian_mixture(codes, 2000, components=2, seed=0)
    assert draws.shape == (2000, 2)
    assert (draws[:, 0] > 0).float().mean() == pytest.approx(0.5, abs=0.05)  # both modes, in proportion
    assert (draws[:, 0].abs() - 5).abs().mean() < 1.5  # near the modes, not between them


def test_uniform_codes_decode_to_images():
    images = uniform_codes(model("vqvae"), 10, torch.Generator().manual_seed(0))
    assert images.shape == (10, 1, 28, 28) and images.dtype == torch.uint8
    assert math.isfinite(float(images.float().mean()))


def test_readme_shows_the_generated_report():
    """README.md carries metrics/report.md verbatim: the numbers are generated, never typed."""
    from conftest import ROOT
    from latentlab.readme import report_block

    assert report_block((ROOT / "README.md").read_text()) == (ROOT / "metrics" / "report.md").read_text().strip("\n")


def test_the_report_states_each_ordering_as_found():
    """On the committed run's metrics: an ordering that is broken is reported as broken, never forced."""
    import copy

    from conftest import ROOT
    from latentlab.report import Metrics, orderings, winners

    found = Metrics.read(ROOT / "metrics")
    claims = " ".join(orderings(found))
    assert all(claim in claims for claim in ("FID: VQ-VAE-2 (temperature 1)", "AE with a Gaussian mixture",
                                             "uniform noise has the largest", "the seed's reading"))
    broken = copy.deepcopy(found)
    fids = broken["generation"]
    fids["vae_normal"]["fid"] = fids["ae_normal"]["fid"] + 1  # VAE samples now worse than AE-naive
    broken["traversal"]["vqvae"]["locality"] = 1.0  # VQ-VAE coordinates now the most local
    lines = orderings(broken)
    assert any(line.startswith("- **Does not hold**: FID: VQ-VAE-2 (temperature 0.7) < VAE < AE-naive") for line in lines)
    assert any(line.startswith("- Holds: the seed's reading") for line in lines)
    assert any(line.startswith("- **Most local coordinates (traversal)**: VQ-VAE (") for line in winners(broken))


def test_traversal_scores_average_per_coordinate_over_images():
    from latentlab.evaluate.traversal import mean_scores

    per_image = [[{"locality": 0.2, "mean_change": 1.0}, {"locality": 0.6, "mean_change": 0.0}],
                 [{"locality": 0.4, "mean_change": 3.0}, {"locality": 1.0, "mean_change": 2.0}]]
    averaged = mean_scores(iter(per_image))
    assert averaged == [pytest.approx({"locality": 0.3, "mean_change": 2.0}),
                        pytest.approx({"locality": 0.8, "mean_change": 1.0})]


def test_evenly_spaced_keeps_every_label_of_a_sorted_set():
    labels = torch.arange(10).repeat_interleave(100)  # 0 x100, 1 x100, ... like labels_per_class
    assert set(g.evenly_spaced(labels, 20).tolist()) == set(range(10))
    assert len(g.evenly_spaced(labels, 20)) == 20 and torch.equal(g.evenly_spaced(labels, 5000), labels)
