"""The gated PixelCNN: causal without a blind spot, conditioned, its sampler is exact, on every device."""

from __future__ import annotations

import pytest
import torch

from conftest import ROOT, moved
from latentlab.config import PixelCNNModelConfig, load_config
from latentlab.models.pixelcnn import ConditionCodes, PixelCNN


def prior(grid=(5, 5), layers=4, conditioned=False, kernel_size=3) -> PixelCNN:
    """7 codes, 10 labels; conditioned: also on a half-size map of 5 codes (like the top codes)."""
    condition = ConditionCodes((grid[0] // 2, grid[1] // 2), 5, 1) if conditioned else None
    model = PixelCNN(grid, 7, 10, PixelCNNModelConfig(channels=8, layers=layers, kernel_size=kernel_size), condition)
    return model.eval()


def influence(model: PixelCNN, codes: torch.Tensor, labels: torch.Tensor, position: tuple[int, int]) -> torch.Tensor:
    """|d head input at `position` / d input embedding|, summed over channels: (H, W). The head is 1x1
    convolutions, so the logits at `position` see what its input there sees; measured before the head's
    ReLUs, which in a tiny random network can all be off at a position and pass no gradient."""
    captured = {}

    def keep_embedding(module, inputs, output):
        output.retain_grad()
        captured["embedding"] = output

    def keep_head_input(module, inputs):
        captured["head_input"] = inputs[0]

    handles = [model.embed.register_forward_hook(keep_embedding),
               model.head.register_forward_pre_hook(keep_head_input)]
    try:
        model(codes, labels)
    finally:
        for handle in handles:
            handle.remove()
    captured["head_input"][0, :, position[0], position[1]].sum().backward()
    return captured["embedding"].grad[0].abs().sum(-1)


def sees_every_earlier_code(model: PixelCNN, positions=None) -> bool:
    height, width = model.grid
    codes, labels = torch.randint(0, 7, (1, height, width)), torch.tensor([3])
    order = torch.arange(height * width).view(height, width)
    for i, j in positions or [(i, j) for i in range(height) for j in range(width)]:
        if not (influence(model, codes, labels, (i, j))[order < i * width + j] > 0).all():
            return False
    return True


def test_logits_depend_on_every_earlier_code_and_on_no_later_one():
    model = prior(grid=(5, 5), layers=4)  # 4 layers of 3x3 reach across a 5x5 grid
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


@pytest.mark.parametrize("side, kernel_size", [(4, 3), (5, 3), (5, 5)])
def test_the_configs_depth_rule_is_the_networks_reach(side, kernel_size):
    """config.py accepts a prior when reach() >= side - 1: exactly when the network sees every earlier code."""
    least = next(layers for layers in range(1, 10)
                 if PixelCNNModelConfig(channels=8, layers=layers, kernel_size=kernel_size).reach() >= side - 1)
    assert sees_every_earlier_code(prior((side, side), least, kernel_size=kernel_size))
    assert not sees_every_earlier_code(prior((side, side), least - 1, kernel_size=kernel_size))


@pytest.mark.parametrize("level, stride", [("prior_top", 8), ("prior_bottom", 4)])
def test_the_default_priors_see_every_earlier_code_of_their_grid(level, stride):
    """params.yaml's depth and kernel reach the whole grid: the sampler never ignores a drawn code."""
    cfg = load_config(ROOT / "params.yaml")
    side = cfg.vqvae2.model.image_size // stride
    shape = getattr(cfg, level).model
    model = prior((side, side), shape.layers, kernel_size=shape.kernel_size)
    assert sees_every_earlier_code(model, [(side - 1, side - 1), (side - 1, 0), (side // 2, side - 1)])


def test_the_label_changes_the_top_prior():
    model = prior(grid=(4, 4))
    codes = torch.randint(0, 7, (1, 4, 4))
    one, two = model(codes, torch.tensor([1])), model(codes, torch.tensor([2]))
    # The label enters as a learned embedding added to every gate: swapping the embeddings swaps the logits.
    with torch.no_grad():
        model.embed_label.weight[[1, 2]] = model.embed_label.weight[[2, 1]]
    assert torch.equal(model(codes, torch.tensor([2])), one) and torch.equal(model(codes, torch.tensor([1])), two)
    assert (one - two).abs().max() > 1e-4


def test_the_top_codes_change_the_bottom_prior_and_only_through_the_condition():
    model = prior(grid=(4, 4), conditioned=True)
    codes, labels = torch.randint(0, 7, (1, 4, 4)), torch.tensor([1])
    top = torch.randint(0, 5, (1, 2, 2))
    other = top.clone()
    other[0, 1, 1] = (other[0, 1, 1] + 1) % 5
    assert (model(codes, labels, top) - model(codes, labels, other)).abs().max() > 1e-4
    condition = model.condition(labels, top)
    assert condition.shape == (1, 8, 4, 4)
    model.embed_condition = None  # the label alone: the top codes no longer matter
    assert torch.equal(model(codes, labels, top), model(codes, labels, other))


def test_the_nll_is_the_cross_entropy_per_code():
    model = prior(grid=(3, 3), layers=2)
    codes, labels = torch.randint(0, 7, (2, 3, 3)), torch.tensor([0, 1])
    logits = model(codes, labels)
    log_p = logits.log_softmax(1).gather(1, codes[:, None]).squeeze(1)  # (B, H, W)
    assert torch.allclose(model.losses((codes, labels))["nll"], -log_p.mean())


def naive_sample(model: PixelCNN, labels, condition_codes, generator, temperature: float = 1.0) -> torch.Tensor:
    """The definition: run the whole network for every position in raster order."""
    height, width = model.grid
    codes = torch.zeros(len(labels), height, width, dtype=torch.long, device=labels.device)
    with torch.no_grad():
        for i in range(height):
            for j in range(width):
                probs = torch.softmax(model(codes, labels, condition_codes)[:, :, i, j] / temperature, dim=1)
                codes[:, i, j] = torch.multinomial(probs, 1, generator=generator)[:, 0]
    return codes


@pytest.mark.parametrize("conditioned", [False, True])
def test_sampling_equals_the_definition_and_is_deterministic(conditioned):
    model = prior(grid=(4, 6), layers=3, conditioned=conditioned)
    labels = torch.tensor([0, 4, 9])
    top = torch.randint(0, 5, (3, 2, 3)) if conditioned else None
    fast = model.sample(labels, top, generator=torch.Generator().manual_seed(7))
    assert fast.shape == (3, 4, 6) and fast.dtype == torch.int64 and fast.max() < 7
    assert torch.equal(fast, naive_sample(model, labels, top, torch.Generator().manual_seed(7)))
    assert torch.equal(fast, model.sample(labels, top, generator=torch.Generator().manual_seed(7)))


def test_low_temperature_concentrates_on_the_mode():
    model = prior(grid=(3, 3), layers=2)
    labels = torch.zeros(200, dtype=torch.long)
    cold = model.sample(labels, temperature=0.01, generator=torch.Generator().manual_seed(0))
    warm = model.sample(labels, temperature=1.0, generator=torch.Generator().manual_seed(0))
    mode = int(model(torch.zeros(1, 3, 3, dtype=torch.long), labels[:1])[0, :, 0, 0].argmax())
    assert (cold[:, 0, 0] == mode).all()  # the first code has no context: its mode, every time
    assert warm[:, 0, 0].unique().numel() > 1


# --- devices ---------------------------------------------------------------------------------


@pytest.mark.parametrize("conditioned", [False, True])
def test_logits_and_nll_agree_across_devices(conditioned, device):
    model = prior(grid=(4, 4), layers=3, conditioned=conditioned)
    codes, labels = torch.randint(0, 7, (2, 4, 4)), torch.tensor([3, 8])
    top = torch.randint(0, 5, (2, 2, 2)) if conditioned else None
    on_device = moved(model, device)
    args = (codes.to(device), labels.to(device), None if top is None else top.to(device))
    assert torch.allclose(on_device(*args).cpu(), model(codes, labels, top), atol=1e-5)
    batch = (codes, labels) if top is None else (codes, labels, top)
    assert torch.allclose(on_device.losses(tuple(t.to(device) for t in batch))["nll"].cpu(),
                          model.losses(batch)["nll"], atol=1e-5)


@pytest.mark.parametrize("conditioned", [False, True])
def test_sampling_on_a_device_equals_the_definition_there(conditioned, device):
    """Draws come from the device's own generator (as the sample stage makes it), so they are compared with
    the definition on that device; the codes stay on the device."""
    model = moved(prior(grid=(4, 4), layers=3, conditioned=conditioned), device)
    labels = torch.tensor([0, 4, 9], device=device)
    top = torch.randint(0, 5, (3, 2, 2), device=device) if conditioned else None
    fast = model.sample(labels, top, temperature=0.8, generator=torch.Generator(device).manual_seed(7))
    assert fast.device.type == device.type
    reference = model.sample(labels, top, temperature=0.8, generator=torch.Generator(device).manual_seed(7))
    assert torch.equal(fast, reference)
    assert torch.equal(fast, naive_sample(model, labels, top, torch.Generator(device).manual_seed(7), 0.8))


@pytest.mark.parametrize("conditioned", [False, True])
def test_bfloat16_training_keeps_weights_loss_and_evaluation_float32(conditioned):
    """Training may run in bf16 (fast CPUs); the loss, the gradients and evaluation do not."""
    torch.manual_seed(0)
    model = prior(grid=(4, 4), layers=3, conditioned=conditioned)
    batch = (torch.randint(0, 7, (4, 4, 4)), torch.tensor([0, 1, 2, 3]))
    if conditioned:
        batch += (torch.randint(0, 5, (4, 2, 2)),)
    model.bf16_training = True
    model.train()
    loss = model.losses(batch)["nll"]
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert all(p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all() for p in model.parameters())
    model.eval()
    evaluated = model.losses(batch)["nll"]
    model.bf16_training = False
    assert torch.equal(evaluated, model.losses(batch)["nll"])  # evaluation is float32 either way
