"""Every model: shapes, finite losses, the loss falls on a fixed batch; VAE KL; the same results on every device."""

from __future__ import annotations

import math

import pytest
import torch

from conftest import SHAPE, classifier_config, latent_model, model_config, moved, sweep_config, vqvae2_config
from latentlab.errors import ConfigError
from latentlab.models import build_model
from latentlab.models.trunk import FeatureMaps
from latentlab.models.vae import gaussian_kl


@pytest.mark.parametrize("name", ["ae", "vae", "vqvae", "fsq"])
@pytest.mark.parametrize("latent", [2, 32])
def test_sweep_model_shapes_and_losses(name, latent):
    model = build_model(name, sweep_config(name, latent))
    x = torch.rand(2, *SHAPE)
    losses = model.train().losses((x,))
    assert "recon" in losses and all(torch.isfinite(v) and v.ndim == 0 for v in losses.values())
    model.eval()
    z = model.encode(x)
    assert z.shape == {"vqvae": (2, latent, 4), "fsq": (2, latent, 3)}.get(name, (2, latent))  # slots of D numbers
    assert model.decode(z).shape == (2, *SHAPE)
    recon = model.reconstruct(x)
    assert recon.shape == (2, *SHAPE) and recon.min() >= 0 and recon.max() <= 1


@pytest.mark.parametrize("channels", [1, 3])
def test_the_decoder_lays_out_its_feature_maps_channels_last_without_changing_a_value(channels):
    """Channels-last is a memory layout only: the same layers on plain maps give the same logits and
    gradients, and callers get a contiguous tensor back (grey and RGB images)."""
    torch.manual_seed(0)
    decoder = build_model("ae", sweep_config("ae", latent=4) | {"image_shape": [channels, 28, 28]}).decoder
    plain = torch.nn.Sequential(*(torch.nn.Unflatten(1, layer.unflattened_size) if isinstance(layer, FeatureMaps)
                                  else layer for layer in decoder.net))
    maps = decoder.net[4]
    assert maps(torch.zeros(2, math.prod(maps.unflattened_size))).is_contiguous(memory_format=torch.channels_last)
    z = torch.randn(3, 4)
    out, plain_out = decoder(z), plain(z)
    assert out.is_contiguous() and out.shape == (3, channels, 28, 28)
    torch.testing.assert_close(out, plain_out)
    (grad,) = torch.autograd.grad(out.square().sum(), decoder.net[5].weight)
    (plain_grad,) = torch.autograd.grad(plain_out.square().sum(), plain[5].weight)
    torch.testing.assert_close(grad, plain_grad)


def test_loss_terms_are_named_per_model():
    x = (torch.rand(2, *SHAPE),)
    assert set(build_model("ae", sweep_config("ae")).losses(x)) == {"recon"}
    assert set(build_model("vae", sweep_config("vae")).losses(x)) == {"recon", "kl"}
    assert set(build_model("vqvae", sweep_config("vqvae")).train().losses(x)) == {"recon", "commitment"}
    assert set(build_model("vqvae", sweep_config("vqvae", ema=False)).train().losses(x)) == {"recon", "commitment",
                                                                                             "codebook"}


def test_vqvae_codes_round_trip():
    model = latent_model("vqvae", 8)
    x = torch.rand(6, *SHAPE)
    codes = model.encode_codes(x)
    assert codes.shape == (6, 8) and codes.dtype == torch.int64
    assert torch.equal(codes, model.codes_of(model.encode(x)))
    assert torch.allclose(model.decode_codes(codes), model.decode(model.encode(x)))


def test_vae_kl_matches_the_closed_form():
    mean, log_var = torch.randn(5, 3), torch.randn(5, 3)
    q = torch.distributions.Normal(mean, (0.5 * log_var).exp())
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    expected = torch.distributions.kl_divergence(q, p).sum(1)
    assert torch.allclose(gaussian_kl(mean, log_var), expected, atol=1e-5)
    assert torch.allclose(gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))


def test_vae_measures_its_rate_in_bits():
    model = latent_model("vae")
    x = torch.rand(4, *SHAPE)
    mean, log_var = model.posterior(x)
    measures = model.measures((x,))
    assert torch.allclose(measures["kl_bits"], gaussian_kl(mean, log_var).mean() / math.log(2))
    assert torch.allclose(measures["mse"], (model.reconstruct(x) - x).pow(2).mean())


