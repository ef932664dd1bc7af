"""The per-process setup every stage does once: threads, seed, device."""

from __future__ import annotations

import os

import torch

from latentlab.config import BaseConfig
from latentlab.errors import ConfigError


def setup(base: BaseConfig, seed: int | None = None) -> torch.device:
    """Pick the device, use every core this process may run on, and seed all RNGs (base.seed by default)."""
    device = pick_device(base.device)
    torch.set_num_threads(usable_cores())
    torch.manual_seed(base.seed if seed is None else seed)
    return device


def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):  # Linux: respects taskset and container CPU sets
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def native_bf16() -> bool:
    """Whether this CPU has bfloat16 arithmetic (AVX512-BF16 or AMX), where bf16 convolutions are fast.
    Only the priors and VQ-VAE-2 use it, in training: floats then differ from a CPU without it, as
    they already do between CPUs."""
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("base.device: 'cuda' asked for, but no CUDA device is visible; set it to auto or cpu")
    return torch.device(name)
