"""The per-process setup every stage does once: threads, seed, device."""

from __future__ import annotations

import os

import torch

from latentlab.config import BaseConfig


def setup(base: BaseConfig) -> torch.device:
    """Use every core this process may run on, seed all RNGs, and pick the device."""
    torch.set_num_threads(usable_cores())
    torch.manual_seed(base.seed)
    return pick_device(base.device)


def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):  # Linux: respects taskset and container CPU sets
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("base.device: 'cuda' asked for, but no CUDA device is visible; use auto or cpu")
    return torch.device(name)
