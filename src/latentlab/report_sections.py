"""The report's tables beside the contest: rate against distortion, codebook use, the VAE's likelihood,
the latent sweep, VQ-VAE-2's levels and generation. Each reads the metrics files only (`Metrics`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from latentlab.names import label
from latentlab.stats import Estimate, ranking

if TYPE_CHECKING:
    from latentlab.report import Metrics

SWEEP_SAMPLERS = {
    "ae_normal": "AE, Z ~ N(0, I) (naive)", "ae_mixture": "AE, Gaussian mixture fit to training codes",
    "vae_normal": "VAE, Z ~ N(0, I) (its prior)", "vqvae_uniform": "VQ-VAE, uniform random codes (naive)",
    "fsq_uniform": "FSQ, uniform random codes (naive)",
}
VQVAE2_SAMPLERS = {"vqvae2_prior": "unconditional", "vqvae2_prior_reference": "conditional_reference"}
RATES = {"ae": "none finite (continuous code)", "vae": "KL to the prior", "vqvae": "entropy of code use",
         "fsq": "entropy of code use"}
CURVE_NAMES = {"vae_kl": "VAE (KL)", "vqvae_entropy": "VQ-VAE (entropy)", "vqvae_fixed": "VQ-VAE (fixed code)",
               "fsq_entropy": "FSQ (entropy)", "fsq_fixed": "FSQ (fixed code)",
               "vqvae2_fixed": "VQ-VAE-2 (fixed code)", "vqvae2_prior": "VQ-VAE-2 (priors' NLL)"}
CODEBOOK_VARIANTS = {"vqvae": "VQ-VAE, EMA + restarts", "vqvae-no-restarts": "VQ-VAE, EMA, no restarts", "fsq": "FSQ"}


def rate_rows(m: Metrics) -> pd.DataFrame:
    """The contest at model.latent in bits and distortion (intervals over seeds), VQ-VAE-2 beside."""
    rd = m["rate_distortion"]
    rows = []
    for name, scores in rd["contest"].items():
        rate = Estimate.from_dict(scores["rate_bits"]).text() if "rate_bits" in scores else ""
        fixed = m["sweep"][name][str(m.latent)].get("code_bits")
        rows.append({"model": label(name), "rate counted as": RATES[name], "bits per image": rate,
                     "fixed-length bits": f"{fixed:.0f}" if fixed else "",
                     "test MSE": Estimate.from_dict(scores["mse"]).text(),
                     "reconstruction NLL": Estimate.from_dict(scores["recon_nll"]).text()})
    vq2 = rd["vqvae2"]
    rows.append({"model": "VQ-VAE-2 (beside)", "rate counted as": "its priors' test NLL",
                 "bits per image": f"{vq2['prior_bits']:.4g}", "fixed-length bits": f"{vq2['fixed_bits']:.0f}",
                 "test MSE": f"{vq2['mse']:.4g}", "reconstruction NLL": f"{vq2['recon_nll']:.4g}"})
    return pd.DataFrame(rows)


def equal_rate_rows(m: Metrics) -> pd.DataFrame:
    """Every point where at least two codes can be compared at the same bits: each one's test MSE there."""
    rows = []
    for curve, by_latent in m["rate_distortion"]["equal_rate"].items():
        for latent, point in by_latent.items():
            if "best" not in point:
                continue
            others = {CURVE_NAMES[c]: f"{point[c]:.4g}" for c in CURVE_NAMES if c in point}
            rows.append({"at the rate of": f"{CURVE_NAMES[curve]}, size {latent}", "bits": f"{point['rate_bits']:.3g}",
                         **others, "lowest MSE": CURVE_NAMES[point["best"]]})
    return pd.DataFrame(rows).fillna("")


def codebook_rows(m: Metrics) -> pd.DataFrame:
    """Where VQ loses its codes: usage, perplexity, restarts and test MSE per variant and number of codes."""
    return pd.DataFrame([{"variant": CODEBOOK_VARIANTS.get(variant, variant), "codes": int(codes),
                          "codebook usage": s["codebook_usage"], "perplexity": s["codebook_perplexity"],
                          "restarts": s["restarts"], "entropy bits per image": s["code_entropy_bits"],
                          "test MSE": s["mse"]}
                         for variant, by_codes in m["codebooks"].items() for codes, s in by_codes.items()])


def nll_text(m: Metrics) -> str:
    """The VAE's importance-sampled test NLL on binarized images, with what makes it comparable."""
    n = m["vae_nll"]
    if n.get("nll") is None:
        return f"Not measured: {n.get('nll_null_reason', 'no binarized data')}.\n"
    nll, elbo, setup = Estimate.from_dict(n["nll"]), Estimate.from_dict(n["negative_elbo"]), n["setup"]
    return (f"The study's VAE at latent size {n['latent']} (seed {n['seed']}), trained on binarized MNIST: test NLL "
            f"**{nll.text()} nats** by the importance-sampled bound with k = {n['importance_samples']} "
            f"({elbo.text()} nats by the ELBO, k = 1), over the first {n['images']} test images (bootstrap intervals "
            f"over them). Setup: {setup['data']}; {setup['bound']}. Published for comparison: {setup['published']}. "
            f"It differs by {setup['differs_by']}.\n")


