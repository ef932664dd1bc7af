"""The study's report: every number of every stage in one table, and who wins each test.

Reads only the metrics files the stages wrote, so it reports exactly what was measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentlab.io import read_json
from latentlab.tables import Row, markdown_table, read_csv

SWEEP_MODELS = ("ae", "vae", "vqvae")
LABELS = {"ae": "AE", "vae": "VAE", "vqvae": "VQ-VAE", "vqvae2": "VQ-VAE-2"}
ANCHORS = {"train_images": "training images (the near anchor)", "uniform_noise": "uniform pixel noise (the far anchor)"}
SAMPLERS = {  # sampler -> (model, how Z is drawn; {temperature} and {reference} from the sample stage)
    "ae_normal": ("ae", "Z ~ N(0, I) (naive)"),
    "ae_mixture": ("ae", "Gaussian mixture fit to training codes"),
    "vae_normal": ("vae", "Z ~ N(0, I) (its prior)"),
    "vqvae_uniform": ("vqvae", "uniform random codes (naive)"),
    "vqvae2_prior": ("vqvae2", "PixelCNN priors at temperature {temperature}, labels from the data"),
    "vqvae2_prior_reference": ("vqvae2", "PixelCNN priors at temperature {temperature}, labels evenly spread"),
}
SAMPLE_KINDS = {"vqvae2_prior": "unconditional", "vqvae2_prior_reference": "conditional_reference"}  # in sample.json
LEVELS = ("top", "bottom")
COLUMNS = ["model", "latent", "sampler", "epochs", "test_mse", "test_psnr", "test_ssim", "best_test_loss",
           "code_bits", "codebook_usage", "codebook_perplexity", "probe_logistic", "probe_knn",
           "traversal_change", "traversal_locality",
           "interpolation_end_class_share", "interpolation_smoothness", "interpolation_unsnapped_end_class_share",
           "interpolation_unsnapped_smoothness", "fid", "class_entropy_bits", "conditional_accuracy",
           "unconditional_accuracy", "reference_conditional_accuracy", "prior_bits_per_image",
           *[f"{level}_{key}" for level in LEVELS for key in ("code_bits", "codebook_usage", "codebook_perplexity",
                                                               "codebook_restarts", "prior_bits_per_code")]]


@dataclass
class Metrics:
    """Every stage's metrics, read from one folder."""

    sweep: list[dict[str, str]]
    stages: dict[str, Any]

    @classmethod
    def read(cls, folder: Path) -> Metrics:
        names = ["classifier", "vqvae2", "prior_top", "prior_bottom", "sample", "noise", "traversal",
                 "interpolation", "probe", "generation"]
        return cls(read_csv(folder / "sweep.csv"), {name: read_json(folder / f"{name}.json") for name in names})

    def __getitem__(self, name: str) -> Any:
        return self.stages[name]


