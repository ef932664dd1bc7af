"""params.yaml loads into the typed config; every mistake is named, by its key, before any work."""

from __future__ import annotations

import re

import pytest
import torch
import yaml

from conftest import ROOT
from latentlab.config import ConditionedPixelCNNModelConfig, Config, DataConfig, PixelCNNModelConfig, load_config
from latentlab.errors import ConfigError
from latentlab.runtime import pick_device
from latentlab.schema import parse


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
    assert type(cfg.prior_top.model) is PixelCNNModelConfig  # the top prior has no condition codes
    assert isinstance(cfg.prior_bottom.model, ConditionedPixelCNNModelConfig)


def test_a_missing_params_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'params.yaml'}: no such file")):
        load_config(tmp_path / "params.yaml")


# --- keys and types --------------------------------------------------------------------------


def test_misspelled_key_is_named_with_a_suggestion(raw):
    raw["models"]["vqvae"]["codebok_size"] = raw["models"]["vqvae"].pop("codebook_size")
    check(raw, "models.vqvae: unknown key 'codebok_size'; did you mean 'codebook_size'?")


def test_unknown_group_is_named(raw):
    raw["trian"] = {"epochs": 3}
    check(raw, "unknown key 'trian'; did you mean 'train'?")


def test_missing_key_is_named(raw):
    del raw["train"]["epochs"]
    check(raw, "train: missing key 'train.epochs'")


def test_the_top_prior_has_no_condition_blocks(raw):
    raw["prior_top"]["model"]["condition_blocks"] = 2
    check(raw, "prior_top.model: unknown key 'condition_blocks'")


@pytest.mark.parametrize("key, value, message", [
    ("lr", "3e-4", "train.lr: expected float, got str '3e-4' (YAML reads '3e-4' as text"),
    ("epochs", 2.5, "train.epochs: expected int, got float 2.5"),
    ("epochs", True, "train.epochs: expected int, got bool True"),
    ("epochs", -1, "train.epochs: must be at least 1, got -1"),
    ("batch_size", 0, "train.batch_size: must be at least 1, got 0"),
    ("lr", float("inf"), "train.lr: expected a finite number, got inf"),
    ("lr", float("nan"), "train.lr: expected a finite number, got nan"),
    ("weight_decay", float("-inf"), "train.weight_decay: expected a finite number, got -inf"),
])
def test_wrong_types_and_ranges_are_named(raw, key, value, message):
    raw["train"][key] = value
    check(raw, message)


def test_yaml_infinity_is_rejected(raw, tmp_path):
    """YAML's own spelling of infinity (.inf) reaches the check as a float."""
    text = (ROOT / "params.yaml").read_text().replace("beta: 1.0", "beta: .inf", 1)
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ConfigError, match=re.escape("models.vae.beta: expected a finite number, got inf")):
        load_config(tmp_path / "params.yaml")


def test_unknown_sweep_model_lists_the_choices(raw):
    raw["sweep"]["models"] = ["ae", "vea"]
    check(raw, "sweep.models[1]: expected one of 'ae', 'vae', 'vqvae', 'fsq', got 'vea'")


def test_unknown_dataset_lists_the_choices(raw):
    raw["data"]["name"] = "emnist"
    check(raw, "data.name: expected one of 'mnist', 'fashion_mnist', 'cifar10', got 'emnist'")


def test_decay_must_lie_strictly_between_zero_and_one(raw):
    raw["models"]["vqvae"]["decay"] = 1.0
    check(raw, "models.vqvae.decay: must be less than 1, got 1.0")


@pytest.mark.parametrize("kernel_size, message", [(4, "must be odd, got 4"), (1, "must be at least 3, got 1")])
def test_a_prior_kernel_is_odd_and_at_least_three(raw, kernel_size, message):
    raw["prior_bottom"]["model"]["kernel_size"] = kernel_size
    check(raw, f"prior_bottom.model.kernel_size: {message}")


# --- rules across keys -----------------------------------------------------------------------


def test_latent_outside_the_sweep_lists_the_valid_values(raw):
    raw["model"]["latent"] = 3
    check(raw, "model.latent: 3 is not one of sweep.latents [2, 4, 8, 16, 32]")


@pytest.mark.parametrize("key", ["models", "latents", "seeds"])
def test_an_empty_sweep_list_is_named(raw, key):
    raw["sweep"][key] = []
    check(raw, f"sweep.{key}: expected a non-empty list")


@pytest.mark.parametrize("key, values, repeated", [("seeds", [0, 1, 0], "[0]"), ("latents", [2, 4, 4, 16], "[4]"),
                                                   ("models", ["ae", "vae", "ae"], "['ae']")])
def test_a_value_listed_twice_in_the_sweep_is_named(raw, key, values, repeated):
    raw["sweep"][key] = values
    check(raw, f"sweep.{key}: {repeated} listed more than once")


@pytest.mark.parametrize("group, key, value, message", [
    ("traversal", "digit", 10, "traversal.digit: [10] is not a label of mnist (labels 0 to 9)"),
    ("interpolation", "classes", [2, 10], "interpolation.classes: [2, 10] is not a label of mnist (labels 0 to 9)"),
    ("interpolation", "classes", [3, 3], "interpolation.classes: [3, 3] must be two different labels"),
])
def test_labels_must_exist_in_the_data_set(raw, group, key, value, message):
    raw[group][key] = value
    check(raw, message)


