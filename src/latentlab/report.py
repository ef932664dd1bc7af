"""The study's report: every number of every stage in one table, and who wins each test.

Reads only the metrics files the stages wrote, so it reports exactly what was measured. At
model.latent the contest's models (AE, VAE, VQ-VAE, FSQ) are compared over seeds, pair by pair: the
Welch difference of their seed means with its 95% interval, Holm-adjusted across the pairs of a test.
Each test orders the models ("AE < VQ-VAE ≈ VAE") and names a winner only when it is better than every
other model pairwise. VQ-VAE-2 (more code, its own budget, one training) is shown beside them with
bootstrap intervals over test images, never crowned over them.
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
from latentlab.report_sections import (
    SWEEP_SAMPLERS,
    VQVAE2_SAMPLERS,
    codebook_rows,
    equal_rate_rows,
    generation_rows,
    generation_verdict,
    level_rows,
    nll_text,
    orderings,
    rate_rows,
    sweep_rows,
)
from latentlab.stats import Estimate, Ranking, ranking
from latentlab.tables import to_markdown

CONTEST_MODELS = ("ae", "vae", "vqvae", "fsq")  # in the order of the tables; those measured are shown
STAGES = ("classifier", "sweep", "reconstruct", "vqvae2", "codes", "prior_top", "prior_bottom", "sample", "noise",
          "traversal", "interpolation", "probe", "generation", "rate_distortion", "codebooks", "vae_nll")
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
    def contest(self) -> list[str]:
        return [name for name in CONTEST_MODELS if name in self["reconstruct"]]

    @property
    def noise_scale(self) -> str:
        """The noise scale the contest quotes: 1 sd when measured, else the largest."""
        scales = [k.removeprefix("mse_to_recon_at_").removesuffix("sd") for k in self["noise"]["vqvae2"]
                  if k.startswith("mse_to_recon_at_")]
        return "1" if "1" in scales else max(scales, key=float)

    def entry(self, stage: str, model: str, score: str) -> dict | None:
        return self[stage].get(model, {}).get(score.format(scale=self.noise_scale))

    def estimate(self, stage: str, model: str, score: str) -> Estimate | None:
        entry = self.entry(stage, model, score)
        return Estimate.from_dict(entry) if entry else None

    def ranking(self, stage: str, score: str, lower: bool) -> Ranking | None:
        """The contest's models on one score, pair by pair over their seeds (None: fewer than two measured)."""
        per_seed = {name: list(e["per_seed"].values()) for name in self.contest if (e := self.entry(stage, name, score))}
        return ranking(per_seed, lower) if len(per_seed) > 1 else None


def contest_rows(m: Metrics) -> pd.DataFrame:
    """One row per test at model.latent: each model's estimate, the pairwise order and winner, VQ-VAE-2 beside."""
    rows = []
    for test, stage, score, lower in CONTEST:
        estimates = {name: e for name in m.contest if (e := m.estimate(stage, name, score))}
        row = {"test": test.format(scale=m.noise_scale), "better": "lower" if lower else "higher"}
        row.update({label(name): e.text() for name, e in estimates.items()})
        r = m.ranking(stage, score, lower)
        row["order (pairwise)"] = r.text(label) if r else ""
        row["winner"] = _winner_text(r) if r else ""
        beside = m.estimate(stage, "vqvae2", score)
        row["VQ-VAE-2 (beside)"] = beside.text() if beside else ""
        rows.append(row)
    return pd.DataFrame(rows)


def _winner_text(r: Ranking) -> str:
    return {"clear": f"**{label(r.winner or '')}**", "no clear winner": "none",
            "one seed": "one seed: no verdict", "alone": ""}[r.reason]


def pairwise_rows(m: Metrics, separated_only: bool = True) -> pd.DataFrame:
    """The pairs behind the orders: test, better and worse model, difference with its interval, Holm's p."""
    rows = []
    for test, stage, score, lower in CONTEST:
        r = m.ranking(stage, score, lower)
        for pair in r.pairs if r else []:
            if separated_only and pair.better is None:
                continue
            worse = pair.b if pair.better == pair.a else pair.a
            d = pair.difference
            sign = 1 if pair.better in (None, pair.a) else -1  # shown as better - worse
            rows.append({"test": test.format(scale=m.noise_scale),
                         "better": label(pair.better or pair.a), "worse": label(worse),
                         "difference (better - worse)": _signed(d, sign),
                         "Holm-adjusted p": f"{pair.p_holm:.2g}" if pair.p_holm is not None else ""})
    return pd.DataFrame(rows)


