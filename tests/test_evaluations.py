"""What Z does: traversals, interpolations and noise on Z, checked by value and on every device."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import SHAPE, classifier, latent_model, moved
from latentlab.evaluate.interpolation import interpolate, line, pair_scores, smoothness
from latentlab.evaluate.noise import NoisyDecodes, curve_frame, noisy_decodes, per_image_errors
from latentlab.evaluate.traversal import change_scores, coordinate_scores, directions, mean_scores, offsets, traverse

CPU = torch.device("cpu")

# --- traversal ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ae", "vae", "vqvae", "fsq"])
def test_a_traversal_rows_middle_image_is_the_reconstruction(name):
    m = latent_model(name)
    x = torch.rand(1, *SHAPE)
    steps = directions(m.encode(torch.rand(64, *SHAPE)))
    images = traverse(m, m.encode(x)[0], steps, offsets(1.0, 5))
    assert images.shape == (4, 5, *SHAPE)
    for row in images:
        assert torch.allclose(row[2], m.reconstruct(x)[0], atol=1e-6)


def test_a_traversal_moves_one_coordinate_by_its_step():
    m = latent_model("ae")
    z, steps = torch.randn(4), torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    images = traverse(m, z, steps, [-0.5, 0.0, 0.5])
    moved_z = z.clone()
    moved_z[2] += 0.5 * 3.0
    assert torch.allclose(images[2, 2], torch.sigmoid(m.decode(moved_z[None]))[0], atol=1e-6)


def test_offsets_run_symmetrically_through_zero():
    assert offsets(1.0, 5) == [-1.0, -0.5, 0.0, 0.5, 1.0]


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
    assert change_scores(spread, middle=2)["mean_change"] == pytest.approx((1 + 0.5 + 0 + 0.5 + 1) / 5)
    assert change_scores(still, middle=2) == {"mean_change": 0.0, "locality": 0.0}


def test_traversal_scores_average_per_coordinate_over_images():
    per_image = [[{"locality": 0.2, "mean_change": 1.0}, {"locality": 0.6, "mean_change": 0.0}],
                 [{"locality": 0.4, "mean_change": 3.0}, {"locality": 1.0, "mean_change": 2.0}]]
    averaged = mean_scores(iter(per_image))
    assert averaged == [pytest.approx({"locality": 0.3, "mean_change": 2.0}),
                        pytest.approx({"locality": 0.8, "mean_change": 1.0})]


def test_coordinate_scores_average_each_images_traversal():
    m = latent_model("vae")
    images, moves = torch.rand(3, *SHAPE), offsets(1.0, 3)
    steps = directions(m.encode(torch.rand(32, *SHAPE)))
    scores = coordinate_scores(m, images, steps, moves)
    by_image = [[change_scores(row, middle=1) for row in traverse(m, z, steps, moves)] for z in m.encode(images)]
    for c in range(4):
        for key in ("mean_change", "locality"):
            assert float(scores[key][c]) == pytest.approx(sum(s[c][key] for s in by_image) / 3, rel=1e-6)


@pytest.mark.parametrize("name", ["ae", "vae", "vqvae", "fsq"])
def test_traversals_agree_across_devices(name, device):
    m = latent_model(name)
    images, moves = torch.rand(2, *SHAPE), offsets(1.0, 3)
    steps = directions(m.encode(torch.rand(32, *SHAPE)))
    on_device = moved(m, device)
    rows = traverse(on_device, m.encode(images[:1])[0].to(device), steps.to(device), moves)
    assert torch.allclose(rows.cpu(), traverse(m, m.encode(images[:1])[0], steps, moves), atol=1e-5)
    scores = coordinate_scores(on_device, images.to(device), steps.to(device), moves)
    expected = coordinate_scores(m, images, steps, moves)
    assert all(torch.allclose(scores[k], expected[k], rtol=1e-3, atol=1e-6) for k in expected)


# --- interpolation -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ae", "vae", "vqvae", "fsq", "vqvae2"])
def test_interpolation_endpoints_are_the_endpoints_reconstructions(name):
    m = latent_model(name)
    x = torch.rand(2, *SHAPE)
    frames = interpolate(m, x[0], x[1], steps=9)
    assert frames.shape == (9, *SHAPE)
    recon = m.reconstruct(x)
    assert torch.allclose(frames[0], recon[0], atol=1e-6) and torch.allclose(frames[-1], recon[1], atol=1e-6)


@pytest.mark.parametrize("name", ["vqvae", "vqvae2"])
def test_vq_paths_decode_the_line_snapped_or_as_it_is(name):
    m = latent_model(name)
    x = torch.rand(2, *SHAPE)
    points = line(*m.encode(x), steps=5)
    snapped = interpolate(m, x[0], x[1], steps=5)
    unsnapped = interpolate(m, x[0], x[1], steps=5, snap=False)
    assert torch.allclose(snapped, torch.sigmoid(m.decode(points)), atol=1e-6)
    assert torch.allclose(unsnapped, torch.sigmoid(m.decode_unsnapped(points)), atol=1e-6)
    middle = points[2:3]
    assert (m.bottleneck(middle) - middle).abs().max() > 0  # the line's points are not codes themselves


def test_line_is_straight():
    points = line(torch.zeros(3), torch.ones(3) * 8, steps=5)
    assert torch.equal(points, torch.arange(0, 10, 2.0).unsqueeze(1).expand(5, 3))


def flat_frames(levels: list[float]) -> torch.Tensor:
    """Frames (len(levels), 1, 28, 28), each a flat grey of one level."""
    return torch.tensor(levels).view(-1, 1, 1, 1).expand(-1, *SHAPE).clone()


def test_smoothness_is_the_largest_mean_absolute_step():
    assert smoothness(flat_frames([0.0, 0.1, 0.4, 0.5])) == pytest.approx(0.3)
    frames = flat_frames([0.0, 0.0, 0.0])
    frames[1, :, :14] = 1.0  # the top half turns white: a step of 0.5
    frames[2, :, :7] = 0.2  # back to black but for a grey top quarter: a step of 0.25 * 0.8 + 0.25 * 1 = 0.45
    assert smoothness(frames) == pytest.approx(0.5)
    assert smoothness(frames[[0, 2]]) == pytest.approx(0.05)


class Brightness(nn.Module):
    """A stand-in judge: class 2 for dark images (mean < 0.3), 7 for bright ones (> 0.7), else 5."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.flatten(1).mean(1)
        label = torch.where(mean < 0.3, 2, torch.where(mean > 0.7, 7, 5))
        return nn.functional.one_hot(label, 10).float()