def rows(m: Metrics) -> list[Row]:
    """One row per model and latent size, one for VQ-VAE-2, one per sampler and FID anchor."""
    latent = m["noise"]["latent"]
    at = COLUMNS.index("traversal_change")  # the noise curve's columns go before it, one per scale
    columns = COLUMNS[:at] + [f"noise_{key}" for key in m["noise"]["vqvae2"]] + COLUMNS[at:]

    def row(**values: Any) -> Row:
        return {column: values.get(column) for column in columns}

    table = []
    for run in m.sweep:
        name, size = run["model"], int(run["latent"])
        probe = m["probe"].get(name, {}).get(str(size), {})
        table.append(row(model=name, latent=size, **{key: _number(run[key]) for key in SWEEP_COLUMNS},
                         probe_logistic=probe.get("logistic"), probe_knn=probe.get("knn"),
                         **(_at_comparison_latent(m, name) if size == latent else {})))
    vq2, levels = m["vqvae2"], m["vqvae2"]["codebook"]
    per_level = {}
    for level in LEVELS:
        per_level.update({f"{level}_code_bits": levels[level]["bits"], f"{level}_codebook_usage": levels[level]["usage"],
                          f"{level}_codebook_perplexity": levels[level]["perplexity"],
                          f"{level}_codebook_restarts": levels[level]["restarts"],
                          f"{level}_prior_bits_per_code": m[f"prior_{level}"]["test"]["bits_per_code"]})
    table.append(row(
        model="vqvae2", latent=vq2["slots"], epochs=vq2["epochs"], test_mse=vq2["test"]["mse"],
        test_psnr=vq2["test"]["psnr"], test_ssim=vq2["test"]["ssim"], best_test_loss=vq2["test"]["best_loss"],
        code_bits=sum(levels[level]["bits"] for level in LEVELS),
        codebook_usage=min(levels[level]["usage"] for level in LEVELS),
        probe_logistic=m["probe"]["vqvae2"]["logistic"], probe_knn=m["probe"]["vqvae2"]["knn"],
        conditional_accuracy=m["sample"]["conditional"]["accuracy"],
        unconditional_accuracy=m["sample"]["unconditional"]["accuracy"],
        reference_conditional_accuracy=m["sample"]["conditional_reference"]["accuracy"],
        prior_bits_per_image=sum(m[f"prior_{level}"]["test"]["bits_per_image"] for level in LEVELS),
        **per_level, **_at_comparison_latent(m, "vqvae2")))
    for sampler, (model, _) in SAMPLERS.items():
        if sampler in m["generation"]:
            scores = m["generation"][sampler]
            table.append(row(model=model, latent=vq2["slots"] if model == "vqvae2" else latent, sampler=sampler,
                             fid=scores["fid"], class_entropy_bits=scores["classes"]["entropy_bits"]))
    for anchor, scores in m["generation"]["anchors"].items():
        table.append(row(model="(anchor)", sampler=anchor, fid=scores["fid"]))
    return table


SWEEP_COLUMNS = ("epochs", "test_mse", "test_psnr", "test_ssim", "best_test_loss", "code_bits", "codebook_usage",
                 "codebook_perplexity")


def _at_comparison_latent(m: Metrics, name: str) -> Row:
    """The evaluations that compare the models at model.latent."""
    out = {f"noise_{key}": value for key, value in m["noise"].get(name, {}).items()}
    if name in m["traversal"]:
        out.update(traversal_change=m["traversal"][name]["mean_change"],
                   traversal_locality=m["traversal"][name]["locality"])
    for path, prefix in ((name, "interpolation"), (f"{name} unsnapped", "interpolation_unsnapped")):
        if path in m["interpolation"]:
            out.update({f"{prefix}_end_class_share": m["interpolation"][path]["end_class_share"],
                        f"{prefix}_smoothness": m["interpolation"][path]["smoothness"]})
    return out


def _number(text: str) -> float | None:
    return float(text) if text not in ("", None) else None


# --- the markdown report ------------------------------------------------------------------


def compared(m: Metrics, table: list[Row]) -> list[Row]:
    """The model rows at model.latent, and VQ-VAE-2's."""
    latent = m["noise"]["latent"]
    return [r for r in table if r["sampler"] is None and (r["latent"] == latent or r["model"] == "vqvae2")]


