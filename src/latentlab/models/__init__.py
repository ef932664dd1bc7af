"""The model registry: build any model from its name and the plain config stored with it."""

from __future__ import annotations

import inspect
from typing import Any, get_type_hints

from latentlab.config import Config
from latentlab.models.ae import Autoencoder
from latentlab.models.base import LatentModel, Trainable
from latentlab.models.classifier import Classifier
from latentlab.models.pixelcnn import PixelCNN
from latentlab.models.vae import VAE, BinarizedVAE
from latentlab.models.vqvae import FSQVAE, VQVAE, QuantizedAutoencoder
from latentlab.models.vqvae2 import VQVAE2
from latentlab.schema import ConfigError, parse, to_plain

MODELS: dict[str, type[Trainable]] = {
    "ae": Autoencoder,
    "vae": VAE,
    "vae_binarized": BinarizedVAE,
    "vqvae": VQVAE,
    "fsq": FSQVAE,
    "classifier": Classifier,
    "vqvae2": VQVAE2,
    "pixelcnn": PixelCNN,
}


def build_model(name: str, config: dict[str, Any]) -> Trainable:
    """MODELS[name](**config), each keyword checked and typed by the constructor's annotations."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    cls = MODELS[name]
    hints = get_type_hints(cls.__init__, include_extras=True)
    expected = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(config) - set(expected))
    missing = [p for p in expected if p not in config]
    if unknown or missing:
        raise ConfigError(f"{name}: config keys {sorted(config)} do not match {expected}")
    return cls(**{key: parse(hints[key], config[key], f"{name}.{key}") for key in expected})


def sweep_model_config(name: str, image_shape: tuple[int, int, int], latent: int, cfg: Config,
                       bottleneck: Any = None) -> dict[str, Any]:
    """The plain config of one run on the shared trunk: the model's bottleneck params (models.<name>, or
    `bottleneck`, a variant of them)."""
    return {
        "image_shape": list(image_shape),
        "latent": latent,
        "trunk": to_plain(cfg.trunk),
        "bottleneck": to_plain(getattr(cfg.models, name) if bottleneck is None else bottleneck),
    }


__all__ = ["MODELS", "LatentModel", "QuantizedAutoencoder", "Trainable", "build_model", "sweep_model_config"]