@pytest.mark.parametrize("changes, message", [
    ({("data", "validation_size"): 60000}, "data.validation_size: 60000 leaves no training image (mnist has 60000)"),
    ({("data", "train_size"): 55001}, "data.train_size: 55001 is more than the 55000 images of mnist's training "
                                      "images after data.validation_size; use at most 55000"),
    ({("data", "test_size"): 10001}, "data.test_size: 10001 is more than the 10000 images of mnist's test images"),
    ({("data", "train_size"): 300}, "probe.train_images: 10000 is more than the 300 images of the training split"),
    ({("data", "test_size"): 500}, "noise.images: 1000 is more than the 500 images of the test split; use at most 500"),
    ({("data", "test_size"): 40, ("noise", "images"): 40, ("traversal", "score_images"): 40, ("nll", "test_images"): 40,
      ("maps", "images"): 40, ("train", "grid_images"): 41},
     "train.grid_images: 41 is more than the 40 images of the test split"),
    ({("data", "test_size"): 500, ("noise", "images"): 500, ("traversal", "score_images"): 500},
     "nll.test_images: 1000 is more than the 500 images of the test split; use at most 500"),
    ({("sample", "unconditional"): 5000}, "generation.samples: 10000 is more than sample.unconditional 5000"),
])
def test_no_setting_asks_for_more_images_than_its_split_holds(raw, changes, message):
    for (group, key), value in changes.items():
        raw[group][key] = value
    check(raw, message)


def test_split_sizes_follow_the_data_settings():
    mnist = DataConfig(name="mnist", validation_size=5000, train_size=None, test_size=None)
    assert [mnist.size(s) for s in ("train", "validation", "test")] == [55000, 5000, 10000]
    small = DataConfig(name="cifar10", validation_size=1000, train_size=300, test_size=100)
    assert [small.size(s) for s in ("train", "validation", "test")] == [300, 1000, 100]


@pytest.mark.parametrize("size, message", [
    (24, "vqvae2.model.image_size: 24 must be a multiple of 8 and at least the 28x28 images of mnist (e.g. 32)"),
    (36, "vqvae2.model.image_size: 36 must be a multiple of 8"),
])
def test_vqvae2_image_size_must_hold_the_images_and_divide_by_eight(raw, size, message):
    raw["vqvae2"]["model"]["image_size"] = size
    check(raw, message)


def test_cifar_needs_an_image_size_of_at_least_32(raw):
    raw["data"]["name"] = "cifar10"
    raw["vqvae2"]["model"]["image_size"] = 32
    parse(Config, raw, key="")  # 32x32 images fit exactly
    raw["vqvae2"]["model"]["image_size"] = 24
    check(raw, "vqvae2.model.image_size: 24 must be a multiple of 8 and at least the 32x32 images of cifar10")


@pytest.mark.parametrize("prior, layers, message", [
    ("prior_top", 2, "prior_top.model.layers: 2 layers of 3x3 cannot see the whole 4x4 grid of codes; use at least 3"),
    ("prior_bottom", 6, "prior_bottom.model.layers: 6 layers of 3x3 cannot see the whole 8x8 grid of codes; "
                        "use at least 7"),
])
def test_a_prior_too_shallow_for_its_grid_is_named(raw, prior, layers, message):
    raw[prior]["model"]["layers"] = layers
    check(raw, message)
    raw[prior]["model"]["layers"] = layers + 1  # the least depth that reaches every earlier code
    parse(Config, raw, key="")


def test_a_wider_kernel_needs_fewer_layers(raw):
    raw["prior_bottom"]["model"].update(kernel_size=5, layers=3)
    check(raw, "prior_bottom.model.layers: 3 layers of 5x5 cannot see the whole 8x8 grid of codes; use at least 4")


def test_reach_is_layers_times_half_the_kernel():
    assert PixelCNNModelConfig(channels=8, layers=4, kernel_size=3).reach() == 4
    assert PixelCNNModelConfig(channels=8, layers=3, kernel_size=5).reach() == 6


def test_cuda_asked_for_without_cuda_names_the_key():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: asking for it is fine")
    with pytest.raises(ConfigError, match=re.escape("base.device: 'cuda' asked for, but no CUDA device is visible")):
        pick_device("cuda")
    assert pick_device("auto") == torch.device("cpu")


# --- dvc.yaml --------------------------------------------------------------------------------


def test_every_dvc_params_key_exists(raw):
    """Each key that a dvc.yaml stage lists under params: is in params.yaml (matrix items expanded)."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        item = {key: _lookup(raw, values[2:-1])[0] for key, values in stage.get("matrix", {}).items()}
        for key in stage.get("params", []):
            for field, value in item.items():
                key = key.replace(f"${{item.{field}}}", str(value))
            _lookup(raw, key, f"stage {name}")


def _lookup(raw: dict, key: str, where: str = "") -> object:
    node = raw
    for part in key.split("."):
        assert isinstance(node, dict) and part in node, f"{where}: params key {key!r} not in params.yaml"
        node = node[part]
    return node
