"""VQ-VAE-2: shapes of both code levels, its losses, Z, and the extraction round trip, on every device."""

from __future__ import annotations

import pytest
import torch

from conftest import SHAPE, latent_model, moved, vqvae2_config
from latentlab.codes import CodeSplit, decode, extract_codes, load_codes, save_codes
from latentlab.data import Split
from latentlab.models import build_model


@pytest.mark.parametrize("image_size, top, bottom", [(32, 4, 8), (40, 5, 10)])
def test_code_grids_follow_the_padded_size(image_size, top, bottom):
    model = build_model("vqvae2", vqvae2_config(image_size)).eval()
    x = torch.rand(3, *SHAPE)
    codes = model.encode_codes(x)
    assert codes.top.shape == (3, top, top) and codes.bottom.shape == (3, bottom, bottom)
    assert model.reconstruct(x).shape == (3, *SHAPE)  # cropped back to the image
    assert model.latent == top * top + bottom * bottom


@pytest.mark.parametrize("ema, terms", [(True, {"recon", "commitment_top", "commitment_bottom"}),
                                        (False, {"recon", "commitment_top", "commitment_bottom",
                                                 "codebook_top", "codebook_bottom"})])
def test_losses_name_both_levels(ema, terms):
    model = build_model("vqvae2", vqvae2_config(ema=ema)).train()
    losses = model.losses((torch.rand(2, *SHAPE),))
    assert set(losses) == terms and all(torch.isfinite(v) for v in losses.values())


def test_image_size_must_hold_the_image():
    with pytest.raises(ValueError, match="multiple of 8 and at least 28x28"):
        build_model("vqvae2", vqvae2_config(image_size=24))


def test_z_holds_both_levels_and_decodes_like_its_codes():
    model = latent_model("vqvae2")
    x = torch.rand(3, *SHAPE)
    z = model.encode(x)
    assert z.shape == (3, (4 * 4 + 8 * 8) * 4) and model.latent == 80  # both levels' 4-dim vectors
    assert model.bottleneck(z).shape == z.shape
    codes = model.encode_codes(x)
    assert torch.equal(model.codes_of(z), torch.cat([codes.top.flatten(1), codes.bottom.flatten(1)], dim=1))
    assert torch.allclose(model.decode(z), model.decode_codes(codes), atol=1e-6)


def split_of(mnist_test_images, n: int = 40) -> Split:
    images, labels = mnist_test_images
    return Split((images[:n] * 255).round().to(torch.uint8), labels[:n])


def test_extracted_codes_decode_to_the_reconstruction_exactly(mnist_test_images, tmp_path):
    split = split_of(mnist_test_images)
    model = latent_model("vqvae2")
    save_codes(tmp_path / "codes.pt", {"test": extract_codes(model, split, torch.device("cpu"))},
               codebook_sizes={"top": 16, "bottom": 16}, num_classes=10)
    splits, facts = load_codes(tmp_path / "codes.pt")
    codes = splits["test"]
    assert facts == {"codebook_sizes": {"top": 16, "bottom": 16}, "num_classes": 10}
    assert codes.top.dtype == torch.int16 and torch.equal(codes.labels, split.labels) and len(codes) == 40
    x = split.first_images(40)
    assert torch.equal(decode(model, codes.top, codes.bottom), model.reconstruct(x))


def test_extraction_leaves_the_codebooks_where_they_are(mnist_test_images):
    model = latent_model("vqvae2").train()  # extraction must not learn, even from a model left in training mode
    before = {k: v.clone() for k, v in model.state_dict().items()}
    extract_codes(model, split_of(mnist_test_images), torch.device("cpu"))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_each_prior_reads_its_level():
    split = CodeSplit(top=torch.zeros(3, 4, 4), bottom=torch.ones(3, 8, 8), labels=torch.arange(3))
    top, labels = split.for_prior("top").tensors
    assert top is split.top and labels is split.labels
    bottom, labels, condition = split.for_prior("bottom").tensors
    assert bottom is split.bottom and labels is split.labels and condition is split.top


def test_codebooks_too_large_for_int16_are_refused(tmp_path):
    with pytest.raises(ValueError, match="do not fit torch.int16"):
        save_codes(tmp_path / "codes.pt", {}, codebook_sizes={"top": 40000, "bottom": 16}, num_classes=10)


# --- devices ---------------------------------------------------------------------------------


def test_codes_agree_across_devices(device):
    model = latent_model("vqvae2")
    x = torch.rand(4, *SHAPE)
    on_device = moved(model, device)
    codes = on_device.encode_codes(x.to(device))
    expected = model.encode_codes(x)
    assert codes.top.device.type == device.type
    assert torch.equal(codes.top.cpu(), expected.top) and torch.equal(codes.bottom.cpu(), expected.bottom)
    assert torch.allclose(on_device.decode_codes(codes).cpu(), model.decode_codes(expected), atol=1e-5)
    z = model.encode(x)
    assert torch.equal(on_device.codes_of(z.to(device)).cpu(), model.codes_of(z))
    assert torch.allclose(on_device.decode_unsnapped(z.to(device)).cpu(), model.decode_unsnapped(z), atol=1e-5)


def test_extraction_agrees_across_devices(mnist_test_images, device):
    split = split_of(mnist_test_images)
    model = latent_model("vqvae2")
    expected = extract_codes(model, split, torch.device("cpu"))
    on_device = moved(model, device)
    codes = extract_codes(on_device, split, device)
    assert codes.top.device.type == "cpu" and codes.top.dtype == torch.int16  # ready to save
    assert torch.equal(codes.top, expected.top) and torch.equal(codes.bottom, expected.bottom)
    images = decode(on_device, codes.top.to(device), codes.bottom.to(device))
    assert torch.allclose(images.cpu(), decode(model, expected.top, expected.bottom), atol=1e-5)


def test_bfloat16_training_keeps_the_quantizers_float32():
    """The convolutions may train in bf16; nearest codes and EMA codebooks stay float32."""
    torch.manual_seed(0)
    model = build_model("vqvae2", vqvae2_config()).train()
    model.bf16_training = True
    losses = model.losses((torch.rand(4, 1, 28, 28),))
    sum(losses.values()).backward()
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in losses.values())
    for quantizer in (model.quantize_top, model.quantize_bottom):
        assert quantizer.codebook.dtype == torch.float32 and torch.isfinite(quantizer.codebook).all()