def winners(m: Metrics) -> list[str]:
    """One sentence per test: which of AE, VAE, VQ-VAE wins it at model.latent, with VQ-VAE-2 beside them.

    VQ-VAE-2 has more code (both levels) and its own budget, so it is shown next to the winner, never
    crowned over models of another size.
    """
    at_latent = {r["model"]: r for r in compared(m, rows(m))}
    lines = []

    def best(title: str, column: str, lowest: bool) -> None:
        candidates = {k: r[column] for k, r in at_latent.items() if k in SWEEP_MODELS and r[column] is not None}
        if candidates:
            pick = (min if lowest else max)(candidates, key=candidates.get)
            others = ", ".join(f"{LABELS[k]} {v:.4g}" for k, v in candidates.items() if k != pick)
            beside = at_latent.get("vqvae2", {}).get(column)
            aside = f" VQ-VAE-2: {beside:.4g}." if beside is not None else ""
            lines.append(f"- **{title}**: {LABELS[pick]} ({column} {candidates[pick]:.4g}; {others}).{aside}")

    best("Reconstruction", "test_mse", lowest=True)
    best("Label kept in Z (linear probe)", "probe_logistic", lowest=False)
    best("Label kept in Z (k-NN)", "probe_knn", lowest=False)
    best("Robust to noise on Z (1 sd)", "noise_mse_at_1sd", lowest=True)
    best("Most local coordinates (traversal)", "traversal_locality", lowest=False)
    best("Interpolation stays on the two classes", "interpolation_end_class_share", lowest=False)
    best("Smoothest interpolation", "interpolation_smoothness", lowest=True)
    generation = {s: m["generation"][s]["fid"] for s in SAMPLERS if s in m["generation"]}
    if generation:
        pick = min(generation, key=generation.get)
        sample, reference = m["sample"]["conditional"], m["sample"]["conditional_reference"]
        lines.append(f"- **Generation**: {pick} (classifier-space FID {generation[pick]:.4g}). VQ-VAE-2 samples show "
                     f"the requested label {sample['accuracy']:.1%} of the time at temperature {sample['temperature']:g} "
                     f"({sample['samples']} samples; {reference['accuracy']:.1%} at temperature "
                     f"{reference['temperature']:g}, {reference['samples']} samples).")
    return lines + orderings(m)


def orderings(m: Metrics) -> list[str]:
    """The orderings the study expects, and the seed's reading of the traversal: each reported as found."""
    fid = {s: m["generation"][s]["fid"] for s in SAMPLERS if s in m["generation"]}
    anchors = {k: v["fid"] for k, v in m["generation"]["anchors"].items()}
    checks = []
    for sampler, kind in SAMPLE_KINDS.items():
        if {sampler, "vae_normal", "ae_normal"} <= set(fid):
            checks.append((f"FID: VQ-VAE-2 (temperature {m['sample'][kind]['temperature']:g}) < VAE < AE-naive",
                           fid[sampler] < fid["vae_normal"] < fid["ae_normal"],
                           f"{fid[sampler]:.4g}, {fid['vae_normal']:.4g}, {fid['ae_normal']:.4g}"))
    if {"ae_mixture", "ae_normal"} <= set(fid):
        checks.append(("FID: AE with a Gaussian mixture < AE-naive", fid["ae_mixture"] < fid["ae_normal"],
                       f"{fid['ae_mixture']:.4g} vs {fid['ae_normal']:.4g}"))
    if "ae_normal" in fid:
        checks.append(("anchor: FID(train images) < FID(AE-naive) / 10", anchors["train_images"] < fid["ae_normal"] / 10,
                       f"{anchors['train_images']:.4g} vs {fid['ae_normal']:.4g}"))
    largest = anchors["uniform_noise"] > max([*fid.values(), anchors["train_images"]])
    checks.append(("anchor: uniform noise has the largest FID", largest, f"{anchors['uniform_noise']:.4g}"))
    locality = {k: m["traversal"][k]["locality"] for k in SWEEP_MODELS if k in m["traversal"]}
    if set(locality) == set(SWEEP_MODELS):
        checks.append(("the seed's reading: VQ-VAE coordinates act more locally than AE's and VAE's (traversal)",
                       locality["vqvae"] > max(locality["ae"], locality["vae"]),
                       ", ".join(f"{LABELS[k]} {v:.4g}" for k, v in locality.items())))
    return [f"- {'Holds' if holds else '**Does not hold**'}: {claim} ({numbers})." for claim, holds, numbers in checks]


