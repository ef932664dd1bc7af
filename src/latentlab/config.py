"""Typed, validated configuration: params.yaml -> frozen dataclasses.

`load_config` is the only reader of params.yaml. Every group of the file has a dataclass
here with the same key names; `parse` checks a raw YAML value against a type (unknown and
missing keys, types, ranges) and fails with a message that names the key, before any work.
The dataclasses carry no defaults: params.yaml is the one place a number lives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml

from latentlab.errors import ConfigError
from latentlab.schema import (
    Bounds,
    NonNegativeFloat,
    NonNegativeInt,
    Odd,
    OpenUnit,
    PositiveFloat,
    PositiveInt,
    Seed,
    UnitInterval,
    parse,
)

DatasetName = Literal["mnist", "fashion_mnist", "cifar10"]


@dataclass(frozen=True)
class DatasetFacts:
    image_shape: tuple[int, int, int]  # (C, H, W)
    train: int  # images in the released training split, before the validation split is held out
    test: int
    classes: int


DATASETS = {
    "mnist": DatasetFacts((1, 28, 28), train=60_000, test=10_000, classes=10),
    "fashion_mnist": DatasetFacts((1, 28, 28), train=60_000, test=10_000, classes=10),
    "cifar10": DatasetFacts((3, 32, 32), train=50_000, test=10_000, classes=10),
}

SweepModel = Literal["ae", "vae", "vqvae", "fsq"]
MAX_CODES = 2**15  # codes are stored as int16 (latentlab.codes)
SPREAD_IMAGES = Bounds(at_least=2, why="a standard deviation needs two images")
SCALE_IN_SD = Bounds(at_least=0, at_most=100, why="a multiple of a coordinate's standard deviation")
TEMPERATURE = Bounds(at_least=0.01, why="below it the softmax of the priors' logits overflows")


# --- params.yaml, group by group -------------------------------------------------------


@dataclass(frozen=True)
class BaseConfig:
    seed: Seed
    device: Literal["auto", "cpu", "cuda"]  # auto: CUDA when present, else CPU


@dataclass(frozen=True)
class DataConfig:
    name: DatasetName
    validation_size: PositiveInt  # the last N released training images, held out from training
    train_size: PositiveInt | None  # first N of the remaining training images; null keeps them all
    test_size: PositiveInt | None

    @property
    def facts(self) -> DatasetFacts:
        return DATASETS[self.name]

    def size(self, split: str) -> int:
        """Images in a prepared split, as the data stage will write it."""
        if split == "validation":
            return self.validation_size
        if split == "train":
            return min(self.train_size or self.facts.train, self.facts.train - self.validation_size)
        return min(self.test_size or self.facts.test, self.facts.test)


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

    grid_images: PositiveInt  # pictures only: test images in each run's grid (drawn by sweep_summary)


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

    codebook_size: Annotated[int, Bounds(at_least=1, at_most=MAX_CODES, why="code ids are stored as int16")]
    embed_dim: PositiveInt
    beta: NonNegativeFloat  # commitment weight, beta in eq. 3 of van den Oord et al. 2017
    ema: bool  # EMA codebook updates (appendix A.1) instead of the codebook loss
    decay: OpenUnit  # EMA decay of code counts (and of codes, when ema)
    dead_code_threshold: NonNegativeFloat  # restart a code used less than this share of its fair usage
    gradient: Literal["straight_through", "rotation"]  # how the encoder's gradient passes the snap


@dataclass(frozen=True)
class FSQConfig:
    """Finite scalar quantization: a slot is len(levels) coordinates, coordinate i rounded to levels[i] values."""

    levels: tuple[Annotated[int, Bounds(at_least=2)], ...]  # prod(levels) codes: at most MAX_CODES (Config checks)


@dataclass(frozen=True)
class ModelsConfig:
    ae: AEConfig
    vae: VAEConfig
    vqvae: QuantizerConfig
    fsq: FSQConfig


@dataclass(frozen=True)
class VQVAE2ModelConfig:
    image_size: PositiveInt  # images are padded to this square; bottom grid = size / 4, top = size / 8
    channels: Annotated[int, Bounds(at_least=2, why="the first convolution has channels // 2")]
    res_channels: PositiveInt
    res_blocks: NonNegativeInt
    top: QuantizerConfig  # the top level's codebook (global shape)
    bottom: QuantizerConfig  # the bottom level's codebook (detail)


@dataclass(frozen=True)
class VQVAE2Config:
    model: VQVAE2ModelConfig
    train: TrainConfig


@dataclass(frozen=True)
class PixelCNNModelConfig:
    channels: PositiveInt
    layers: PositiveInt
    kernel_size: Annotated[int, Bounds(at_least=3), Odd()]  # each layer sees kernel_size // 2 further

    def reach(self) -> int:
        """How many columns left and right (and rows up) the stacks see: every earlier code of a
        grid w wide is seen when reach >= w - 1."""
        return self.layers * (self.kernel_size // 2)


@dataclass(frozen=True)
class ConditionedPixelCNNModelConfig(PixelCNNModelConfig):
    condition_blocks: NonNegativeInt  # residual blocks over the condition codes


@dataclass(frozen=True)
class TopPriorConfig:
    model: PixelCNNModelConfig
    train: TrainConfig


@dataclass(frozen=True)
class BottomPriorConfig:
    model: ConditionedPixelCNNModelConfig
    train: TrainConfig


@dataclass(frozen=True)
class SampleConfig:
    per_label: PositiveInt  # conditional samples for every label
    unconditional: PositiveInt  # samples with labels drawn from the training label frequencies
    temperature: Annotated[float, TEMPERATURE]  # softmax temperature of both priors; 1 samples the model as trained
    reference_temperature: Annotated[float, TEMPERATURE]  # also measured, on reference_per_label samples per label
    reference_per_label: PositiveInt
    batch_size: PositiveInt


@dataclass(frozen=True)
class NoiseConfig:
    scales: tuple[Annotated[float, SCALE_IN_SD], ...]  # noise sd, in units of each coordinate's sd over training codes
    images: PositiveInt  # test images averaged in the MSE curve
    spread_images: Annotated[int, SPREAD_IMAGES]  # training images whose codes give each coordinate's sd
    grid_images: PositiveInt


@dataclass(frozen=True)
class TraversalConfig:
    digit: NonNegativeInt  # the label of the traversed test image (the first one with it)
    span: Annotated[float, Bounds(above=0, at_most=100)]  # offsets run from -span to +span coordinate sds
    steps: Annotated[int, Bounds(at_least=3), Odd()]  # odd: the middle offset is 0, the reconstruction
    spread_images: Annotated[int, SPREAD_IMAGES]
    score_images: PositiveInt  # the scores average over this many test images (the figure shows one)


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
    latents: tuple[PositiveInt, ...]  # the latent sweep: one training per model and size, at base.seed
    seeds: tuple[Seed, ...]  # the contest at model.latent: one training per model and seed


@dataclass(frozen=True)
class CodebooksConfig:
    """Where VQ loses its codes: VQ-VAE (with and without restarts) and FSQ at model.latent, one seed."""

    vq_sizes: tuple[Annotated[int, Bounds(at_least=2, at_most=MAX_CODES, why="code ids are stored as int16")], ...]
    fsq_levels: tuple[tuple[Annotated[int, Bounds(at_least=2)], ...], ...]  # the same numbers of codes, in order


@dataclass(frozen=True)
class NLLConfig:
    """The VAE's test NLL as VAE papers measure it: trained and scored on binarized images."""

    importance_samples: PositiveInt  # k of the IWAE bound (Burda et al. 2016); 1 is the ELBO
    test_images: PositiveInt  # the first N test images, each binarized once


