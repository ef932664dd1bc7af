"""Reconstruction scores, the one inference loop, tables and figures."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from conftest import SHAPE, latent_model, moved, uint8_images
from latentlab.evaluate.reconstruction import mean_scores, per_image_scores, psnr, ssim
from latentlab.figures import PAD, image_grid, save_figure, tile
from latentlab.inference import BATCH_SIZE, map_batches
from latentlab.models.base import bernoulli_nll_per_image
from latentlab.tables import read_csv, to_markdown, write_csv


def test_ssim_is_one_for_identical_images_and_falls_with_noise(mnist_test_images):
    x = mnist_test_images[0][:8]
    assert torch.allclose(ssim(x, x), torch.ones(8), atol=1e-5)
    slightly = ssim((x + 0.05 * torch.randn_like(x)).clamp(0, 1), x)
    badly = ssim((x + 0.3 * torch.randn_like(x)).clamp(0, 1), x)
    assert (badly < slightly).all() and (slightly < 1).all()


def test_ssim_of_constant_images_follows_the_formula():
    # Flat images: no variance, so SSIM = (2 a b + C1) / (a^2 + b^2 + C1).
    a, b, c1 = 0.2, 0.6, 0.01**2
    x, y = torch.full((1, 1, 16, 16), a), torch.full((1, 1, 16, 16), b)
    assert float(ssim(x, y)) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-4)


def test_psnr():
    assert float(psnr(torch.tensor(0.01))) == pytest.approx(20.0)
    assert float(psnr(torch.tensor(0.0))) == pytest.approx(100.0)  # a perfect reconstruction: capped, not infinite


@pytest.mark.parametrize("name", ["ae", "vqvae", "vqvae2"])
def test_per_image_scores_score_each_reconstruction(name):
    model = latent_model(name)
    images = uint8_images(7)
    scores = per_image_scores(model, images, torch.device("cpu"))
    x = images.float() / 255
    recon = model.reconstruct(x)
    mse = (recon - x).pow(2).flatten(1).mean(1)
    assert set(scores) == {"mse", "psnr", "ssim", "recon_nll"} and all(v.shape == (7,) for v in scores.values())
    assert torch.allclose(scores["mse"], mse, atol=1e-7)
    assert torch.allclose(scores["psnr"], 10 * torch.log10(1 / mse), atol=1e-4)
    assert torch.allclose(scores["ssim"], ssim(recon, x), atol=1e-6)
    nll = bernoulli_nll_per_image(model.decode(model.encode(x)), x)
    assert torch.allclose(scores["recon_nll"], nll, rtol=1e-5)
    assert mean_scores(scores)["mse"] == pytest.approx(float(mse.double().mean()), rel=1e-6)


@pytest.mark.parametrize("name", ["ae", "vae", "vqvae", "fsq", "vqvae2"])
def test_per_image_scores_agree_across_devices(name, device):
    model = latent_model(name)
    images = uint8_images(5)
    expected = per_image_scores(model, images, torch.device("cpu"))
    scores = per_image_scores(moved(model, device), images, device)
    for key, values in expected.items():
        assert scores[key].device.type == "cpu"
        assert torch.allclose(scores[key], values, rtol=1e-4, atol=1e-5), key


# --- map_batches -----------------------------------------------------------------------------


def test_map_batches_covers_every_row_in_order_across_batches():
    rows = torch.arange(2 * BATCH_SIZE + 7, dtype=torch.float32)[:, None]
    seen = []

    def double(x: torch.Tensor) -> torch.Tensor:
        seen.append(len(x))
        return 2 * x

    assert torch.equal(map_batches(double, rows, "cpu"), 2 * rows)
    assert seen == [BATCH_SIZE, BATCH_SIZE, 7]


def test_map_batches_turns_images_into_floats_and_keeps_tuples_and_dicts():
    images = torch.tensor([0, 51, 255], dtype=torch.uint8).view(3, 1, 1, 1)
    floats = map_batches(lambda x: x.flatten(1), images, "cpu")
    assert floats.dtype == torch.float32 and torch.equal(floats.flatten(), torch.tensor([0.0, 0.2, 1.0]))
    codes = torch.tensor([1, 2, 3], dtype=torch.int16)
    pair = map_batches(lambda c: (c, c + 1), codes, "cpu")
    assert isinstance(pair, tuple) and pair[0].dtype == torch.int64 and pair[1].tolist() == [2, 3, 4]
    named = map_batches(lambda c: {"code": c, "square": c * c}, codes, "cpu")
    assert named["square"].tolist() == [1, 4, 9]


def test_map_batches_runs_on_the_device_and_returns_to_the_cpu(device):
    images = uint8_images(BATCH_SIZE + 3)
    where = set()

    def total(x: torch.Tensor) -> dict[str, torch.Tensor]:
        where.add(x.device.type)
        return {"sum": x.flatten(1).sum(1), "first": x[:, 0, 0, 0]}

    out = map_batches(total, images, device)
    assert where == {device.type} and out["sum"].device.type == "cpu"
    assert torch.allclose(out["sum"], (images.float() / 255).flatten(1).sum(1), rtol=1e-5)
    assert torch.equal(out["first"], images[:, 0, 0, 0].float() / 255)


# --- tables and figures ----------------------------------------------------------------------


def test_tables_round_trip_with_missing_values_blank(tmp_path):
    frame = pd.DataFrame([{"model": "ae", "latent": 2, "mse": 0.0412345, "usage": None},
                          {"model": "vqvae", "latent": 4, "mse": 0.5, "usage": 0.25}])
    write_csv(tmp_path / "t.csv", frame)
    assert (tmp_path / "t.csv").read_text() == "model,latent,mse,usage\nae,2,0.0412345,\nvqvae,4,0.5,0.25\n"
    back = read_csv(tmp_path / "t.csv")
    assert back["latent"].tolist() == [2, 4] and math.isnan(back["usage"][0]) and back["usage"][1] == 0.25
    lines = to_markdown(frame).splitlines()
    assert [cell.strip() for cell in lines[2].split("|")[1:-1]] == ["ae", "2", "0.04123", ""]  # 4 digits, blank
    assert "nan" not in to_markdown(frame) and "None" not in to_markdown(frame)


def test_tile_lays_out_rows_of_different_length():
    rows = [torch.zeros(3, *SHAPE), torch.ones(2, *SHAPE)]
    canvas = tile(rows)
    assert canvas.shape == (2 * (28 + PAD) + PAD, 3 * (28 + PAD) + PAD, 1)
    assert canvas[PAD, PAD, 0] == 0 and canvas[PAD + 30, PAD, 0] == 255  # a black image, then a white one
    assert canvas[0, 0, 0] == 255 and canvas[PAD + 30, PAD + 2 * 30, 0] == 255  # padding, and the missing third image


@pytest.mark.parametrize("channels", [1, 3])
def test_tile_matches_torchvision_make_grid(channels):
    from torchvision.utils import make_grid

    rows = [torch.rand(4, channels, 5, 7, generator=torch.Generator().manual_seed(i)) * 1.2 - 0.1 for i in range(3)]
    expected = make_grid(torch.cat(rows).clamp(0, 1), nrow=4, padding=PAD, pad_value=1.0)[:channels]
    expected = (expected * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    assert (tile(rows) == expected).all()


def test_saved_figures_are_byte_reproducible(tmp_path):
    rows = [torch.rand(3, *SHAPE, generator=torch.Generator().manual_seed(0))]
    for name in ("a.png", "b.png"):
        save_figure(image_grid(rows, title="reconstructions", row_labels=["ae"]), tmp_path / name)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert b"Matplotlib version" not in (tmp_path / "a.png").read_bytes()
