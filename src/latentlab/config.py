"""Typed, validated configuration: params.yaml -> frozen dataclasses.

`load_config` is the only reader of params.yaml. Every group of the file has a dataclass
here with the same key names; `parse` checks a raw YAML value against a type (unknown and
missing keys, types, ranges) and fails with a message that names the key, before any work.
The dataclasses carry no defaults: params.yaml is the one place a number lives.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml


class ConfigError(ValueError):
    """A problem in params.yaml; the message names the key and what to do."""


@dataclass(frozen=True)
class Bounds:
    """Range of a numeric field: strict (above/below) or inclusive (at_least/at_most)."""

    above: float | None = None
    at_least: float | None = None
    below: float | None = None
    at_most: float | None = None

    def check(self, value: float, key: str) -> None:
        rules = [
            (self.above, lambda v, b: v > b, "greater than"),
            (self.at_least, lambda v, b: v >= b, "at least"),
            (self.below, lambda v, b: v < b, "less than"),
            (self.at_most, lambda v, b: v <= b, "at most"),
        ]
        for bound, holds, words in rules:
            if bound is not None and not holds(value, bound):
                raise ConfigError(f"{key}: must be {words} {bound:g}, got {value!r}")


@dataclass(frozen=True)
class Odd:
    def check(self, value: int, key: str) -> None:
        if value % 2 == 0:
            raise ConfigError(f"{key}: must be odd, got {value}")


PositiveInt = Annotated[int, Bounds(at_least=1)]
NonNegativeInt = Annotated[int, Bounds(at_least=0)]
PositiveFloat = Annotated[float, Bounds(above=0)]
NonNegativeFloat = Annotated[float, Bounds(at_least=0)]
OpenUnit = Annotated[float, Bounds(above=0, below=1)]  # e.g. an EMA decay
UnitInterval = Annotated[float, Bounds(at_least=0, at_most=1)]  # e.g. a dropout rate

DatasetName = Literal["mnist", "fashion_mnist", "cifar10"]
SweepModel = Literal["ae", "vae", "vqvae"]


# --- params.yaml, group by group -------------------------------------------------------


@dataclass(frozen=True)
class BaseConfig:
    seed: NonNegativeInt
    device: Literal["auto", "cpu", "cuda"]  # auto: CUDA when present, else CPU


@dataclass(frozen=True)
class DataConfig:
    name: DatasetName
    train_size: PositiveInt | None  # first N training images; null keeps the whole split
    test_size: PositiveInt | None


@dataclass(frozen=True)
class TrainConfig:
    """A training budget for `fit`: epochs of a one-cycle schedule with AdamW."""

    epochs: PositiveInt
    batch_size: PositiveInt
    lr: PositiveFloat  # peak learning rate of the one-cycle schedule
    weight_decay: NonNegativeFloat


@dataclass(frozen=True)
class SweepTrainConfig(TrainConfig):
    """The budget of every AE/VAE/VQ-VAE run: one budget, so the comparison is fair."""

    grid_images: PositiveInt  # test images in each run's reconstruction grid


@dataclass(frozen=True)
class ClassifierModelConfig:
    channels: tuple[PositiveInt, PositiveInt]
    hidden: PositiveInt  # penultimate features: the space of the classifier-FID
    dropout: UnitInterval


@dataclass(frozen=True)
class ClassifierConfig:
    model: ClassifierModelConfig
    train: TrainConfig


@dataclass(frozen=True)
class TrunkConfig:
    """Encoder/decoder trunk shared by AE, VAE and VQ-VAE: only the bottleneck differs."""

    channels: tuple[PositiveInt, PositiveInt]
    hidden: PositiveInt


@dataclass(frozen=True)
class AEConfig:
    """The plain autoencoder's bottleneck has no parameters."""


@dataclass(frozen=True)
class VAEConfig:
    beta: NonNegativeFloat  # weight of the KL term


@dataclass(frozen=True)
class QuantizerConfig:
    """The vector quantizer shared by VQ-VAE and VQ-VAE-2."""

    codebook_size: PositiveInt
    embed_dim: PositiveInt
    beta: NonNegativeFloat  # commitment weight, beta in eq. 3 of van den Oord et al. 2017
    ema: bool  # EMA codebook updates (appendix A.1) instead of the codebook loss
    decay: OpenUnit  # EMA decay of code counts (and of codes, when ema)
    dead_code_threshold: NonNegativeFloat  # restart a code used less than this share of its fair usage


