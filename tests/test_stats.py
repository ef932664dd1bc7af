"""Intervals over seeds and over items, and when a winner may be named: on made-up numbers."""

from __future__ import annotations

import math

import pytest
import torch

from latentlab.stats import Estimate, bootstrap, over_seeds, seed_summary, seeds_summary, verdict

T_975_2 = 4.302652729749464  # Student-t quantile t_{0.975} with 2 degrees of freedom (3 seeds)


def seeds(mean: float, low: float, high: float) -> Estimate:
    return Estimate(mean, low, high, "seeds", 3)


def test_three_seeds_get_the_student_t_interval():
    values = [1.0, 2.0, 4.0]
    mean = 7 / 3
    sd = math.sqrt(((1 - mean) ** 2 + (2 - mean) ** 2 + (4 - mean) ** 2) / 2)
    half = T_975_2 * sd / math.sqrt(3)
    e = over_seeds(values)
    assert e.mean == pytest.approx(mean) and e.method == "seeds" and e.n == 3
    assert e.low == pytest.approx(mean - half, rel=1e-12) and e.high == pytest.approx(mean + half, rel=1e-12)


def test_one_seed_has_no_interval_never_a_zero_width_one():
    e = over_seeds([0.25])
    assert (e.mean, e.low, e.high, e.n) == (0.25, None, None, 1) and not e.has_interval
    assert e.to_dict() == {"mean": 0.25, "seeds": 1}
    assert e.text() == "0.25"


def test_seed_summaries_keep_every_seed():
    summary = seed_summary({0: 1.0, 1: 2.0, 2: 4.0})
    assert summary["per_seed"] == {"0": 1.0, "1": 2.0, "2": 4.0} and summary["seeds"] == 3
    assert summary["low"] == pytest.approx(over_seeds([1.0, 2.0, 4.0]).low)
    both = seeds_summary({0: {"mse": 1.0, "psnr": 10.0}, 1: {"mse": 3.0, "psnr": 20.0}})
    assert set(both) == {"mse", "psnr"} and both["psnr"]["mean"] == 15.0 and both["mse"]["per_seed"] == {"0": 1.0, "1": 3.0}


@pytest.mark.parametrize("estimate", [
    Estimate(0.1, 0.05, 0.15, "seeds", 3),
    Estimate(0.2, None, None, "seeds", 1),
    Estimate(0.3, 0.29, 0.31, "bootstrap", 1000),
    Estimate(0.4, None, None, "single", 1),
])
def test_estimates_round_trip_through_their_dict(estimate):
    assert Estimate.from_dict(estimate.to_dict()) == estimate


def test_a_plain_mean_is_one_measurement():
    assert Estimate.from_dict({"mean": 7.0}) == Estimate(7.0, None, None, "single", 1)
    assert Estimate(0.012345, 0.01, 0.015, "seeds", 3).text(3) == "0.0123 [0.01, 0.015]"


def test_bootstrap_covers_the_mean_and_shrinks_with_more_items():
    generator = torch.Generator().manual_seed(0)
    few = torch.rand(50, generator=generator, dtype=torch.float64)
    many = torch.rand(5000, generator=generator, dtype=torch.float64)
    small, large = bootstrap(few), bootstrap(many)
    assert small.mean == pytest.approx(float(few.mean())) and small.method == "bootstrap"
    for e in (small, large):
        assert e.low < e.mean < e.high
    assert large.high - large.low < (small.high - small.low) / 5  # ~ 1/sqrt(N): 10x narrower for 100x the items
    # For uniform values the sd is 1/sqrt(12): a 95% interval is about 2 * 1.96 * sd / sqrt(N) wide.
    assert large.high - large.low == pytest.approx(2 * 1.96 / math.sqrt(12 * 5000), rel=0.2)


def test_bootstrap_is_reproducible_and_constant_items_have_no_spread():
    values = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0])
    assert bootstrap(values) == bootstrap(values)
    flat = bootstrap(torch.full((20,), 0.75))
    assert (flat.low, flat.mean, flat.high) == (0.75, 0.75, 0.75)


# --- verdicts ----------------------------------------------------------------------------------


def test_a_clear_win_when_lower_is_better():
    v = verdict({"ae": seeds(0.02, 0.018, 0.022), "vae": seeds(0.03, 0.028, 0.032), "vqvae": seeds(0.04, 0.03, 0.05)},
                lower_is_better=True)
    assert (v.winner, v.best, v.reason) == ("ae", "ae", "clear")


def test_a_clear_win_when_higher_is_better():
    v = verdict({"ae": seeds(0.8, 0.78, 0.82), "vae": seeds(0.9, 0.88, 0.92), "vqvae": seeds(0.7, 0.6, 0.8)},
                lower_is_better=False)
    assert (v.winner, v.best, v.reason) == ("vae", "vae", "clear")


def test_the_same_numbers_crown_the_other_end_when_the_direction_flips():
    estimates = {"ae": seeds(1.0, 0.9, 1.1), "vae": seeds(2.0, 1.9, 2.1)}
    assert verdict(estimates, lower_is_better=True).winner == "ae"
    assert verdict(estimates, lower_is_better=False).winner == "vae"


@pytest.mark.parametrize("lower", [True, False])
def test_overlapping_intervals_name_no_winner(lower):
    # The best mean's interval is clear of one rival but overlaps the other.
    estimates = {"ae": seeds(1.0, 0.8, 1.2), "vae": seeds(1.3, 1.1, 1.5), "vqvae": seeds(5.0, 4.0, 6.0)}
    if not lower:
        estimates = {name: seeds(-e.mean, -e.high, -e.low) for name, e in estimates.items()}
    v = verdict(estimates, lower_is_better=lower)
    assert (v.winner, v.best, v.reason) == (None, "ae", "overlap")


def test_touching_intervals_are_not_clear():
    v = verdict({"ae": seeds(1.0, 0.9, 1.1), "vae": seeds(1.2, 1.1, 1.3)}, lower_is_better=True)
    assert v.winner is None and v.reason == "overlap"


def test_one_seed_names_no_winner():
    far_apart = {"ae": Estimate(1.0, None, None, "seeds", 1), "vae": Estimate(9.0, None, None, "seeds", 1)}
    v = verdict(far_apart, lower_is_better=True)
    assert (v.winner, v.best, v.reason) == (None, "ae", "one seed")
