"""The gated PixelCNN: causal without a blind spot, conditioned, and its sampler is exact."""

from __future__ import annotations

import pytest
import torch

from latentlab.config import PixelCNNModelConfig
from latentlab.models.pixelcnn import PixelCNN


def prior(grid=(5, 5), layers=6, conditioned=False) -> PixelCNN:
    """7 codes, 10 labels; conditioned: also on a half-size map of 5 codes (like the top codes)."""
    condition_grid = (grid[0] // 2, grid[1] // 2) if conditioned else None
    model = PixelCNN(grid, 7, 10, condition_grid, 5 if conditioned else None,
                     PixelCNNModelConfig(channels=8, layers=layers, kernel_size=3, condition_blocks=1))
    return model.eval()


def influence(model: PixelCNN, codes: torch.Tensor, labels: torch.Tensor, position: tuple[int, int]) -> torch.Tensor:
    """|d logits at `position` / d input embedding|, summed over channels: (H, W)."""
    captured = {}

    def keep(module, inputs, output):
        output.retain_grad()
        captured["embedding"] = output

    handle = model.embed.register_forward_hook(keep)
    try:
        logits = model(codes, labels)
    finally:
        handle.remove()
    logits[0, :, position[0], position[1]].sum().backward()
    return captured["embedding"].grad[0].abs().sum(-1)


def test_logits_depend_on_every_earlier_code_and_on_no_later_one():
    torch.manual_seed(0)
    model = prior(grid=(5, 5), layers=6)  # 6 layers of 3x3 cover a 5x5 grid
    codes, labels = torch.randint(0, 7, (1, 5, 5)), torch.tensor([3])
    for i in range(5):
        for j in range(5):
            grad = influence(model, codes, labels, (i, j))
            for a in range(5):
                for b in range(5):
                    if (a, b) >= (i, j):
                        assert grad[a, b] == 0, f"logits at {(i, j)} see the code at {(a, b)}"
                    else:
                        assert grad[a, b] > 0, f"blind spot: logits at {(i, j)} ignore the code at {(a, b)}"


def test_the_label_changes_the_top_prior():
    torch.manual_seed(0)
    model = prior(grid=(4, 4))
    codes = torch.randint(0, 7, (1, 4, 4))
    assert not torch.allclose(model(codes, torch.tensor([1])), model(codes, torch.tensor([2])))


def test_the_top_codes_change_the_bottom_prior():
    torch.manual_seed(0)
    model = prior(grid=(4, 4), conditioned=True)
    codes, labels = torch.randint(0, 7, (1, 4, 4)), torch.tensor([1])
    top = torch.randint(0, 5, (1, 2, 2))
    other = top.clone()
    other[0, 1, 1] = (other[0, 1, 1] + 1) % 5
    assert not torch.allclose(model(codes, labels, top), model(codes, labels, other))


def naive_sample(model: PixelCNN, labels, condition_codes, generator) -> torch.Tensor:
    """The definition: run the whole network for every position in raster order."""
    height, width = model.grid
    codes = torch.zeros(len(labels), height, width, dtype=torch.long)
    with torch.no_grad():
        for i in range(height):
            for j in range(width):
                probs = torch.softmax(model(codes, labels, condition_codes)[:, :, i, j], dim=1)
                codes[:, i, j] = torch.multinomial(probs, 1, generator=generator)[:, 0]
    return codes


@pytest.mark.parametrize("conditioned", [False, True])
def test_sampling_equals_the_definition_and_is_deterministic(conditioned):
    torch.manual_seed(0)
    model = prior(grid=(4, 6), layers=3, conditioned=conditioned)
    labels = torch.tensor([0, 4, 9])
    top = torch.randint(0, 5, (3, 2, 3)) if conditioned else None
    fast = model.sample(labels, top, generator=torch.Generator().manual_seed(7))
    assert fast.shape == (3, 4, 6) and fast.dtype == torch.int64 and fast.max() < 7
    assert torch.equal(fast, naive_sample(model, labels, top, torch.Generator().manual_seed(7)))
    assert torch.equal(fast, model.sample(labels, top, generator=torch.Generator().manual_seed(7)))
    assert not torch.equal(fast, model.sample(labels, top, generator=torch.Generator().manual_seed(8)))


def test_low_temperature_concentrates_on_the_mode():
    torch.manual_seed(0)
    model = prior(grid=(3, 3), layers=2)
    labels = torch.zeros(200, dtype=torch.long)
    cold = model.sample(labels, temperature=0.01, generator=torch.Generator().manual_seed(0))
    warm = model.sample(labels, temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert cold[:, 0, 0].unique().numel() == 1  # the first code has no context: one mode
    assert warm[:, 0, 0].unique().numel() > 1


@pytest.mark.parametrize("level, stride", [("prior_top", 8), ("prior_bottom", 4)])
def test_the_default_priors_see_every_earlier_code_of_their_grid(level, stride):
    """params.yaml's depth and kernel reach the whole grid: the sampler never ignores a drawn code."""
    from conftest import ROOT
    from latentlab.config import load_config

    cfg = load_config(ROOT / "params.yaml")
    side = cfg.vqvae2.model.image_size // stride
    shape = getattr(cfg, level).model
    model = PixelCNN((side, side), 7, 10, None, None, PixelCNNModelConfig(
        channels=8, layers=shape.layers, kernel_size=shape.kernel_size, condition_blocks=1)).eval()
    codes, labels = torch.randint(0, 7, (1, side, side)), torch.tensor([3])
    for i, j in [(side - 1, side - 1), (side - 1, 0), (side // 2, side - 1)]:
        grad = influence(model, codes, labels, (i, j))
        earlier = torch.arange(side * side).view(side, side) < i * side + j
        assert (grad[earlier] > 0).all(), f"{level}: logits at {(i, j)} ignore some earlier codes"
