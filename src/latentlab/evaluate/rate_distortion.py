"""Rate against distortion: how many bits per image each code spends, and how well it reconstructs.

Rates, in bits per image on the test split:
- VAE: its mean KL(q(z|x) || N(0, I)), what a bits-back coder would spend on z;
- VQ-VAE: the fixed-length code (slots x log2 K), and the empirical entropy of its code usage;
- VQ-VAE-2: the fixed-length code of both levels, and its priors' test NLL (what coding the codes with
  the priors would cost);
- AE: none finite (a continuous code has no rate without a prior); drawn as a distortion-only reference.
Distortion: test MSE and reconstruction NLL (nats per image).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from latentlab.figures import plain_log_scale
from latentlab.names import MODEL_COLOURS, label

CURVES = {  # curve -> (model, the sweep table's rate column, how the rate is counted)
    "vae_kl": ("vae", "kl_bits", "KL to the prior"),
    "vqvae_entropy": ("vqvae", "code_entropy_bits", "entropy of code use"),
    "vqvae_fixed": ("vqvae", "code_bits", "fixed-length code"),
    "fsq_entropy": ("fsq", "code_entropy_bits", "entropy of code use"),
    "fsq_fixed": ("fsq", "code_bits", "fixed-length code"),
}
DISTORTIONS = {"mse": "test MSE", "recon_nll": "reconstruction NLL (nats per image)"}
HOW = {**{curve: how for curve, (_, _, how) in CURVES.items()}, "vqvae2_fixed": "fixed-length code",
       "vqvae2_prior": "its priors' test NLL"}


def rate_table(sweep: pd.DataFrame, vqvae2: dict) -> pd.DataFrame:
    """Long table (curve, model, latent, rate_bits, mse, recon_nll): the sweep's curves, AE without a
    rate, and VQ-VAE-2's two rates. vqvae2: slots, fixed_bits, prior_bits, mse, recon_nll."""
    rows = []
    for curve, (model, column, _) in CURVES.items():
        part = sweep[sweep["model"] == model]
        rows += [{"curve": curve, "model": model, "latent": r["latent"], "rate_bits": r[column], "mse": r["mse"],
                  "recon_nll": r["recon_nll"]} for _, r in part.iterrows()]
    rows += [{"curve": "ae_no_rate", "model": "ae", "latent": r["latent"], "rate_bits": math.nan, "mse": r["mse"],
              "recon_nll": r["recon_nll"]} for _, r in sweep[sweep["model"] == "ae"].iterrows()]
    for curve, column in (("vqvae2_fixed", "fixed_bits"), ("vqvae2_prior", "prior_bits")):
        rows.append({"curve": curve, "model": "vqvae2", "latent": vqvae2["slots"], "rate_bits": vqvae2[column],
                     "mse": vqvae2["mse"], "recon_nll": vqvae2["recon_nll"]})
    return pd.DataFrame(rows)


def at_equal_rate(table: pd.DataFrame, distortion: str = "mse") -> pd.DataFrame:
    """For every point with a positive rate, each other curve's distortion at that very rate, interpolated
    linearly in log2(rate) between that curve's neighbouring points (missing outside its range).

    Columns: curve, latent, rate_bits, then one column per curve; `best` names the lowest distortion.
    """
    finite = table[table["rate_bits"] > 0]  # AE has no rate; a collapsed VAE's KL can be 0 bits
    curves = {name: rows.sort_values("rate_bits") for name, rows in finite.groupby("curve", sort=False)}
    out = []
    for _, point in finite.iterrows():
        row = {"curve": point["curve"], "latent": point["latent"], "rate_bits": point["rate_bits"]}
        for name, rows in curves.items():
            rates = np.log2(rows["rate_bits"].to_numpy())
            x = math.log2(point["rate_bits"])
            inside = len(rows) > 1 and rates[0] <= x <= rates[-1]
            row[name] = float(np.interp(x, rates, rows[distortion].to_numpy())) if inside or name == point["curve"] else None
        row[point["curve"]] = point[distortion]
        compared = {name: row[name] for name in curves if row[name] is not None}
        row["best"] = min(compared, key=compared.get) if len(compared) > 1 else None
        out.append(row)
    return pd.DataFrame(out)


def rate_distortion_figure(table: pd.DataFrame) -> plt.Figure:
    """Distortion against bits per image, one panel per distortion; AE beyond the right edge (no finite rate)."""
    finite = table[table["rate_bits"] > 0]
    edge = 2 ** math.ceil(math.log2(finite["rate_bits"].max()) + 1)  # where AE's points stand for "no rate"
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
    styles = {"vae_kl": "-", "vqvae_entropy": "-", "vqvae_fixed": "--", "fsq_entropy": "-", "fsq_fixed": "--",
              "vqvae2_fixed": "none", "vqvae2_prior": "none"}
    markers = {"vqvae2_fixed": "s", "vqvae2_prior": "D"}
    for ax, (distortion, title) in zip(axes, DISTORTIONS.items(), strict=True):
        for curve, rows in finite.groupby("curve", sort=False):
            model, rows = rows["model"].iloc[0], rows.sort_values("rate_bits")
            ax.plot(rows["rate_bits"], rows[distortion], linestyle=styles[curve], marker=markers.get(curve, "o"),
                    markersize=5, color=MODEL_COLOURS[model], label=f"{label(model)}: {HOW[curve]}")
        ae = table[table["curve"] == "ae_no_rate"]
        ax.scatter([edge] * len(ae), ae[distortion], marker="x", color=MODEL_COLOURS["ae"],
                   label="AE (no finite rate): distortion only, by latent size")
        for _, r in ae.iterrows():
            ax.annotate(f"  {r['latent']}", (edge, r[distortion]), fontsize=7, color=MODEL_COLOURS["ae"], va="center")
        plain_log_scale(ax, "x", base=2)
        plain_log_scale(ax, "y")
        bits = [2**k for k in range(1, int(math.log2(edge)), 2)]
        ax.set_xticks([*bits, edge], [*map(str, bits), "AE:\nno rate"])
        ax.set(xlabel="rate: bits per image (test split)", ylabel=title, title=title)
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7)
    figure.suptitle("Rate against distortion: every model and latent size of the sweep (one seed)")
    return figure