def sweep_rows(m: Metrics) -> pd.DataFrame:
    """The latent sweep: final-epoch test numbers per model and latent size, with both probes."""
    rows = []
    for name, by_latent in m["sweep"].items():
        for latent, s in by_latent.items():
            probe = m["probe"]["sweep"].get(name, {}).get(latent, {})
            rows.append({"model": name, "latent": int(latent), "epochs": s["epochs"],
                         "best validation epoch": s["best_validation_epoch"], "recon_nll": s["recon_nll"], "mse": s["mse"],
                         "psnr": s["psnr"], "ssim": s["ssim"], "kl_bits": s.get("kl_bits"),
                         "commitment": s.get("commitment"), "code_bits": s.get("code_bits"),
                         "code_entropy_bits": s.get("code_entropy_bits"), "codebook_usage": s.get("codebook_usage"),
                         "probe_logistic": probe.get("logistic"), "probe_knn": probe.get("knn")})
    return pd.DataFrame(rows)


def level_rows(m: Metrics) -> pd.DataFrame:
    """VQ-VAE-2's two levels: code bits, codebook use, restarts, and each prior's test bits."""
    return pd.DataFrame([{"level": level, "code_bits": m["codes"][level]["bits"],
                          "code_entropy_bits": m["codes"][level]["entropy_bits"],
                          "codebook_usage": m["codes"][level]["usage"], "codebook_perplexity": m["codes"][level]["perplexity"],
                          "codebook_restarts": m["codes"][level]["restarts"],
                          "prior_bits_per_code": m[f"prior_{level}"]["test"]["bits_per_code"],
                          "prior_bits_per_image": m[f"prior_{level}"]["test"]["bits_per_image"]}
                         for level in ("top", "bottom")])


def generation_rows(m: Metrics) -> pd.DataFrame:
    """Every sampler: FID and class entropy (means and intervals over seeds), then VQ-VAE-2 and the anchors."""
    g, sample = m["generation"], m["sample"]
    rows = [{"sampler": name, "Z drawn from": how,
             **{k: Estimate.from_dict(g[name][k]).text() for k in ("fid", "class_entropy_bits")}}
            for name, how in SWEEP_SAMPLERS.items() if name in g]
    for name, kind in VQVAE2_SAMPLERS.items():
        t = sample[kind]["temperature"]
        spread = "labels from the data" if kind == "unconditional" else "labels evenly spread"
        rows.append({"sampler": name, "Z drawn from": f"VQ-VAE-2 priors at temperature {t:g}, {spread} (one training)",
                     "fid": f"{g[name]['fid']['mean']:.4g}",
                     "class_entropy_bits": f"{g[name]['class_entropy_bits']['mean']:.4g}"})
    for name, how in (("train_images", "training images (the near anchor)"),
                      ("uniform_noise", "uniform pixel noise (the far anchor)")):
        rows.append({"sampler": name, "Z drawn from": how, "fid": f"{g['anchors'][name]['fid']:.4g}",
                     "class_entropy_bits": ""})
    return pd.DataFrame(rows)


def generation_verdict(m: Metrics) -> str:
    """Which sweep sampler has the lowest FID, pairwise over seeds, with VQ-VAE-2's beside."""
    g = m["generation"]
    per_seed = {name: list(g[name]["fid"]["per_seed"].values()) for name in SWEEP_SAMPLERS if name in g}
    r = ranking(per_seed, lower_is_better=True)
    named = {"clear": f"**{r.winner}** (lower than every other sampler, pairwise)",
             "no clear winner": "no sampler lower than every other (pairwise)",
             "one seed": "one seed: no verdict", "alone": f"only {r.order[0]}, nothing to compare"}[r.reason]
    vq2 = ", ".join(f"{g[name]['fid']['mean']:.4g} at temperature {m['sample'][kind]['temperature']:g}"
                    for name, kind in VQVAE2_SAMPLERS.items())
    return (f"- **Generation** (classifier-space FID, lower is better), among the samplers of the contest's models: "
            f"{r.text()}; {named}. VQ-VAE-2 through its priors, beside them: {vq2} (one training, one sample set: "
            f"no interval).")


def orderings(m: Metrics) -> list[str]:
    """The orderings the study expects, each reported as found (on means; the verdicts say what separates)."""
    g = m["generation"]
    fid = {name: Estimate.from_dict(g[name]["fid"]) for name in [*SWEEP_SAMPLERS, *VQVAE2_SAMPLERS] if name in g}
    anchors = {k: v["fid"] for k, v in g["anchors"].items()}
    checks = []
    for sampler, kind in VQVAE2_SAMPLERS.items():
        if {"vae_normal", "ae_normal"} <= set(fid):
            chain = [fid[sampler], fid["vae_normal"], fid["ae_normal"]]
            checks.append((f"FID: VQ-VAE-2 (temperature {m['sample'][kind]['temperature']:g}) < VAE < AE-naive",
                           chain[0].mean < chain[1].mean < chain[2].mean, ", ".join(e.text() for e in chain)))
    if {"ae_mixture", "ae_normal"} <= set(fid):
        checks.append(("FID: AE with a Gaussian mixture < AE-naive", fid["ae_mixture"].mean < fid["ae_normal"].mean,
                       f"{fid['ae_mixture'].text()} vs {fid['ae_normal'].text()}"))
    largest = anchors["uniform_noise"] > max([e.mean for e in fid.values()] + [anchors["train_images"]])
    checks.append(("anchor: uniform noise has the largest FID", largest, f"{anchors['uniform_noise']:.4g}"))
    locality = {k: m.estimate("traversal", k, "locality") for k in ("ae", "vae", "vqvae")}
    if all(locality.values()):
        checks.append(("the seed's reading: VQ-VAE coordinates act more locally than AE's and VAE's (traversal)",
                       locality["vqvae"].mean > max(locality["ae"].mean, locality["vae"].mean),
                       ", ".join(f"{label(k)} {v.text()}" for k, v in locality.items())))
    return [f"- {'Holds' if holds else '**Does not hold**'}: {claim} ({numbers})." for claim, holds, numbers in checks]