def _signed(d, sign: int) -> str:
    if d.low is None:
        return f"{sign * d.mean:+.3g}"
    low, high = sorted((sign * d.low, sign * d.high))
    return f"{sign * d.mean:+.3g} [{low:+.3g}, {high:+.3g}]"


def budget(m: Metrics) -> str:
    """What the compared models had, and how to read the intervals and verdicts, from the metrics files."""
    first = m.contest[0]
    seeds = list(m["reconstruct"][first]["mse"]["per_seed"])
    epochs = sorted({s["epochs"] for by_latent in m["sweep"].values() for s in by_latent.values()})
    vq2 = m["rate_distortion"]["vqvae2"]
    names = ", ".join(label(name) for name in m.contest)
    return (f"{names} share one trunk and one budget ({'/'.join(map(str, epochs))} epochs) and are trained once per "
            f"seed ({', '.join(seeds)}) at latent size {m.latent}; the latent sweep trains each size once, with the "
            f"first seed, so its run at size {m.latent} is the first replicate. Each number is the mean over seeds "
            f"with its 95% Student-t interval [low, high]. Each pair of models is compared by the difference of their "
            f"seed means (Welch's t, 95%), its p-value Holm-adjusted across the pairs of the test: the order lists "
            f"the better first and puts '<' (lower is better) or '>' (higher is better) between neighbours that "
            f"differ beyond chance, '≈' where they do not, and a winner is named only when it is better than every "
            f"other model pairwise. VQ-VAE-2 ({vq2['slots']} slots on two levels, "
            f"{vq2['fixed_bits']:.0f} bits, its own budget of {m['vqvae2']['epochs']} epochs) is trained once: its "
            f"intervals are bootstrap intervals over the test images (or pairs, or samples), which show how much the "
            f"images move it, not the training; it stands beside the contest, not in it. Every number is the final "
            f"epoch's model on the test split; no test number chose anything (the epoch of lowest validation loss is "
            f"listed in the sweep table).")


def noise_note(m: Metrics) -> str:
    """Why the quantized models look robust to noise on Z, measured: the share of slots that keep their code."""
    scale = m.noise_scale
    kept = {label(k): e.text() for k in ("vqvae", "fsq") if (e := m.estimate("noise", k, f"same_code_at_{scale}sd"))}
    to_image = {label(k): e.text() for k in m.contest if (e := m.estimate("noise", k, "mse_to_image_at_{scale}sd"))}
    if not kept:
        return ""
    return (f"- **Why VQ-VAE and FSQ shrug off noise on Z**: their decoders only ever see snapped codes (VQ-VAE: the "
            f"nearest codebook vector; FSQ: each coordinate rounded to its grid), so noise smaller than the gap to the "
            f"next code is absorbed by construction, not learned. At {scale} sd the share of slots that keep their "
            f"code: " + ", ".join(f"{k} {v}" for k, v in kept.items()) + ". Against the clean image rather than "
            f"the model's own reconstruction, at {scale} sd: " + ", ".join(f"{k} {v}" for k, v in to_image.items()) + ".")


def labels_note(m: Metrics) -> str:
    sample = m["sample"]
    share = {kind: Estimate.from_dict(sample[kind]["label_share"]) for kind in ("conditional", "conditional_reference")}
    return (f"- **Requested labels** (VQ-VAE-2, share of samples the classifier assigns to the requested label): "
            f"{share['conditional'].text()} at temperature {sample['conditional']['temperature']:g}, "
            f"{share['conditional_reference'].text()} at temperature {sample['conditional_reference']['temperature']:g} "
            f"(bootstrap over {sample['conditional']['samples']} and {sample['conditional_reference']['samples']} "
            f"samples; per label in metrics/sample.json).")