@dataclass(frozen=True)
class ModelsConfig:
    ae: AEConfig
    vae: VAEConfig
    vqvae: QuantizerConfig


@dataclass(frozen=True)
class VQVAE2ModelConfig:
    image_size: PositiveInt  # images are padded to this square; bottom grid = size / 4, top = size / 8
    channels: PositiveInt
    res_channels: PositiveInt
    res_blocks: NonNegativeInt
    top: QuantizerConfig  # the top level's codebook (global shape)
    bottom: QuantizerConfig  # the bottom level's codebook (detail)


@dataclass(frozen=True)
class VQVAE2Config:
    model: VQVAE2ModelConfig
    train: TrainConfig
    grid_images: PositiveInt


@dataclass(frozen=True)
class PixelCNNModelConfig:
    channels: PositiveInt
    layers: PositiveInt
    kernel_size: Annotated[int, Bounds(at_least=3), Odd()]  # each layer sees kernel_size // 2 further
    condition_blocks: NonNegativeInt  # residual blocks over the condition codes (bottom prior only)


@dataclass(frozen=True)
class PriorConfig:
    model: PixelCNNModelConfig
    train: TrainConfig


@dataclass(frozen=True)
class SampleConfig:
    per_label: PositiveInt  # conditional samples for every label
    unconditional: PositiveInt  # samples with labels drawn from the training label frequencies
    temperature: PositiveFloat  # softmax temperature of both priors; 1 samples the model as trained
    reference_temperature: PositiveFloat  # also measured, on reference_per_label samples per label
    reference_per_label: PositiveInt
    batch_size: PositiveInt
    grid_columns: PositiveInt  # samples per row in the grid images


@dataclass(frozen=True)
class NoiseConfig:
    scales: tuple[NonNegativeFloat, ...]  # noise sd, in units of each coordinate's sd over training codes
    images: PositiveInt  # test images averaged in the MSE curve
    spread_images: PositiveInt  # training images whose codes give each coordinate's sd
    grid_images: PositiveInt


@dataclass(frozen=True)
class TraversalConfig:
    digit: NonNegativeInt  # the label of the traversed test image (the first one with it)
    span: PositiveFloat  # offsets run from -span to +span coordinate standard deviations
    steps: Annotated[int, Bounds(at_least=3), Odd()]  # odd: the middle offset is 0, the reconstruction
    spread_images: PositiveInt


@dataclass(frozen=True)
class InterpolationConfig:
    classes: tuple[NonNegativeInt, NonNegativeInt]
    steps: Annotated[int, Bounds(at_least=3)]
    pairs: PositiveInt  # test pairs averaged in the metrics; the grid shows the first


@dataclass(frozen=True)
class ProbeConfig:
    train_images: PositiveInt  # the probes are fit on the codes of the first N training images
    max_iter: PositiveInt  # the logistic regression's fixed budget of L-BFGS iterations
    neighbours: PositiveInt  # k of the k-NN probe


@dataclass(frozen=True)
class GenerationConfig:
    samples: PositiveInt  # per sampler; FID against the whole test split
    mixture_components: PositiveInt  # of the Gaussian mixture fit to the AE's training codes
    grid_images: PositiveInt
    grid_columns: PositiveInt


@dataclass(frozen=True)
class SweepConfig:
    models: tuple[SweepModel, ...]
    latents: tuple[PositiveInt, ...]


@dataclass(frozen=True)
class ModelConfig:
    latent: PositiveInt  # the latent size the comparison stages look at


@dataclass(frozen=True)
class ReconstructConfig:
    grid_images: PositiveInt


