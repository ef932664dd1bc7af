"""VQ-VAE-2: shapes of both code levels, its losses, and the extraction round trip."""

from __future__ import annotations

import pytest
import torch

from conftest import tiny_quantizer
from latentlab.codes import decode, extract_codes, load_codes, save_codes
from latentlab.config import VQVAE2ModelConfig
from latentlab.data import Split
from latentlab.models import build_model
from latentlab.schema import to_plain


def vqvae2_config(image_size: int = 32, **quantizer) -> dict:
    model = VQVAE2ModelConfig(image_size=image_size, channels=16, res_channels=8, res_blocks=1,
                              top=tiny_quantizer(**quantizer), bottom=tiny_quantizer(**quantizer))
    return {"image_shape": [1, 28, 28], "model": to_plain(model)}


@pytest.mark.parametrize("image_size, top, bottom", [(32, 4, 8), (40, 5, 10)])
def test_code_grids_follow_the_padded_size(image_size, top, bottom):
    model = build_model("vqvae2", vqvae2_config(image_size)).eval()
    x = torch.rand(3, 1, 28, 28)
    codes = model.encode_codes(x)
    assert codes.top.shape == (3, top, top) and codes.bottom.shape == (3, bottom, bottom)
    assert model.reconstruct(x).shape == (3, 1, 28, 28)  # cropped back to the image


@pytest.mark.parametrize("ema, terms", [(True, {"recon", "commitment_top", "commitment_bottom"}),
                                        (False, {"recon", "commitment_top", "commitment_bottom",
                                                 "codebook_top", "codebook_bottom"})])
def test_losses_name_both_levels(ema, terms):
    model = build_model("vqvae2", vqvae2_config(ema=ema)).train()
    losses = model.losses((torch.rand(2, 1, 28, 28),))
    assert set(losses) == terms and all(torch.isfinite(v) for v in losses.values())


def test_image_size_must_hold_the_image():
    with pytest.raises(ValueError, match="multiple of 8 and at least 28x28"):
        build_model("vqvae2", vqvae2_config(image_size=24))


def test_extracted_codes_decode_to_the_reconstruction_exactly(mnist_test_images, tmp_path):
    images, labels = mnist_test_images
    split = Split((images[:40] * 255).round().to(torch.uint8), labels[:40])
    model = build_model("vqvae2", vqvae2_config())
    model.train().losses((split.first_images(40),))  # codebooks start on encoder outputs
    model.eval()
    save_codes(tmp_path / "codes.pt", {"test": extract_codes(model, split, torch.device("cpu"))},
               codebook_sizes={"top": 16, "bottom": 16}, num_classes=10)
    splits, facts = load_codes(tmp_path / "codes.pt")
    codes = splits["test"]
    assert facts == {"codebook_sizes": {"top": 16, "bottom": 16}, "num_classes": 10}
    assert codes.top.dtype == torch.int16 and torch.equal(codes.labels, split.labels)
    x = split.first_images(40)
    assert torch.equal(decode(model, codes.top, codes.bottom), model.reconstruct(x))