@dataclass(frozen=True)
class MapsConfig:
    """Pictures of Z: the sweep's plane and 2-D embeddings at model.latent."""

    latent: PositiveInt  # the sweep's size drawn as it is (2: a plane; another size draws the embeddings only)
    images: PositiveInt  # the first N test images in each picture
    tsne_images: PositiveInt  # of them, embedded by t-SNE too (its cost grows faster than N)
    grid_steps: Annotated[int, Bounds(at_least=2)]  # the decoded plane: steps x steps images
    perplexity: PositiveFloat  # of t-SNE: about the number of neighbours each point keeps close


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
    codebooks: CodebooksConfig
    nll: NLLConfig
    maps: MapsConfig
    reconstruct: ReconstructConfig
    vqvae2: VQVAE2Config
    prior_top: TopPriorConfig
    prior_bottom: BottomPriorConfig
    sample: SampleConfig
    noise: NoiseConfig
    traversal: TraversalConfig
    interpolation: InterpolationConfig
    probe: ProbeConfig
    generation: GenerationConfig

    def __post_init__(self) -> None:
        for key in ("models", "latents", "seeds"):
            _check_unique(f"sweep.{key}", getattr(self.sweep, key))
        if self.model.latent not in self.sweep.latents:
            raise ConfigError(
                f"model.latent: {self.model.latent} is not one of sweep.latents "
                f"{list(self.sweep.latents)}; set model.latent to one of them "
                f"(e.g. dvc exp run -S model.latent={self.sweep.latents[0]}) "
                "or add it to sweep.latents"
            )
        _check_labels(self)
        _check_sizes(self)
        _check_vqvae2(self)
        _check_noise_scales(self.noise.scales)
        _check_fsq_levels("models.fsq.levels", self.models.fsq.levels)
        _check_codebooks(self.codebooks)
        _check_maps(self)
        if self.generation.samples > self.sample.unconditional:
            raise ConfigError(
                f"generation.samples: {self.generation.samples} is more than sample.unconditional "
                f"{self.sample.unconditional}, the VQ-VAE-2 samples it scores; raise sample.unconditional"
            )


