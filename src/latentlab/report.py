"""The study's report: every number of every stage in one table, and who wins each test.

Reads only the metrics files the stages wrote, so it reports exactly what was measured. At
model.latent, AE, VAE and VQ-VAE are compared over seeds: a winner is named only when its 95%
interval is clear of every other model's. VQ-VAE-2 (more code, its own budget, one training) is
shown beside them with bootstrap intervals over test images, never crowned over them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from latentlab.errors import InputError
from latentlab.io import read_json, restore_hint
from latentlab.names import label
from latentlab.stats import Estimate, verdict
from latentlab.tables import to_markdown

SWEEP_MODELS = ("ae", "vae", "vqvae")
STAGES = ("classifier", "sweep", "reconstruct", "vqvae2", "codes", "prior_top", "prior_bottom", "sample", "noise",
          "traversal", "interpolation", "probe", "generation", "rate_distortion")
CONTEST = [  # (test, metrics file, score, lower is better)
    ("test MSE", "reconstruct", "mse", True),
    ("PSNR (dB)", "reconstruct", "psnr", False),
    ("SSIM", "reconstruct", "ssim", False),
    ("reconstruction NLL (nats/image)", "reconstruct", "recon_nll", True),
    ("label in Z: linear probe accuracy", "probe", "logistic", False),
    ("label in Z: k-NN accuracy", "probe", "knn", False),
    ("noise on Z: MSE to own reconstruction", "noise", "mse_to_recon_at_{scale}sd", True),
    ("noise on Z: MSE to the clean image", "noise", "mse_to_image_at_{scale}sd", True),
    ("traversal: locality of a coordinate", "traversal", "locality", False),
    ("interpolation: frames on the two classes", "interpolation", "end_class_share", False),
    ("interpolation: largest step (smoothness)", "interpolation", "smoothness", True),
]
SWEEP_SAMPLERS = {
    "ae_normal": "AE, Z ~ N(0, I) (naive)", "ae_mixture": "AE, Gaussian mixture fit to training codes",
    "vae_normal": "VAE, Z ~ N(0, I) (its prior)", "vqvae_uniform": "VQ-VAE, uniform random codes (naive)",
}
VQVAE2_SAMPLERS = {"vqvae2_prior": "unconditional", "vqvae2_prior_reference": "conditional_reference"}


@dataclass
class Metrics:
    """Every stage's metrics, read from one folder."""

    stages: dict[str, Any]
    folder: Path = Path("metrics")
    last: str = ""  # the file read last: the one to blame for a value of unexpected type

    @classmethod
    def read(cls, folder: Path) -> Metrics:
        return cls({name: read_json(folder / f"{name}.json") for name in STAGES}, folder)

    def __getitem__(self, name: str) -> Any:
        self.last = name
        return self.stages[name]

    @contextmanager
    def reading(self) -> Iterator[None]:
        """A file of unexpected structure (a number where a table of models goes) stops with its name, as a
        missing key does (latentlab.io.Record)."""
        try:
            yield
        except (TypeError, AttributeError, ValueError) as error:
            path = self.folder / f"{self.last}.json"
            raise InputError(f"{path}: not the file this stage reads ({type(error).__name__}: {error}); "
                             f"{restore_hint(path)}") from error

    @property
    def latent(self) -> int:
        return self["reconstruct"]["latent"]

    @property
    def noise_scale(self) -> str:
        """The noise scale the contest quotes: 1 sd when measured, else the largest."""
        scales = [k.removeprefix("mse_to_recon_at_").removesuffix("sd") for k in self["noise"]["vqvae2"]
                  if k.startswith("mse_to_recon_at_")]
        return "1" if "1" in scales else max(scales, key=float)

    def estimate(self, stage: str, model: str, score: str) -> Estimate | None:
        entry = self[stage].get(model, {}).get(score.format(scale=self.noise_scale))
        return Estimate.from_dict(entry) if entry else None


