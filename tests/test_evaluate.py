"""Reconstruction scores, grids and tables."""

from __future__ import annotations

import math

import pytest
import torch

from latentlab.evaluate.reconstruction import psnr, ssim
from latentlab.images import grid, label_width
from latentlab.tables import markdown_table, read_csv, write_csv


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
    assert math.isfinite(float(psnr(torch.tensor(0.0))))


def test_grid_lays_out_rows_with_labels():
    rows = [torch.zeros(3, 1, 28, 28), torch.ones(2, 1, 28, 28)]
    picture = grid(rows, labels=["original", "ae"])
    assert picture.height == 2 * 30 + 2 and picture.width == label_width(["original"]) + 3 * 30 + 2
    assert label_width(["vqvae2 unsnapped"]) > label_width(["original"]) > label_width(["ae"]) > 6
    plain = grid(rows)
    assert plain.width == 3 * 30 + 2 and plain.getpixel((2, 2)) == 0 and plain.getpixel((2, 32)) == 255


def test_tables_round_trip(tmp_path):
    rows = [{"model": "ae", "latent": 2, "mse": 0.0412345, "usage": None}]
    write_csv(tmp_path / "t.csv", rows)
    assert read_csv(tmp_path / "t.csv") == [{"model": "ae", "latent": "2", "mse": "0.0412345", "usage": ""}]
    assert markdown_table(rows).splitlines() == ["| model | latent | mse | usage |", "|---|---|---|---|",
                                                 "| ae | 2 | 0.04123 |  |"]