def _check_unique(key: str, values: tuple) -> None:
    repeated = sorted({v for v in values if values.count(v) > 1}, key=str)
    if repeated:
        raise ConfigError(f"{key}: {repeated} listed more than once")


def _check_labels(cfg: Config) -> None:
    """Requested labels exist in the data set."""
    classes = cfg.data.facts.classes
    wanted = {"traversal.digit": [cfg.traversal.digit], "interpolation.classes": list(cfg.interpolation.classes)}
    for key, labels in wanted.items():
        if max(labels) >= classes:
            raise ConfigError(f"{key}: {labels} is not a label of {cfg.data.name} (labels 0 to {classes - 1})")
    if len(set(cfg.interpolation.classes)) == 1:
        raise ConfigError(f"interpolation.classes: {list(cfg.interpolation.classes)} must be two different labels")


def _check_sizes(cfg: Config) -> None:
    """No setting asks for more images than its split will hold."""
    data, facts = cfg.data, cfg.data.facts
    if data.validation_size >= facts.train:
        raise ConfigError(f"data.validation_size: {data.validation_size} leaves no training image "
                          f"({data.name} has {facts.train}); use fewer")
    limits = {
        "data.train_size": (data.train_size, facts.train - data.validation_size,
                            f"{data.name}'s training images after data.validation_size"),
        "data.test_size": (data.test_size, facts.test, f"{data.name}'s test images"),
    }
    train, test = data.size("train"), data.size("test")
    for key, value in {"probe.train_images": cfg.probe.train_images, "noise.spread_images": cfg.noise.spread_images,
                       "traversal.spread_images": cfg.traversal.spread_images,
                       "generation.samples": cfg.generation.samples}.items():
        limits[key] = (value, train, "the training split")
    for key, value in {"noise.images": cfg.noise.images, "traversal.score_images": cfg.traversal.score_images,
                       "nll.test_images": cfg.nll.test_images, "maps.images": cfg.maps.images,
                       "reconstruct.grid_images": cfg.reconstruct.grid_images,
                       "train.grid_images": cfg.train.grid_images}.items():
        limits[key] = (value, test, "the test split")
    for key, (value, limit, what) in limits.items():
        if value is not None and value > limit:
            raise ConfigError(f"{key}: {value} is more than the {limit} images of {what}; use at most {limit}")
    fits = {  # (key, value, limit, what the limit is)
        "probe.neighbours": (cfg.probe.neighbours, cfg.probe.train_images, "probe.train_images, the codes it votes among"),
        "generation.mixture_components": (cfg.generation.mixture_components, train,
                                          "the training codes the mixture is fit to"),
    }
    for key, (value, limit, what) in fits.items():
        if value > limit:
            raise ConfigError(f"{key}: {value} is more than the {limit} of {what}; use at most {limit}")