def budgets(m: Metrics, table: list[Row]) -> str:
    """What each compared model had: epochs and code size, from the metrics files."""
    latent = m["noise"]["latent"]
    at_latent = {r["model"]: r for r in compared(m, table)}
    sweep, vq2 = {k: r for k, r in at_latent.items() if k in SWEEP_MODELS}, at_latent["vqvae2"]
    epochs = sorted({int(r["epochs"]) for r in sweep.values()})
    vq_bits = f"; VQ-VAE's code is {sweep['vqvae']['code_bits']:.0f} bits" if "vqvae" in sweep else ""
    return (f"AE, VAE and VQ-VAE share one trunk and train {'/'.join(map(str, epochs))} epochs at latent size {latent}"
            f"{vq_bits}. VQ-VAE-2, beside them, has {vq2['latent']} slots on two levels ({vq2['code_bits']:.0f} bits) "
            f"and trains {int(vq2['epochs'])} epochs: its numbers are for reference, not a contest at equal size.")


def markdown(m: Metrics) -> str:
    """The report: winners first, then the tables."""
    table = rows(m)
    latent = m["noise"]["latent"]

    def temperature(sampler: str) -> str:
        return f"{m['sample'][SAMPLE_KINDS[sampler]]['temperature']:g}"

    def describe(sampler: str) -> str:
        if sampler in ANCHORS:
            return ANCHORS[sampler]
        return SAMPLERS[sampler][1].format(temperature=temperature(sampler)) if sampler in SAMPLE_KINDS else SAMPLERS[sampler][1]

    by_size = [{k: r[k] for k in ("model", "latent", "epochs", "test_mse", "test_psnr", "test_ssim", "best_test_loss",
                                  "code_bits", "codebook_usage", "codebook_perplexity", "probe_logistic", "probe_knn")}
               for r in table if r["sampler"] is None]
    vq2 = {r["model"]: r for r in compared(m, table)}["vqvae2"]
    levels = [{"level": level, **{key: vq2[f"{level}_{key}"] for key in (
        "code_bits", "codebook_usage", "codebook_perplexity", "codebook_restarts", "prior_bits_per_code")}}
        for level in LEVELS]
    evaluations = [{k: v for k, v in r.items() if k == "model" or k.startswith(("noise_", "traversal_", "interpolation_"))}
                   for r in compared(m, table)]
    samplers = [{"sampler": r["sampler"], "model": r["model"],
                 "Z drawn from": describe(r["sampler"]),
                 "fid": r["fid"], "class_entropy_bits": r["class_entropy_bits"]}
                for r in table if r["sampler"] is not None]
    classifier = m["classifier"]["test"]["accuracy"]
    sample = m["sample"]
    return "\n".join([
        f"### Who wins (AE, VAE and VQ-VAE at latent size {latent}; VQ-VAE-2 beside them)", "",
        budgets(m, table), "", *winners(m), "",
        f"### Reconstruction and label information per latent size (VQ-VAE-2: {m['vqvae2']['slots']} slots)", "",
        markdown_table(by_size),
        "### VQ-VAE-2 per level, and its priors (test bits per code)", "",
        markdown_table(levels),
        f"Samples showing the requested label: {sample['conditional']['accuracy']:.1%} conditional and "
        f"{sample['unconditional']['accuracy']:.1%} unconditional at temperature {temperature('vqvae2_prior')}, "
        f"{sample['conditional_reference']['accuracy']:.1%} conditional at temperature "
        f"{temperature('vqvae2_prior_reference')} "
        f"(per label in metrics/sample.json).", "",
        f"### Noise, traversal and interpolation at latent size {latent}", "",
        markdown_table(evaluations),
        f"### Generation ({m['generation']['reference']} as reference; FID in the judge classifier's feature "
        f"space, test accuracy {classifier:.2%}, not Inception-FID; class entropy max log2(10) = 3.32 bits)", "",
        markdown_table(samplers),
    ])
