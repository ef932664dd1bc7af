"""How models are named for people, in tables, reports and figure legends."""

from __future__ import annotations

MODEL_LABELS = {"ae": "AE", "vae": "VAE", "vqvae": "VQ-VAE", "fsq": "FSQ", "vqvae2": "VQ-VAE-2"}
MODEL_COLOURS = {"ae": "tab:blue", "vae": "tab:orange", "vqvae": "tab:green", "fsq": "tab:purple", "vqvae2": "tab:red"}


def label(model: str) -> str:
    return MODEL_LABELS.get(model, model)