def _check_fsq_levels(key: str, levels: tuple[int, ...]) -> None:
    if math.prod(levels) > MAX_CODES:
        raise ConfigError(f"{key}: {list(levels)} make {math.prod(levels)} codes; use at most {MAX_CODES} "
                          "(code ids are stored as int16)")


def _check_maps(cfg: Config) -> None:
    maps = cfg.maps
    if maps.latent not in cfg.sweep.latents:
        raise ConfigError(f"maps.latent: {maps.latent} is not one of sweep.latents {list(cfg.sweep.latents)}; "
                          "draw one of the sweep's sizes (2 gives the plane)")
    if maps.tsne_images > maps.images:
        raise ConfigError(f"maps.tsne_images: {maps.tsne_images} is more than maps.images {maps.images}, the images "
                          "it is taken from; use at most that")
    if maps.perplexity >= maps.tsne_images:
        raise ConfigError(f"maps.perplexity: {maps.perplexity:g} must be less than maps.tsne_images "
                          f"{maps.tsne_images} (t-SNE needs more points than neighbours)")


def _check_codebooks(c: CodebooksConfig) -> None:
    """Each VQ-VAE size has its FSQ grid of the same number of codes."""
    if len(c.vq_sizes) != len(c.fsq_levels):
        raise ConfigError(f"codebooks.fsq_levels: {len(c.fsq_levels)} grids for the {len(c.vq_sizes)} sizes of "
                          "codebooks.vq_sizes; give one grid per size")
    for i, (size, levels) in enumerate(zip(c.vq_sizes, c.fsq_levels, strict=True)):
        if math.prod(levels) != size:
            raise ConfigError(f"codebooks.fsq_levels[{i}]: {list(levels)} make {math.prod(levels)} codes, not the "
                              f"{size} of codebooks.vq_sizes[{i}]; choose levels whose product is {size}")
    _check_unique("codebooks.vq_sizes", c.vq_sizes)


def _check_noise_scales(scales: tuple[float, ...]) -> None:
    """Each scale names its metrics (mse_to_recon_at_0.5sd): two scales may not print alike."""
    names = [f"{scale:g}" for scale in scales]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"noise.scales: {list(scales)} lists {repeated[0]} sd more than once (as printed, 6 digits); "
                          "list each scale once")


def _check_vqvae2(cfg: Config) -> None:
    """VQ-VAE-2 can take the images, and each prior sees every earlier code of its grid."""
    size, (_, height, width) = cfg.vqvae2.model.image_size, cfg.data.facts.image_shape
    if size % 8 or size < max(height, width):
        raise ConfigError(f"vqvae2.model.image_size: {size} must be a multiple of 8 and at least the "
                          f"{height}x{width} images of {cfg.data.name} (e.g. {8 * -(-max(height, width) // 8)})")
    for key, model, grid in (("prior_top", cfg.prior_top.model, size // 8),
                             ("prior_bottom", cfg.prior_bottom.model, size // 4)):
        if model.reach() < grid - 1:
            needed = -(-(grid - 1) // (model.kernel_size // 2))
            raise ConfigError(f"{key}.model.layers: {model.layers} layers of {model.kernel_size}x{model.kernel_size} "
                              f"cannot see the whole {grid}x{grid} grid of codes; use at least {needed}")


def load_config(path: str | Path = "params.yaml") -> Config:
    """Read params.yaml into a validated Config; raise ConfigError naming the bad key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file; run from the project root, where params.yaml is")
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        where = getattr(error, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{at} ({reason}); fix the file, or restore it with "
                          f"`git checkout -- {path}`") from error
    return parse(Config, raw, key="")