@dataclass(frozen=True)
class Config:
    base: BaseConfig
    data: DataConfig
    classifier: ClassifierConfig
    train: SweepTrainConfig
    trunk: TrunkConfig
    models: ModelsConfig
    sweep: SweepConfig
    model: ModelConfig
    reconstruct: ReconstructConfig
    vqvae2: VQVAE2Config
    prior_top: PriorConfig
    prior_bottom: PriorConfig
    sample: SampleConfig
    noise: NoiseConfig
    traversal: TraversalConfig
    interpolation: InterpolationConfig
    probe: ProbeConfig
    generation: GenerationConfig

    def __post_init__(self) -> None:
        _check_unique("sweep.models", self.sweep.models)
        _check_unique("sweep.latents", self.sweep.latents)
        if self.model.latent not in self.sweep.latents:
            raise ConfigError(
                f"model.latent: {self.model.latent} is not one of sweep.latents "
                f"{list(self.sweep.latents)}; set model.latent to one of them "
                f"(e.g. dvc exp run -S model.latent={self.sweep.latents[0]}) "
                "or add it to sweep.latents"
            )
        if self.interpolation.classes[0] == self.interpolation.classes[1]:
            raise ConfigError(f"interpolation.classes: {list(self.interpolation.classes)} must be two different labels")
        if self.generation.samples > self.sample.unconditional:
            raise ConfigError(
                f"generation.samples: {self.generation.samples} is more than sample.unconditional "
                f"{self.sample.unconditional}, the VQ-VAE-2 samples it scores; raise sample.unconditional"
            )


def _check_unique(key: str, values: tuple) -> None:
    repeated = sorted({v for v in values if values.count(v) > 1}, key=str)
    if repeated:
        raise ConfigError(f"{key}: {repeated} listed more than once")


# --- loading and checking ----------------------------------------------------------------


def load_config(path: str | Path = "params.yaml") -> Config:
    """Read params.yaml into a validated Config; raise ConfigError naming the bad key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file; run from the project root, where params.yaml is")
    with path.open() as f:
        raw = yaml.safe_load(f)
    return parse(Config, raw, key="")


def parse(tp: Any, value: Any, key: str) -> Any:
    """Check `value` against type `tp` and convert it (lists -> tuples, dicts -> dataclasses)."""
    origin = get_origin(tp)
    if origin is Annotated:
        inner, *rules = get_args(tp)
        value = parse(inner, value, key)
        for rule in rules:
            rule.check(value, key)
        return value
    if dataclasses.is_dataclass(tp):
        return _parse_dataclass(tp, value, key)
    if origin is Literal:
        if value not in get_args(tp):
            choices = ", ".join(repr(c) for c in get_args(tp))
            raise ConfigError(f"{key}: expected one of {choices}, got {value!r}")
        return value
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        (inner,) = [t for t in options if t is not type(None)]
        return parse(inner, value, key)
    if origin is tuple:
        return _parse_tuple(tp, value, key)
    return _parse_scalar(tp, value, key)


def _parse_dataclass(cls: Any, value: Any, key: str) -> Any:
    fields = get_type_hints(cls, include_extras=True)
    if value is None and not fields:
        value = {}
    if not isinstance(value, dict):
        raise ConfigError(f"{key or 'params.yaml'}: expected a mapping of {sorted(fields)}, got {value!r}")
    prefix = f"{key}." if key else ""
    for name in value:
        if name not in fields:
            close = difflib.get_close_matches(str(name), fields, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(fields)}"
            raise ConfigError(f"{key or 'params.yaml'}: unknown key '{name}'{hint}")
    missing = [name for name in fields if name not in value]
    if missing:
        raise ConfigError(f"{key or 'params.yaml'}: missing key '{prefix}{missing[0]}'")
    return cls(**{name: parse(tp, value[name], prefix + name) for name, tp in fields.items()})


def _parse_tuple(tp: Any, value: Any, key: str) -> tuple:
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list, got {type(value).__name__} {value!r}")
    args = get_args(tp)
    if len(args) == 2 and args[1] is Ellipsis:
        if not value:
            raise ConfigError(f"{key}: expected a non-empty list")
        args = (args[0],) * len(value)
    elif len(args) != len(value):
        raise ConfigError(f"{key}: expected a list of {len(args)} items, got {len(value)}")
    return tuple(parse(t, v, f"{key}[{i}]") for i, (t, v) in enumerate(zip(args, value, strict=True)))


def _parse_scalar(tp: Any, value: Any, key: str) -> Any:
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, tp) and not (tp is int and isinstance(value, bool)):
        return value
    hint = ""
    if tp is float and isinstance(value, str):
        hint = f" (YAML reads '{value}' as text; write the number with a dot, e.g. 3.0e-4)"
    raise ConfigError(f"{key}: expected {tp.__name__}, got {type(value).__name__} {value!r}{hint}")


def to_plain(value: Any) -> Any:
    """Dataclasses and tuples -> dicts and lists (what YAML, JSON and checkpoints store)."""
    if dataclasses.is_dataclass(value):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [to_plain(v) for v in value]
    return value