def test_pair_scores_count_inner_frames_on_the_end_classes():
    frames = [flat_frames([0.0, 0.2, 0.5, 0.9, 1.0]), flat_frames([0.0, 0.1, 0.2, 0.25, 1.0])]
    scores = pair_scores(frames, Brightness(), (2, 7), CPU)
    # Inner frames: 2, 5, 7 for the first pair (two of three on the end classes), all 2 for the second.
    assert torch.allclose(scores["end_class_share"], torch.tensor([2 / 3, 1.0], dtype=torch.float64))
    assert torch.allclose(scores["smoothness"], torch.tensor([0.4, 0.75], dtype=torch.float64))


@pytest.mark.parametrize("name", ["ae", "vqvae", "vqvae2"])
def test_interpolations_and_their_scores_agree_across_devices(name, device):
    m = latent_model(name)
    x = torch.rand(2, *SHAPE)
    on_device = moved(m, device)
    frames = interpolate(on_device, *x.to(device), steps=5)
    assert torch.allclose(frames.cpu(), interpolate(m, *x, steps=5), atol=1e-5)
    if m.snaps:
        unsnapped = interpolate(on_device, *x.to(device), steps=5, snap=False)
        assert torch.allclose(unsnapped.cpu(), interpolate(m, *x, steps=5, snap=False), atol=1e-5)
    for judge in (Brightness(), classifier()):  # a stand-in with known answers, and the study's classifier
        scores = pair_scores([frames], moved(judge, device), (2, 7), device)
        expected = pair_scores([interpolate(m, *x, steps=5)], judge, (2, 7), CPU)
        assert torch.equal(scores["end_class_share"], expected["end_class_share"])
        assert torch.allclose(scores["smoothness"], expected["smoothness"], atol=1e-5)