def test_classifier_shapes():
    model = build_model("classifier", classifier_config()).eval()
    x = torch.rand(2, *SHAPE)
    assert model(x).shape == (2, 10) and model.features(x).shape == (2, 32)
    terms, measures = model.held_out_terms((x, torch.tensor([0, 1])))
    assert set(terms) == {"nll"} and set(measures) == {"accuracy"}


@pytest.mark.parametrize("name", ["ae", "vae", "vqvae", "fsq", "vqvae2", "classifier"])
def test_held_out_terms_are_the_losses_and_measures_of_two_passes(name):
    """Scoring reads the measures from the loss's own forward pass where the model allows it: same numbers."""
    model = latent_model(name) if name != "classifier" else build_model(name, classifier_config()).eval()
    x, y = (torch.rand(6, *SHAPE) * torch.linspace(0, 1, 6).view(-1, 1, 1, 1)), torch.arange(6)
    torch.manual_seed(0)
    terms, measures = model.held_out_terms((x, y))
    torch.manual_seed(0)  # the VAE's loss samples z: the same draw
    expected_terms = model.losses((x, y))
    if name == "classifier":
        expected_measures = {"accuracy": (model(x).argmax(1) == y).float().mean()}
    else:
        expected_measures = model.measures((x,))
    assert terms.keys() == expected_terms.keys() and measures.keys() == expected_measures.keys()
    for got, expected in [(terms, expected_terms), (measures, expected_measures)]:
        for key in got:
            assert torch.allclose(got[key], expected[key], rtol=1e-5, atol=1e-6), (key, got[key], expected[key])
    if name != "classifier":
        reconstruction = model.reconstruct(x)
        assert torch.allclose(measures["mse"], (reconstruction - x).pow(2).mean(), rtol=1e-5)


@pytest.mark.parametrize("name", ["ae", "vae", "vqvae", "fsq", "classifier", "vqvae2"])
def test_loss_halves_on_a_fixed_batch_of_64(name, mnist_test_images):
    images, labels = mnist_test_images
    batch = (images[:64], labels[:64])
    model = build_model(name, model_config(name, 16)).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss() -> torch.Tensor:
        return sum(model.losses(batch).values())

    first = float(loss().detach())
    for _ in range(100):  # VQ-VAE-2, the slowest, halves it in about 50
        optimizer.zero_grad()
        value = loss()
        value.backward()
        optimizer.step()
    assert float(loss().detach()) < first / 2


def test_build_model_names_a_bad_config():
    config = sweep_config("vae")
    config["bottleneck"] = {"beta": "high"}
    with pytest.raises(ConfigError, match="vae.bottleneck.beta: expected float"):
        build_model("vae", config)
    with pytest.raises(ConfigError, match="unknown model 'gan'"):
        build_model("gan", config)
    with pytest.raises(ConfigError, match=r"vqvae2: config keys \['image_shape'\] do not match \['image_shape', 'model'\]"):
        build_model("vqvae2", {"image_shape": [1, 28, 28]})


def test_vqvae2_builds_from_its_plain_config():
    model = build_model("vqvae2", vqvae2_config())
    assert model.latent == 4 * 4 + 8 * 8


# --- devices ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ae", "vae", "vqvae", "fsq", "vqvae2"])
def test_encode_decode_and_reconstruct_agree_across_devices(name, device):
    model = latent_model(name)
    x = torch.rand(5, *SHAPE)
    z = model.encode(x)
    on_device = moved(model, device)
    z_device = on_device.encode(x.to(device))
    assert z_device.device.type == device.type
    assert torch.allclose(z_device.cpu(), z, atol=1e-5)
    assert torch.allclose(on_device.decode(z.to(device)).cpu(), model.decode(z), atol=1e-5)
    assert torch.allclose(on_device.reconstruct(x.to(device)).cpu(), model.reconstruct(x), atol=1e-5)


