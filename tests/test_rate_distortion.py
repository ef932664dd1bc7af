"""Rate against distortion on a made-up sweep: the rate table, and distortions compared at equal bits."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from latentlab.evaluate.rate_distortion import at_equal_rate, rate_table

VQVAE2 = {"slots": 80, "fixed_bits": 1000.0, "prior_bits": 300.0, "mse": 0.005, "recon_nll": 50.0}


def sweep() -> pd.DataFrame:
    """VAE: KL 4 and 16 bits (and a collapsed size at 0 bits); VQ-VAE: 8 and 64 fixed bits; AE: no rate."""
    nan = math.nan
    rows = [
        ("vae", 1, 0.0, nan, nan, 0.09), ("vae", 2, 4.0, nan, nan, 0.04), ("vae", 4, 16.0, nan, nan, 0.02),
        ("vqvae", 2, nan, 6.0, 8.0, 0.05), ("vqvae", 16, nan, 40.0, 64.0, 0.01),
        ("ae", 2, nan, nan, nan, 0.03),
    ]
    frame = pd.DataFrame(rows, columns=["model", "latent", "kl_bits", "code_entropy_bits", "code_bits", "mse"])
    return frame.assign(recon_nll=frame["mse"] * 1000)


@pytest.fixture
def equal() -> pd.DataFrame:
    return at_equal_rate(rate_table(sweep(), VQVAE2)).set_index(["curve", "latent"])


def test_rate_table_has_every_curve_and_ae_without_a_rate():
    table = rate_table(sweep(), VQVAE2)
    assert table.groupby("curve").size().to_dict() == {"vae_kl": 3, "vqvae_entropy": 2, "vqvae_fixed": 2,
                                                       "ae_no_rate": 1, "vqvae2_fixed": 1, "vqvae2_prior": 1}
    rates = table.set_index(["curve", "latent"])["rate_bits"]
    assert rates["vqvae_fixed", 16] == 64.0 and rates["vqvae_entropy", 16] == 40.0 and rates["vae_kl", 4] == 16.0
    assert math.isnan(rates["ae_no_rate", 2])
    assert rates["vqvae2_fixed", 80] == 1000.0 and rates["vqvae2_prior", 80] == 300.0


def test_a_zero_rate_is_left_out(equal):
    """A collapsed VAE (0 bits) has no log2 rate: it is neither a point nor part of the VAE curve."""
    assert ("vae_kl", 1) not in equal.index and ("ae_no_rate", 2) not in equal.index
    assert len(equal) == 8  # the points with a positive rate


def test_distortion_is_interpolated_linearly_in_log2_of_the_rate(equal):
    # At 8 bits (log2 = 3) the VAE curve runs from 4 bits (log2 2, MSE 0.04) to 16 bits (log2 4, MSE 0.02):
    # half way in log2, so MSE 0.03 (linear in bits would give 0.0333).
    point = equal.loc[("vqvae_fixed", 2)]
    assert point["rate_bits"] == 8.0 and point["vqvae_fixed"] == 0.05
    assert point["vae_kl"] == pytest.approx(0.03)
    # The entropy curve runs from 6 bits (MSE 0.05) to 40 bits (MSE 0.01).
    share = (3 - math.log2(6)) / (math.log2(40) - math.log2(6))
    assert point["vqvae_entropy"] == pytest.approx(0.05 + share * (0.01 - 0.05))
    assert point["best"] == "vae_kl"


def test_the_other_direction_at_the_vaes_rate(equal):
    # At 16 bits (log2 4) the fixed-length VQ-VAE curve runs from log2 3 (0.05) to log2 6 (0.01).
    point = equal.loc[("vae_kl", 4)]
    assert point["vqvae_fixed"] == pytest.approx(0.05 + (4 - 3) / (6 - 3) * (0.01 - 0.05))
    assert point["vae_kl"] == 0.02 and point["best"] == "vae_kl"


def test_points_outside_another_curves_range_are_left_empty(equal):
    low = equal.loc[("vae_kl", 2)]  # 4 bits: below both VQ-VAE curves
    assert pd.isna(low["vqvae_fixed"]) and pd.isna(low["vqvae_entropy"]) and low["vae_kl"] == 0.04
    assert pd.isna(low["best"])  # nothing to compare with
    high = equal.loc[("vqvae2_prior", 80)]  # 300 bits: above every sweep curve; one-point curves have no range
    assert all(pd.isna(high[c]) for c in ("vae_kl", "vqvae_entropy", "vqvae_fixed", "vqvae2_fixed"))
    assert high["vqvae2_prior"] == 0.005 and pd.isna(high["best"])


def test_equal_rate_compares_reconstruction_nll_too():
    table = at_equal_rate(rate_table(sweep(), VQVAE2), distortion="recon_nll").set_index(["curve", "latent"])
    assert table.loc[("vqvae_fixed", 2), "vae_kl"] == pytest.approx(30.0)
