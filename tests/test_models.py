"""Every model: shapes, finite losses, the loss falls on a fixed batch; VAE KL; checkpoints."""

from __future__ import annotations

import pytest
import torch

from conftest import tiny_quantizer, tiny_trunk
from latentlab.checkpoint import load_checkpoint, save_checkpoint
from latentlab.config import AEConfig, ClassifierModelConfig, VAEConfig, VQVAE2ModelConfig
from latentlab.models import build_model
from latentlab.models.vae import gaussian_kl
from latentlab.schema import ConfigError, to_plain

SHAPE = (1, 28, 28)
BOTTLENECKS = {"ae": AEConfig(), "vae": VAEConfig(beta=1.0), "vqvae": tiny_quantizer()}


def sweep_config(name: str, latent: int) -> dict:
    return {"image_shape": list(SHAPE), "latent": latent, "trunk": to_plain(tiny_trunk()),
            "bottleneck": to_plain(BOTTLENECKS[name])}


def classifier_config() -> dict:
    model = ClassifierModelConfig(channels=(8, 16), hidden=32, dropout=0.0)
    return {"image_shape": list(SHAPE), "num_classes": 10, "model": to_plain(model)}


@pytest.mark.parametrize("name", ["ae", "vae", "vqvae"])
@pytest.mark.parametrize("latent", [2, 32])
def test_sweep_model_shapes_and_losses(name, latent):
    model = build_model(name, sweep_config(name, latent))
    x = torch.rand(2, *SHAPE)
    losses = model.train().losses((x,))
    assert "recon" in losses and all(torch.isfinite(v) and v.ndim == 0 for v in losses.values())
    model.eval()
    z = model.encode(x)
    assert z.shape == ((2, latent, 4) if name == "vqvae" else (2, latent))
    assert model.decode(z).shape == (2, *SHAPE)
    recon = model.reconstruct(x)
    assert recon.shape == (2, *SHAPE) and recon.min() >= 0 and recon.max() <= 1


def test_vqvae_codes_round_trip():
    model = build_model("vqvae", sweep_config("vqvae", 8))
    x = torch.rand(6, *SHAPE)
    model.train().losses((x,))  # initialize the codebook on encoder outputs
    model.eval()
    codes = model.encode_codes(x)
    assert codes.shape == (6, 8)
    assert torch.allclose(model.decode_codes(codes), model.decode(model.encode(x)))


def test_vae_kl_matches_the_closed_form():
    mean, log_var = torch.randn(5, 3), torch.randn(5, 3)
    q = torch.distributions.Normal(mean, (0.5 * log_var).exp())
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    expected = torch.distributions.kl_divergence(q, p).sum(1)
    assert torch.allclose(gaussian_kl(mean, log_var), expected, atol=1e-5)
    assert torch.allclose(gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))


def test_classifier_shapes():
    model = build_model("classifier", classifier_config()).eval()
    x = torch.rand(2, *SHAPE)
    assert model(x).shape == (2, 10) and model.features(x).shape == (2, 32)


def vqvae2_config() -> dict:
    model = VQVAE2ModelConfig(image_size=32, channels=16, res_channels=8, res_blocks=1, top=tiny_quantizer(),
                              bottom=tiny_quantizer())
    return {"image_shape": list(SHAPE), "model": to_plain(model)}


@pytest.mark.parametrize("name", ["ae", "vae", "vqvae", "classifier", "vqvae2"])
def test_loss_halves_on_a_fixed_batch_of_64(name, mnist_test_images):
    images, labels = mnist_test_images
    batch = (images[:64], labels[:64])
    configs = {"classifier": classifier_config, "vqvae2": vqvae2_config}
    model = build_model(name, configs[name]() if name in configs else sweep_config(name, 16)).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss() -> torch.Tensor:
        return sum(model.losses(batch).values())

    first = float(loss().detach())
    for _ in range(150):
        optimizer.zero_grad()
        value = loss()
        value.backward()
        optimizer.step()
    assert float(loss().detach()) < first / 2


def test_checkpoint_round_trip_rebuilds_the_same_model(tmp_path):
    config = sweep_config("vqvae", 4)
    model = build_model("vqvae", config)
    model.train().losses((torch.rand(8, *SHAPE),))  # move buffers off their initial values
    save_checkpoint(tmp_path / "m.pt", "vqvae", config, model)
    loaded = load_checkpoint(tmp_path / "m.pt")  # torch.load(weights_only=True) inside
    x = torch.rand(3, *SHAPE)
    assert torch.equal(loaded.reconstruct(x), model.eval().reconstruct(x))
    assert not loaded.training


def test_build_model_names_a_bad_config():
    config = sweep_config("vae", 4)
    config["bottleneck"] = {"beta": "high"}
    with pytest.raises(ConfigError, match="vae.bottleneck.beta: expected float"):
        build_model("vae", config)
    with pytest.raises(ConfigError, match="unknown model 'gan'"):
        build_model("gan", config)
