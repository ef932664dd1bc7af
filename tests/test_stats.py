"""Intervals over seeds and over items, and when a winner may be named: on made-up numbers."""

from __future__ import annotations

import math

import pytest
import torch

from latentlab.stats import Estimate, bootstrap, holm, over_seeds, ranking, seed_summary, seeds_summary, welch

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


# --- pairwise verdicts: Welch differences, Holm's adjustment, orders and winners --------------------


def test_welch_matches_scipy_on_unequal_variances():
    from scipy import stats

    a, b = [0.010, 0.011, 0.009, 0.0105], [0.020, 0.026, 0.017]
    d = welch(a, b)
    expected = stats.ttest_ind(a, b, equal_var=False)
    assert d.mean == pytest.approx(sum(a) / 4 - sum(b) / 3) and d.p == pytest.approx(expected.pvalue)
    interval = expected.confidence_interval(0.95)
    assert (d.low, d.high) == (pytest.approx(interval.low), pytest.approx(interval.high))


def test_holm_steps_down_and_stays_monotone():
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0]) and holm([]) == []


def test_a_clear_order_names_the_winner():
    r = ranking({"ae": [0.010, 0.011, 0.009], "vae": [0.020, 0.021, 0.019], "vqvae": [0.030, 0.032, 0.028]}, True)
    assert r.order == ["ae", "vae", "vqvae"] and r.separated == [True, True]
    assert r.winner == "ae" and r.reason == "clear" and r.text() == "ae < vae < vqvae"
    assert {(p.a, p.b): p.better for p in r.pairs} == {("ae", "vae"): "ae", ("ae", "vqvae"): "ae",
                                                       ("vae", "vqvae"): "vae"}


def test_higher_is_better_orders_the_other_way():
    r = ranking({"ae": [0.80, 0.81, 0.79], "vae": [0.90, 0.91, 0.89]}, lower_is_better=False)
    assert r.order == ["vae", "ae"] and r.winner == "vae" and r.text() == "vae > ae"


def test_a_tie_names_no_winner():
    r = ranking({"ae": [1.0, 1.3, 0.8], "vae": [1.1, 0.9, 1.25]}, True)
    assert r.winner is None and r.reason == "no clear winner" and r.separated == [False]
    assert r.text() == "vae ≈ ae" or r.text() == "ae ≈ vae"


def test_the_issues_case_one_wide_interval_between_two_separated_models():
    """AE clearly below VQ-VAE, VAE's spread overlapping both: the order says what separates, no winner."""
    r = ranking({"ae": [0.0093, 0.0099, 0.0105], "vae": [0.0100, 0.0135, 0.0170], "vqvae": [0.0128, 0.0133, 0.0139]},
                True)
    assert r.order == ["ae", "vqvae", "vae"] and r.winner is None
    assert r.text() == "ae < vqvae ≈ vae (ae vs vae not separated)"


def test_holm_takes_back_a_difference_that_one_test_alone_would_call():
    """p = 0.03 alone is below 0.05, but not when it is the best of three pairs (0.03 x 3 = 0.09)."""
    per_seed = {"a": [1.0, 1.1, 1.2], "b": [1.25, 1.35, 1.45], "c": [1.3, 1.5, 1.7]}
    alone = welch(per_seed["a"], per_seed["b"]).p
    r = ranking(per_seed, True)
    pair = next(p for p in r.pairs if (p.a, p.b) == ("a", "b"))
    assert alone < 0.05 and pair.p_holm >= alone and (pair.better is None) == (pair.p_holm >= 0.05)


def test_one_seed_gives_no_verdict():
    r = ranking({"ae": [0.01], "vae": [0.05]}, True)
    assert r.winner is None and r.reason == "one seed" and r.pairs[0].p_holm is None
    assert r.order == ["ae", "vae"] and r.separated == [False]


def test_one_model_alone_is_no_winner():
    r = ranking({"ae": [0.01, 0.02]}, True)
    assert r.winner is None and r.reason == "alone"