def contest_rows(m: Metrics) -> pd.DataFrame:
    """One row per test at model.latent: each model's estimate, the verdict, and VQ-VAE-2 beside."""
    rows = []
    for test, stage, score, lower in CONTEST:
        estimates = {name: e for name in SWEEP_MODELS if (e := m.estimate(stage, name, score))}
        row = {"test": test.format(scale=m.noise_scale), "better": "lower" if lower else "higher"}
        row.update({label(name): e.text() for name, e in estimates.items()})
        row["verdict"] = _verdict_text(estimates, lower) if len(estimates) > 1 else ""
        beside = m.estimate(stage, "vqvae2", score)
        row["VQ-VAE-2 (beside)"] = beside.text() if beside else ""
        rows.append(row)
    return pd.DataFrame(rows)


def _verdict_text(estimates: dict[str, Estimate], lower: bool) -> str:
    v = verdict(estimates, lower)
    if v.winner:
        return f"**{label(v.winner)}**"
    if v.reason == "one seed":
        return f"{label(v.best)} best, one seed: no interval"
    return "no clear winner (intervals overlap)"


def generation_rows(m: Metrics) -> pd.DataFrame:
    """Every sampler: FID and class entropy (means and intervals over seeds), then VQ-VAE-2 and the anchors."""
    g, sample = m["generation"], m["sample"]
    rows = [{"sampler": name, "Z drawn from": how, **{k: Estimate.from_dict(g[name][k]).text() for k in ("fid", "class_entropy_bits")}}
            for name, how in SWEEP_SAMPLERS.items() if name in g]
    for name, kind in VQVAE2_SAMPLERS.items():
        t = sample[kind]["temperature"]
        spread = "labels from the data" if kind == "unconditional" else "labels evenly spread"
        rows.append({"sampler": name, "Z drawn from": f"VQ-VAE-2 priors at temperature {t:g}, {spread} (one training)",
                     "fid": f"{g[name]['fid']['mean']:.4g}", "class_entropy_bits": f"{g[name]['class_entropy_bits']['mean']:.4g}"})
    for name, how in (("train_images", "training images (the near anchor)"),
                      ("uniform_noise", "uniform pixel noise (the far anchor)")):
        rows.append({"sampler": name, "Z drawn from": how, "fid": f"{g['anchors'][name]['fid']:.4g}", "class_entropy_bits": ""})
    return pd.DataFrame(rows)


def generation_verdict(m: Metrics) -> str:
    """Which sweep sampler has the lowest FID, by intervals, with VQ-VAE-2's beside."""
    g = m["generation"]
    estimates = {name: Estimate.from_dict(g[name]["fid"]) for name in SWEEP_SAMPLERS if name in g}
    v = verdict(estimates, lower_is_better=True)
    named = f"**{v.winner}** (interval clear of the others)" if v.winner else {
        "overlap": f"no clear winner among {', '.join(estimates)} (intervals overlap)",
        "one seed": f"{v.best} lowest, one seed: no interval",
        "alone": f"only {v.best}, with no other sampler to compare"}[v.reason]
    vq2 = {name: g[name]["fid"]["mean"] for name in VQVAE2_SAMPLERS}
    return (f"- **Generation** (classifier-space FID, lower is better): among the samplers of AE, VAE and VQ-VAE, "
            f"{named}. VQ-VAE-2 through its priors, beside them: "
            + ", ".join(f"{v_:.4g} at temperature {m['sample'][VQVAE2_SAMPLERS[k]]['temperature']:g}" for k, v_ in vq2.items())
            + " (one training, one sample set: no interval).")


