"""The vector quantizer: straight-through gradients, EMA updates, dead-code restarts, statistics."""

from __future__ import annotations

import copy

import pytest
import torch

from conftest import tiny_quantizer
from latentlab.config import FSQConfig
from latentlab.evaluate.codebook import codebook_scores, entropy_bits
from latentlab.quantize import (
    EMAVectorQuantizer,
    FiniteScalarQuantizer,
    VectorQuantizer,
    build_quantizer,
    code_statistics,
    rotation_trick,
)


@pytest.mark.parametrize("ema", [True, False])
def test_straight_through_gradient_reaches_the_encoder(ema):
    quantizer = build_quantizer(tiny_quantizer(ema=ema)).train()
    z = torch.randn(8, 3, 4, requires_grad=True)
    out = quantizer(z)
    (out.quantized * torch.arange(4.0)).sum().backward()
    # The snap is the identity for gradients: d(quantized)/dz = I.
    assert torch.equal(z.grad, torch.arange(4.0).expand(8, 3, 4))


@pytest.mark.parametrize("ema", [True, False])
def test_eval_codes_look_up_to_the_quantized_vectors(ema):
    quantizer = build_quantizer(tiny_quantizer(ema=ema))
    quantizer.train()(torch.randn(64, 2, 4))  # initialize the codebook on data
    quantizer.eval()
    z = torch.randn(5, 3, 4)
    out = quantizer(z)
    assert out.codes.shape == (5, 3) and out.codes.dtype == torch.int64
    assert torch.allclose(quantizer.lookup(out.codes), out.quantized)
    assert torch.allclose(quantizer.snap(z), out.quantized)  # equal up to the rounding of z + (q - z)
    distances = torch.cdist(z.reshape(-1, 4), quantizer.codebook)
    assert torch.equal(out.codes.flatten(), distances.argmin(1))  # nearest code, by brute force


def test_ema_update_matches_a_hand_worked_example():
    quantizer = EMAVectorQuantizer(tiny_quantizer(codebook_size=2, embed_dim=1, decay=0.5, dead_code_threshold=0.0))
    quantizer.codebook.copy_(torch.tensor([[0.0], [10.0]]))
    quantizer.code_sum.copy_(quantizer.codebook * quantizer.usage[:, None])  # usage starts at [1, 1]
    quantizer.initialized.fill_(True)
    quantizer.train()(torch.tensor([[[1.0], [2.0], [9.0]]]))  # assigned to codes 0, 0, 1
    # usage = 0.5 * [1, 1] + 0.5 * [2, 1]; sums = 0.5 * [0, 10] + 0.5 * [3, 9]; code = sum / usage
    assert torch.allclose(quantizer.usage, torch.tensor([1.5, 1.0]))
    assert torch.allclose(quantizer.code_sum, torch.tensor([[1.5], [9.5]]))
    assert torch.allclose(quantizer.codebook, torch.tensor([[1.0], [9.5]]), atol=1e-4)


def test_ema_codebook_stays_put_in_eval():
    quantizer = EMAVectorQuantizer(tiny_quantizer())
    quantizer.train()(torch.randn(64, 2, 4))
    before = {k: v.clone() for k, v in quantizer.state_dict().items()}
    quantizer.eval()(torch.randn(64, 2, 4) * 5)
    assert all(torch.equal(before[k], v) for k, v in quantizer.state_dict().items())


@pytest.mark.parametrize("cls", [EMAVectorQuantizer, VectorQuantizer])
def test_dead_codes_are_restarted_onto_encoder_outputs(cls):
    quantizer = cls(tiny_quantizer(codebook_size=8, embed_dim=2, decay=0.9, dead_code_threshold=0.5)).train()
    data = torch.randn(64, 2)
    quantizer.codebook.data.copy_(torch.full((8, 2), 100.0))
    quantizer.codebook.data[0] = 0.0  # one live code near the data, seven far away
    if cls is EMAVectorQuantizer:
        quantizer.code_sum.copy_(quantizer.codebook * quantizer.usage[:, None])
    quantizer.initialized.fill_(True)
    for _ in range(5):
        quantizer(data[None])
    assert int(quantizer.restarts) >= 7
    nearest_input = torch.cdist(quantizer.codebook.detach(), data).min(1).values
    assert nearest_input.max() < 1.0  # every code now sits on the data
    used = quantizer.eval()(data[None]).codes.unique()
    assert len(used) > 1  # the revived codes take part


