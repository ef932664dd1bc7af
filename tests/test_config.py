"""params.yaml loads into the typed config; every mistake is named before any work."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from conftest import ROOT
from latentlab.config import Config, load_config
from latentlab.schema import ConfigError, parse


@pytest.fixture
def raw() -> dict:
    with (ROOT / "params.yaml").open() as f:
        return yaml.safe_load(f)


def check(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse(Config, raw, key="")


def test_params_yaml_loads():
    cfg = load_config(ROOT / "params.yaml")
    assert cfg.model.latent in cfg.sweep.latents
    assert cfg.train.lr > 0 and isinstance(cfg.trunk.channels, tuple)


def test_misspelled_key_is_named_with_a_suggestion(raw):
    raw["models"]["vqvae"]["codebok_size"] = raw["models"]["vqvae"].pop("codebook_size")
    check(raw, "models.vqvae: unknown key 'codebok_size'; did you mean 'codebook_size'?")


def test_unknown_group_is_named(raw):
    raw["trian"] = {"epochs": 3}
    check(raw, "unknown key 'trian'; did you mean 'train'?")


def test_missing_key_is_named(raw):
    del raw["train"]["epochs"]
    check(raw, "train: missing key 'train.epochs'")


@pytest.mark.parametrize("key, value, message", [
    ("lr", "3e-4", "train.lr: expected float, got str '3e-4' (YAML reads '3e-4' as text"),
    ("epochs", 2.5, "train.epochs: expected int, got float 2.5"),
    ("epochs", True, "train.epochs: expected int, got bool True"),
    ("epochs", -1, "train.epochs: must be at least 1, got -1"),
    ("batch_size", 0, "train.batch_size: must be at least 1, got 0"),
])
def test_wrong_types_and_ranges_are_named(raw, key, value, message):
    raw["train"][key] = value
    check(raw, message)


def test_latent_outside_the_sweep_lists_the_valid_values(raw):
    raw["model"]["latent"] = 3
    check(raw, "model.latent: 3 is not one of sweep.latents [2, 4, 8, 16, 32]")


def test_unknown_model_and_dataset_list_the_choices(raw):
    bad = copy.deepcopy(raw)
    bad["sweep"]["models"] = ["ae", "vea"]
    check(bad, "sweep.models[1]: expected one of 'ae', 'vae', 'vqvae', got 'vea'")
    raw["data"]["name"] = "emnist"
    check(raw, "data.name: expected one of 'mnist', 'fashion_mnist', 'cifar10', got 'emnist'")


def test_decay_must_lie_strictly_between_zero_and_one(raw):
    raw["models"]["vqvae"]["decay"] = 1.0
    check(raw, "models.vqvae.decay: must be less than 1, got 1.0")


def test_every_dvc_params_key_exists(raw):
    """Each key that a dvc.yaml stage lists under params: is in params.yaml (matrix items expanded)."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        items = [{"model": m} for m in raw["sweep"]["models"]] if "matrix" in stage else [{}]
        for item in items:
            for key in stage.get("params", []):
                key = key.replace("${item.model}", item.get("model", ""))
                node = raw
                for part in key.split("."):
                    assert isinstance(node, dict) and part in node, f"stage {name}: params key {key!r} not in params.yaml"
                    node = node[part]