def rate_rows(m: Metrics) -> pd.DataFrame:
    """The contest at model.latent in bits and distortion (intervals over seeds), VQ-VAE-2 beside."""
    rd = m["rate_distortion"]
    how = {"ae": "none finite (continuous code)", "vae": "KL to the prior", "vqvae": "entropy of code use"}
    rows = []
    for name, scores in rd["contest"].items():
        rate = Estimate.from_dict(scores["rate_bits"]).text() if "rate_bits" in scores else ""
        fixed = m["sweep"][name][str(m.latent)].get("code_bits")
        rows.append({"model": label(name), "rate counted as": how[name], "bits per image": rate,
                     "fixed-length bits": f"{fixed:.0f}" if fixed else "",
                     "test MSE": Estimate.from_dict(scores["mse"]).text(),
                     "reconstruction NLL": Estimate.from_dict(scores["recon_nll"]).text()})
    vq2 = rd["vqvae2"]
    rows.append({"model": "VQ-VAE-2 (beside)", "rate counted as": "its priors' test NLL",
                 "bits per image": f"{vq2['prior_bits']:.4g}", "fixed-length bits": f"{vq2['fixed_bits']:.0f}",
                 "test MSE": f"{vq2['mse']:.4g}", "reconstruction NLL": f"{vq2['recon_nll']:.4g}"})
    return pd.DataFrame(rows)


CURVE_NAMES = {"vae_kl": "VAE (KL)", "vqvae_entropy": "VQ-VAE (entropy)", "vqvae_fixed": "VQ-VAE (fixed code)",
               "vqvae2_fixed": "VQ-VAE-2 (fixed code)", "vqvae2_prior": "VQ-VAE-2 (priors' NLL)"}


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


def orderings(m: Metrics) -> list[str]:
    """The orderings the study expects, each reported as found (on means; whether the intervals separate)."""
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
    locality = {k: m.estimate("traversal", k, "locality") for k in SWEEP_MODELS}
    if all(locality.values()):
        checks.append(("the seed's reading: VQ-VAE coordinates act more locally than AE's and VAE's (traversal)",
                       locality["vqvae"].mean > max(locality["ae"].mean, locality["vae"].mean),
                       ", ".join(f"{label(k)} {v.text()}" for k, v in locality.items())))
    return [f"- {'Holds' if holds else '**Does not hold**'}: {claim} ({numbers})." for claim, holds, numbers in checks]


def budget(m: Metrics) -> str:
    """What the compared models had, and how to read the intervals, from the metrics files."""
    seeds = list(m["reconstruct"]["ae"]["mse"]["per_seed"]) if "ae" in m["reconstruct"] else []
    epochs = sorted({s["epochs"] for by_latent in m["sweep"].values() for s in by_latent.values()})
    vq2 = m["rate_distortion"]["vqvae2"]
    return (f"AE, VAE and VQ-VAE share one trunk and one budget ({'/'.join(map(str, epochs))} epochs) and are trained "
            f"once per seed ({', '.join(seeds)}) at latent size {m.latent}; the latent sweep trains each size once, "
            f"with the first seed, so its run at size {m.latent} is the first replicate. Each number is the mean over "
            f"seeds with its 95% Student-t interval [low, high]; a winner is named only when its interval is clear of "
            f"every other model's. VQ-VAE-2 ({vq2['slots']} slots on two levels, {vq2['fixed_bits']:.0f} bits, its own "
            f"budget of {m['vqvae2']['epochs']} epochs) is trained once: its intervals are bootstrap intervals over the "
            f"test images (or pairs, or samples), which show how much the images move it, not the training; it stands "
            f"beside the contest, not in it. Every number is the final epoch's model on the test split; no test number "
            f"chose anything (the epoch of lowest validation loss is listed in the sweep table).")


def noise_note(m: Metrics) -> str:
    """Why VQ-VAE looks robust to noise on Z, measured: the share of slots that keep their code."""
    scale = m.noise_scale
    kept = m.estimate("noise", "vqvae", f"same_code_at_{scale}sd")
    to_image = {label(k): e.text() for k in SWEEP_MODELS if (e := m.estimate("noise", k, "mse_to_image_at_{scale}sd"))}
    if kept is None:
        return ""
    return (f"- **Why VQ-VAE shrugs off noise on Z**: its decoder only ever sees snapped codes, so noise smaller than "
            f"the gap to the next code is absorbed by construction, not learned: at {scale} sd, {kept.text()} of its "
            f"slots keep their code. Against the clean image rather than its own reconstruction, at {scale} sd: "
            + ", ".join(f"{k} {v}" for k, v in to_image.items()) + ".")


