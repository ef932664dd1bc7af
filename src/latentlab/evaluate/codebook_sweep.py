"""Where VQ loses its codes: codebook use, perplexity and distortion against the number of codes.

VQ-VAE learns its codebook and loses codes that stop being chosen; restarts move them back onto the
data. FSQ has a fixed grid of codes and nothing to lose. Each run of the codebook sweep (one seed, at
model.latent) becomes one row: variant, codes, usage on the test split, perplexity, test MSE.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from latentlab.figures import plain_log_scale
from latentlab.names import MODEL_COLOURS

VARIANTS = {  # variant: (how it is named for people, its colour, its line)
    "vqvae": ("VQ-VAE, EMA + dead-code restarts", MODEL_COLOURS["vqvae"], "-"),
    "vqvae-no-restarts": ("VQ-VAE, EMA, no restarts", MODEL_COLOURS["vqvae"], "--"),
    "fsq": ("FSQ (no codebook)", MODEL_COLOURS["fsq"], "-"),
}
MEASURES = {"codebook_usage": "share of codes used (test split)", "codebook_perplexity": "perplexity of code use",
            "mse": "test MSE"}


def codebook_table(runs: dict[str, dict]) -> pd.DataFrame:
    """One row per run, from {stem: metrics} of stems "<variant>-<codes>"; variants in VARIANTS' order."""
    rows = []
    for stem, m in runs.items():
        variant, codes = stem.rsplit("-", 1)
        rows.append({"variant": variant, "codes": int(codes), "codebook_usage": m["codebook"]["usage"],
                     "codebook_perplexity": m["codebook"]["perplexity"], "mse": m["test"]["mse"],
                     "code_bits": m["codebook"]["bits"], "code_entropy_bits": m["codebook"]["entropy_bits"],
                     "restarts": m["codebook"]["restarts"], "latent": m["latent"], "seed": m["seed"]})
    order = {variant: i for i, variant in enumerate(VARIANTS)}
    return pd.DataFrame(rows).sort_values(["variant", "codes"], key=lambda c: c.map(order) if c.name == "variant"
                                          else c, ignore_index=True)


def codebook_figure(table: pd.DataFrame) -> plt.Figure:
    """Usage, perplexity and test MSE against the number of codes, one line per variant."""
    figure, axes = plt.subplots(1, len(MEASURES), figsize=(5 * len(MEASURES), 4), layout="constrained")
    codes = sorted(table["codes"].unique())
    for ax, (measure, title) in zip(axes, MEASURES.items(), strict=True):
        for variant, rows in table.groupby("variant", sort=False):
            name, colour, style = VARIANTS[variant]
            ax.plot(rows["codes"], rows[measure], style, marker="o", color=colour, label=name)
        if measure == "codebook_perplexity":
            ax.plot(codes, codes, ":", color="grey", label="all codes used alike")
            plain_log_scale(ax, "y", base=2)
        ax.set_xscale("log", base=2)
        ax.set_xticks(codes, [str(c) for c in codes])
        ax.minorticks_off()
        ax.set(title=title, xlabel="codes per slot")
        ax.grid(alpha=0.3)
    axes[0].set_ylim(0, 1.05)
    axes[0].legend(fontsize=8)
    latent, seed = table["latent"].iloc[0], table["seed"].iloc[0]
    figure.suptitle(f"Where VQ loses its codes: latent size {latent}, seed {seed}, the sweep's budget")
    return figure