def test_codebook_loss_trains_the_codes_and_commitment_the_encoder():
    quantizer = VectorQuantizer(tiny_quantizer(ema=False, beta=0.25)).train()
    z = torch.randn(4, 3, 4, requires_grad=True)
    out = quantizer(z)
    assert set(out.losses) == {"codebook", "commitment"}
    out.losses["codebook"].backward(retain_graph=True)
    assert z.grad is None and quantizer.codebook.grad.abs().sum() > 0
    quantizer.codebook.grad = None
    out.losses["commitment"].backward()
    assert quantizer.codebook.grad is None and z.grad.abs().sum() > 0
    # commitment = beta * ||z - sg(e)||^2 summed over the latent, averaged over the batch
    expected = 0.25 * (z - out.quantized).pow(2).sum() / 4
    assert torch.allclose(out.losses["commitment"], expected)


def test_code_statistics():
    uniform = code_statistics(torch.arange(16).repeat(3), codebook_size=16)
    assert uniform["usage"] == 1.0 and uniform["perplexity"] == pytest.approx(16)
    single = code_statistics(torch.zeros(10, dtype=torch.long), codebook_size=16)
    assert single["usage"] == 1 / 16 and single["perplexity"] == pytest.approx(1)


@pytest.mark.parametrize("cls", [EMAVectorQuantizer, VectorQuantizer])
def test_no_code_is_dead_on_its_first_step(cls):
    """A fresh codebook starts at the fair usage: a large first batch does not restart every code."""
    quantizer = cls(tiny_quantizer(codebook_size=64, decay=0.99, dead_code_threshold=0.1)).train()
    quantizer(torch.randn(8192, 4))
    assert int(quantizer.restarts) == 0
    assert torch.allclose(quantizer.usage.sum(), torch.tensor(8192.0))


def test_codebook_scores_count_bits_per_slot():
    quantizer = EMAVectorQuantizer(tiny_quantizer(codebook_size=16))
    quantizer.restarts.fill_(5)
    codes = torch.tensor([[0, 2], [0, 2], [1, 2], [1, 2]])  # slot 0: two codes equally often; slot 1: one code
    scores = codebook_scores(codes, quantizer)
    assert scores["bits"] == 2 * 4  # 2 slots x log2(16)
    assert scores["entropy_bits"] == pytest.approx(1.0)  # 1 bit for slot 0, none for slot 1
    assert scores["usage"] == 3 / 16 and scores["restarts"] == 5
    # All slots together: code 2 half the time, codes 0 and 1 a quarter each, an entropy of 1.5 bits.
    assert scores["perplexity"] == pytest.approx(2**1.5)
    assert entropy_bits(torch.arange(8), codebook_size=16) == pytest.approx(3.0)


@pytest.mark.parametrize("ema", [True, False])
def test_quantizing_agrees_across_devices(ema, device):
    """The nearest codes, the straight-through output and the EMA update are the same on every device."""
    quantizer = build_quantizer(tiny_quantizer(ema=ema, dead_code_threshold=0.0))
    quantizer.train()(torch.randn(64, 2, 4))  # start the codebook on data (a random draw: done once, on the CPU)
    on_device = copy.deepcopy(quantizer).to(device)
    z = torch.randn(8, 3, 4)
    expected, out = quantizer(z), on_device(z.to(device))
    assert torch.equal(out.codes.cpu(), expected.codes)
    assert torch.allclose(out.quantized.cpu(), expected.quantized, atol=1e-6)
    assert all(torch.allclose(out.losses[k].cpu(), v, rtol=1e-5) for k, v in expected.losses.items())
    for key, value in quantizer.state_dict().items():  # usage, EMA sums and codes moved alike
        assert torch.allclose(on_device.state_dict()[key].cpu().to(value.dtype), value, atol=1e-5), key


# --- the rotation trick (Fifty et al. 2024) --------------------------------------------------------