def markdown(m: Metrics) -> str:
    """The report: the contest first, then rate against distortion, the sweep, VQ-VAE-2 and generation."""
    sample = m["sample"]
    share = {kind: Estimate.from_dict(sample[kind]["label_share"]) for kind in sample}
    classifier = m["classifier"]["test"]["accuracy"]
    return "\n".join([
        f"### Who wins at latent size {m.latent} (AE, VAE and VQ-VAE over seeds; VQ-VAE-2 beside them)", "",
        budget(m), "",
        to_markdown(contest_rows(m)),
        generation_verdict(m),
        noise_note(m),
        f"- **Requested labels** (VQ-VAE-2, share of samples the classifier assigns to the requested label): "
        f"{share['conditional'].text()} at temperature {sample['conditional']['temperature']:g}, "
        f"{share['conditional_reference'].text()} at temperature {sample['conditional_reference']['temperature']:g} "
        f"(bootstrap over {sample['conditional']['samples']} and {sample['conditional_reference']['samples']} samples; "
        f"per label in metrics/sample.json).",
        *orderings(m), "",
        "### Rate against distortion", "",
        f"Bits per image each code spends at latent size {m.latent} (means and 95% intervals over seeds), and its "
        f"distortion on the test split:", "",
        to_markdown(rate_rows(m)),
        "At equal bits, who reconstructs best? Wherever two codes' rates overlap in the latent sweep, each one's test "
        "MSE at the same number of bits (linear in log2 bits between its neighbouring sizes; one seed):", "",
        to_markdown(equal_rate_rows(m)) if m["rate_distortion"]["equal_rate"] else "(no overlap of rates)\n",
        "### The latent sweep (one training per model and size; final epoch, test split)", "",
        to_markdown(sweep_rows(m)),
        "### VQ-VAE-2 per level, and its priors (test split)", "",
        to_markdown(level_rows(m)),
        f"### Generation (FID in the judge classifier's feature space against {m['generation']['reference']}, "
        f"test accuracy {classifier:.2%}; not Inception-FID; class entropy max log2(10) = 3.32 bits)", "",
        to_markdown(generation_rows(m)),
    ])


def number_table(m: Metrics) -> pd.DataFrame:
    """Every number of the report in one long table: section, model, latent, score, mean, low, high, interval."""
    rows = [{"section": "sweep", "model": name, "latent": int(latent), "score": score, "mean": value}
            for name, by_latent in m["sweep"].items() for latent, s in by_latent.items() for score, value in s.items()]
    for stage in ("reconstruct", "probe", "noise", "traversal", "interpolation"):
        for name in (*SWEEP_MODELS, "vqvae2"):
            for score, entry in m[stage].get(name, {}).items():
                e = Estimate.from_dict(entry)
                rows.append({"section": stage, "model": name, "latent": m.latent, "score": score, "mean": e.mean,
                             "low": e.low, "high": e.high, "interval": e.method})
    for sampler in [*SWEEP_SAMPLERS, *VQVAE2_SAMPLERS]:
        for score in ("fid", "class_entropy_bits"):
            if sampler in m["generation"]:
                e = Estimate.from_dict(m["generation"][sampler][score])
                rows.append({"section": "generation", "model": sampler, "score": score, "mean": e.mean, "low": e.low,
                             "high": e.high, "interval": e.method})
    return pd.DataFrame(rows)


def headline(m: Metrics) -> dict[str, float]:
    """The few numbers `dvc exp show` shows beside the params (README), rounded to 3 significant digits to
    fit a 120-column terminal: test MSE of each model at model.latent (means over seeds), and how well
    VQ-VAE-2 generates (FID, share of requested labels). metrics/*.json hold every digit."""
    numbers = {f"mse.{name}": m.estimate("reconstruct", name, "mse") for name in (*SWEEP_MODELS, "vqvae2")}
    numbers["fid.vqvae2"] = Estimate.from_dict(m["generation"]["vqvae2_prior"]["fid"])
    numbers["share.vqvae2"] = Estimate.from_dict(m["sample"]["conditional"]["label_share"])
    return {key: float(f"{e.mean:.3g}") for key, e in numbers.items() if e is not None}  # 3 digits: a table, not a record