@pytest.mark.parametrize("name", ["ae", "vae", "vqvae", "fsq", "vqvae2", "classifier"])
def test_losses_agree_across_devices(name, device):
    model = latent_model(name) if name != "classifier" else build_model(name, classifier_config()).eval()
    batch = (torch.rand(4, *SHAPE), torch.tensor([0, 1, 2, 3]))
    if name == "vae":  # its recon term draws z: the same draws on both devices
        torch.manual_seed(1)
        expected = model.losses(batch)
        torch.manual_seed(1)
        terms = moved(model, device).losses(tuple(t.to(device) for t in batch))
        assert torch.allclose(terms["kl"].cpu(), expected["kl"], atol=1e-4)
        return
    expected = model.losses(batch)
    terms = moved(model, device).losses(tuple(t.to(device) for t in batch))
    assert set(terms) == set(expected)
    assert all(torch.allclose(terms[k].cpu(), expected[k], rtol=1e-4, atol=1e-4) for k in expected)


def test_vqvae_codes_agree_across_devices(device):
    model = latent_model("vqvae", 8)
    x = torch.rand(6, *SHAPE)
    on_device = moved(model, device)
    codes = on_device.encode_codes(x.to(device))
    assert codes.device.type == device.type and torch.equal(codes.cpu(), model.encode_codes(x))
    assert torch.equal(on_device.codes_of(model.encode(x).to(device)).cpu(), model.codes_of(model.encode(x)))
    decoded = on_device.decode_codes(codes)
    assert torch.allclose(decoded.cpu(), model.decode_codes(codes.cpu()), atol=1e-5)


def test_the_classifier_may_train_in_bfloat16_and_judges_in_float32():
    """Training autocasts its convolutions to bf16 where the CPU has it; the loss, gradients and verdicts are float32."""
    torch.manual_seed(0)
    model = build_model("classifier", classifier_config())
    batch = (torch.rand(8, *SHAPE), torch.arange(8))
    trained, evaluated = {}, {}
    for bf16 in (False, True):
        model.bf16_training = bf16
        loss = model.train().losses(batch)["nll"]
        loss.backward()
        assert loss.dtype == torch.float32 and all(p.grad.dtype == torch.float32 for p in model.parameters())
        trained[bf16] = loss.detach()
    for bf16 in (False, True):
        model.bf16_training = bf16
        evaluated[bf16] = model.eval().losses(batch)["nll"]
    assert not torch.equal(trained[True], trained[False])  # training did run in bf16
    assert torch.equal(evaluated[True], evaluated[False])  # evaluation is float32 either way


@pytest.mark.parametrize("name", ["ae", "vae", "vqvae", "fsq"])
def test_the_trunk_may_train_in_bfloat16_while_the_bottleneck_stays_float32(name):
    """Where the CPU has bf16, the encoder's and decoder's products train in it; what the bottleneck reads
    and computes (z, quantization, the KL), the losses and the gradients are float32, and evaluation too."""
    model = latent_model(name, 8)
    seen = []
    model.encoder.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    x = torch.rand(4, *SHAPE)
    evaluated = {}
    for bf16 in (False, True):  # before training: a VQ training step moves the EMA codebook
        model.bf16_training = bf16
        evaluated[bf16] = model.eval().decode(model.encode(x))
    assert torch.equal(evaluated[True], evaluated[False])  # evaluation is float32 either way
    for bf16 in (False, True):
        model.bf16_training = bf16
        seen.clear()
        losses = model.train().losses((x, torch.arange(4)))
        assert seen == [torch.bfloat16 if bf16 else torch.float32]
        assert model.encode(x).dtype == torch.float32 and all(v.dtype == torch.float32 for v in losses.values())
        sum(losses.values()).backward()
        assert all(p.grad is None or p.grad.dtype == torch.float32 for p in model.parameters())


def test_fsq_keeps_its_codes_apart_through_the_mean_image_plateau(mnist_test_images):
    """At train.lr every model first draws the mean image and ignores its code; FSQ's encoder outputs
    must not drift into tanh's flat tails meanwhile (then every image rounds to one code for good)."""
    images, labels = mnist_test_images
    model = build_model("fsq", model_config("fsq", 16)).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=0.0)
    for step in range(120):
        start = step % 4 * 128
        batch = (images[start:start + 128], labels[start:start + 128])
        optimizer.zero_grad()
        sum(model.losses(batch).values()).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        z = model.encode(images)
        codes = model.codes_of(z)
    distinct = torch.tensor([len(codes[:, slot].unique()) for slot in range(codes.shape[1])])
    assert z.abs().max() < 20, "the encoder's outputs drifted into tanh's flat tails"
    assert distinct.float().median() >= 32, f"distinct codes per slot over 512 images: {distinct.tolist()}"