def test_the_rotation_trick_keeps_the_forward_value_and_rotates_the_gradient():
    """Checked against the paper's formula with R built as a matrix: the output is q, and the gradient
    reaching e is (|q|/|e| R)^T g, with R = I - 2 r r^T + 2 q_ e_^T."""
    torch.manual_seed(0)
    e = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    q = torch.randn(5, 3, dtype=torch.float64)
    g = torch.randn(5, 3, dtype=torch.float64)
    out = rotation_trick(e, q)
    assert torch.allclose(out, q, atol=1e-12)
    (out * g).sum().backward()
    for i in range(5):
        e_unit, q_unit = e[i].detach() / e[i].detach().norm(), q[i] / q[i].norm()
        r = (e_unit + q_unit) / (e_unit + q_unit).norm()
        rotation = torch.eye(3, dtype=torch.float64) - 2 * torch.outer(r, r) + 2 * torch.outer(q_unit, e_unit)
        assert torch.allclose(rotation @ rotation.T, torch.eye(3, dtype=torch.float64))  # a rotation
        assert torch.allclose(rotation @ e_unit, q_unit)  # that carries e's direction onto q's
        expected = (q[i].norm() / e[i].detach().norm()) * rotation.T @ g[i]
        assert torch.allclose(e.grad[i], expected), i
    assert not torch.allclose(e.grad, g)  # not the straight-through gradient


@pytest.mark.parametrize("ema", [True, False])
def test_a_rotation_quantizer_snaps_as_the_straight_through_one(ema):
    """The option changes gradients only: the same codes, the same forward output, other encoder gradients."""
    torch.manual_seed(1)
    straight = build_quantizer(tiny_quantizer(ema=ema)).train()
    rotating = copy.deepcopy(straight)
    rotating.rotate = True
    z = torch.randn(8, 3, 4)
    outputs = []
    for quantizer in (straight, rotating):
        torch.manual_seed(2)  # the same restarts and initialization draws
        leaf = z.clone().requires_grad_()
        out = quantizer(leaf)
        (out.quantized * torch.arange(4.0)).sum().backward()
        outputs.append((out, leaf.grad))
    (a, grad_a), (b, grad_b) = outputs
    assert torch.equal(a.codes, b.codes) and torch.allclose(a.quantized, b.quantized, atol=1e-5)
    assert torch.equal(grad_a, torch.arange(4.0).expand(8, 3, 4)) and not torch.allclose(grad_b, grad_a)


# --- finite scalar quantization (Mentzer et al. 2023) ---------------------------------------------


LEVELS = (5, 4, 3)  # odd and even counts: an even count's grid is shifted by half a level


def fsq(levels=LEVELS) -> FiniteScalarQuantizer:
    return FiniteScalarQuantizer(FSQConfig(levels=levels))


def test_fsq_outputs_lie_on_the_grid_of_each_coordinates_levels():
    quantizer = fsq()
    out = quantizer(torch.randn(4000, 3) * 3)
    for i, levels in enumerate(LEVELS):
        values = torch.unique(out.quantized[:, i])
        width = levels // 2
        assert torch.allclose(values, torch.arange(-width, levels - width, dtype=torch.float32) / width), (levels, values)
    assert out.losses == {} and quantizer.codebook_size == 60 and quantizer.embed_dim == 3


def test_fsq_reaches_every_code_and_its_codes_look_up_to_its_outputs():
    quantizer = fsq()
    z = torch.randn(20000, 3) * 2
    out = quantizer(z)
    assert torch.equal(torch.unique(out.codes), torch.arange(60))  # every grid point is reachable
    assert torch.equal(quantizer.lookup(out.codes), out.quantized)
    assert torch.equal(quantizer.nearest(z), out.codes) and torch.equal(quantizer.snap(z), out.quantized)
    grid = quantizer.lookup(torch.arange(60))
    assert len(torch.unique(grid, dim=0)) == 60  # 60 codes, 60 distinct points


def test_fsq_passes_gradients_straight_through_the_rounding():
    quantizer = fsq()
    z = torch.randn(6, 2, 3, requires_grad=True)
    out = quantizer(z)
    out.quantized.sum().backward()
    leaf = z.detach().clone().requires_grad_()
    quantizer.unsnapped(leaf).sum().backward()  # the bounded values, not rounded: the gradient of the bound
    assert torch.allclose(z.grad, leaf.grad) and (z.grad > 0).all()


def test_fsq_usage_and_perplexity_over_its_codes():
    quantizer = fsq((2, 2))
    corners = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]]) * 10  # far out: the two levels
    codes = quantizer.nearest(corners.repeat(5, 1))
    scores = codebook_scores(codes.view(-1, 1), quantizer)
    assert scores["usage"] == 1.0 and scores["perplexity"] == pytest.approx(4.0) and scores["restarts"] == 0
    assert scores["bits"] == 2.0 and scores["entropy_bits"] == pytest.approx(2.0)
    half = codebook_scores(codes[codes < 2].view(-1, 1), quantizer)
    assert half["usage"] == 0.5 and half["perplexity"] == pytest.approx(2.0)