# --- noise -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ae", "vqvae", "vqvae2"])
def test_noise_is_added_to_z_in_units_of_its_spread(name):
    m = latent_model(name)
    x = torch.rand(6, *SHAPE)
    z = m.encode(x)
    spread = m.encode(torch.rand(64, *SHAPE)).std(0)
    decodes = noisy_decodes(m, x, spread, (0.0, 0.5), torch.Generator().manual_seed(0))
    assert torch.allclose(decodes.clean, m.reconstruct(x), atol=1e-6)
    assert torch.allclose(decodes.noisy[0], decodes.clean, atol=1e-6)
    generator = torch.Generator().manual_seed(0)
    torch.randn(z.shape, generator=generator)  # the draw of scale 0
    shifted = z + 0.5 * spread * torch.randn(z.shape, generator=generator)
    assert torch.allclose(decodes.noisy[1], torch.sigmoid(m.decode(shifted)), atol=1e-6)
    if m.snaps:
        assert decodes.same_code[0].tolist() == [1.0] * 6
        assert torch.equal(decodes.same_code[1], (m.codes_of(shifted) == m.codes_of(z)).double().mean(1))
    else:
        assert decodes.same_code is None


def test_per_image_errors_measure_against_the_reconstruction_and_the_image():
    clean, images = torch.full((2, *SHAPE), 0.5), torch.zeros(2, *SHAPE)
    noisy = [clean.clone(), torch.full((2, *SHAPE), 0.7)]
    errors = per_image_errors(NoisyDecodes(clean, noisy, [torch.ones(2), torch.tensor([0.5, 0.25])]), images, (0.0, 0.5))
    assert set(errors) == {"mse_to_recon_at_0sd", "mse_to_recon_at_0.5sd", "mse_to_image_at_0sd",
                           "mse_to_image_at_0.5sd", "same_code_at_0sd", "same_code_at_0.5sd"}
    assert torch.allclose(errors["mse_to_recon_at_0.5sd"], torch.full((2,), 0.04))
    assert torch.allclose(errors["mse_to_image_at_0sd"], torch.full((2,), 0.25))
    assert errors["same_code_at_0.5sd"].tolist() == [0.5, 0.25]


def test_the_noise_curve_reads_every_model_and_scale():
    estimate = {"mean": 0.1, "low": 0.05, "high": 0.15}
    metrics = {"latent": 16, "images": 10,
               "ae": {f"mse_to_{t}_at_{s}sd": estimate for t in ("recon", "image") for s in ("0", "1")},
               "vqvae2": {f"mse_to_{t}_at_{s}sd": {"mean": 0.2} for t in ("recon", "image") for s in ("0", "1")}}
    curve = curve_frame(metrics, (0.0, 1.0))
    assert len(curve) == 8 and set(curve["model"]) == {"ae", "vqvae2"}
    ae = curve[(curve["model"] == "ae") & (curve["scale"] == 1.0) & (curve["measure"] == "mse_to_image")].iloc[0]
    assert (ae["mean"], ae["low"], ae["high"]) == (0.1, 0.05, 0.15)
    assert curve[curve["model"] == "vqvae2"]["low"].isna().all()


@pytest.mark.parametrize("name", ["ae", "vae", "vqvae", "fsq", "vqvae2"])
def test_noisy_decodes_agree_across_devices(name, device):
    """The noise is drawn on the CPU, so every device decodes the same noisy codes."""
    m = latent_model(name)
    x = torch.rand(4, *SHAPE)
    spread = m.encode(torch.rand(32, *SHAPE)).std(0)
    expected = noisy_decodes(m, x, spread, (0.0, 1.0), torch.Generator().manual_seed(0))
    decodes = noisy_decodes(moved(m, device), x.to(device), spread.to(device), (0.0, 1.0),
                            torch.Generator().manual_seed(0))
    assert torch.allclose(decodes.clean.cpu(), expected.clean, atol=1e-5)
    assert all(torch.allclose(a.cpu(), b, atol=1e-5) for a, b in zip(decodes.noisy, expected.noisy, strict=True))
    errors = per_image_errors(decodes, x.to(device), (0.0, 1.0))
    for key, values in per_image_errors(expected, x, (0.0, 1.0)).items():
        assert errors[key].device.type == "cpu" and torch.allclose(errors[key], values, atol=1e-5), key