def markdown(m: Metrics) -> str:
    """The report: the contest first, then rate against distortion, codebooks, the VAE's likelihood, the
    sweep, VQ-VAE-2 and generation."""
    classifier = m["classifier"]["test"]["accuracy"]
    names = ", ".join(label(name) for name in m.contest)
    pairs = pairwise_rows(m)
    return "\n".join([
        f"### Who wins at latent size {m.latent} ({names} over seeds; VQ-VAE-2 beside them)", "",
        budget(m), "",
        to_markdown(contest_rows(m)),
        generation_verdict(m),
        noise_note(m),
        labels_note(m),
        *orderings(m), "",
        "The pairs that differ beyond chance (Holm-adjusted p < 0.05), behind each '<' above; every pair, separated "
        "or not, is in metrics/report.csv (section `pairwise`):", "",
        to_markdown(pairs) if len(pairs) else "(none)\n",
        "### Rate against distortion", "",
        f"Bits per image each code spends at latent size {m.latent} (means and 95% intervals over seeds), and its "
        f"distortion on the test split:", "",
        to_markdown(rate_rows(m)),
        "At equal bits, who reconstructs best? Wherever two codes' rates overlap in the latent sweep, each one's test "
        "MSE at the same number of bits (linear in log2 bits between its neighbouring sizes; one seed):", "",
        to_markdown(equal_rate_rows(m)) if m["rate_distortion"]["equal_rate"] else "(no overlap of rates)\n",
        f"### Where VQ loses its codes (latent size {m.latent}, one seed, the sweep's budget)", "",
        to_markdown(codebook_rows(m)),
        "### The VAE's likelihood, as the VAE papers measure it", "",
        nll_text(m),
        "### The latent sweep (one training per model and size; final epoch, test split)", "",
        to_markdown(sweep_rows(m)),
        "### VQ-VAE-2 per level, and its priors (test split)", "",
        to_markdown(level_rows(m)),
        f"### Generation (FID in the judge classifier's feature space against {m['generation']['reference']}, "
        f"test accuracy {classifier:.2%}; not Inception-FID; class entropy max log2(10) = 3.32 bits)", "",
        to_markdown(generation_rows(m)),
    ])


def number_table(m: Metrics) -> pd.DataFrame:
    """Every number of the report in one long table: section, model, latent, score, mean, low, high, interval
    (and p, p_holm for the pairwise differences)."""
    rows = [{"section": "sweep", "model": name, "latent": int(latent), "score": score, "mean": value}
            for name, by_latent in m["sweep"].items() for latent, s in by_latent.items() for score, value in s.items()]
    for stage in ("reconstruct", "probe", "noise", "traversal", "interpolation"):
        for name in (*m.contest, "vqvae2"):
            for score, entry in m[stage].get(name, {}).items():
                e = Estimate.from_dict(entry)
                rows.append({"section": stage, "model": name, "latent": m.latent, "score": score, "mean": e.mean,
                             "low": e.low, "high": e.high, "interval": e.method})
    for _, stage, score, lower in CONTEST:
        r = m.ranking(stage, score, lower)
        for pair in r.pairs if r else []:
            d = pair.difference
            rows.append({"section": "pairwise", "model": f"{pair.a} - {pair.b}", "latent": m.latent,
                         "score": f"{stage}.{score.format(scale=m.noise_scale)}", "mean": d.mean, "low": d.low,
                         "high": d.high, "interval": "welch", "p": d.p, "p_holm": pair.p_holm})
    for sampler in [*SWEEP_SAMPLERS, *VQVAE2_SAMPLERS]:
        for score in ("fid", "class_entropy_bits"):
            if sampler in m["generation"]:
                e = Estimate.from_dict(m["generation"][sampler][score])
                rows.append({"section": "generation", "model": sampler, "score": score, "mean": e.mean, "low": e.low,
                             "high": e.high, "interval": e.method})
    for variant, by_codes in m["codebooks"].items():
        for codes, scores in by_codes.items():
            rows += [{"section": "codebooks", "model": f"{variant}-{codes}", "latent": m.latent, "score": score,
                      "mean": value} for score, value in scores.items()]
    if m["vae_nll"].get("nll") is not None:
        for score in ("nll", "negative_elbo"):
            e = Estimate.from_dict(m["vae_nll"][score])
            rows.append({"section": "vae_nll", "model": "vae_binarized", "latent": m["vae_nll"]["latent"],
                         "score": score, "mean": e.mean, "low": e.low, "high": e.high, "interval": e.method})
    return pd.DataFrame(rows)


def headline(m: Metrics) -> dict[str, float]:
    """The few numbers `dvc exp show` shows beside the params (README), rounded to 3 significant digits to
    fit a 120-column terminal: test MSE of each model at model.latent (means over seeds), and how well
    VQ-VAE-2 generates (FID, share of requested labels). metrics/*.json hold every digit."""
    numbers = {f"mse.{name}": m.estimate("reconstruct", name, "mse") for name in (*m.contest, "vqvae2")}
    numbers["fid.vqvae2"] = Estimate.from_dict(m["generation"]["vqvae2_prior"]["fid"])
    numbers["share.vqvae2"] = Estimate.from_dict(m["sample"]["conditional"]["label_share"])
    return {key: float(f"{e.mean:.3g}") for key, e in numbers.items() if e is not None}  # 3 digits: a table, not a record
