"""The report on made-up metrics files of the structure the stages write: intervals, verdicts, orderings."""

from __future__ import annotations

import copy
import json
import subprocess

import pytest

from conftest import ROOT
from latentlab.io import write_json
from latentlab.readme import report_block
from latentlab.report import STAGES, Metrics, contest_rows, headline, markdown, number_table, pairwise_rows
from latentlab.report_sections import generation_verdict, orderings
from latentlab.stats import over_seeds, seed_summary

SEEDS = (0, 1, 2)
CONTEST = ("ae", "vae", "vqvae", "fsq")


def over(mean: float, spread: float) -> dict:
    """What a stage stores for a number measured on three seeds: mean - spread, mean, mean + spread."""
    return seed_summary(dict(zip(SEEDS, (mean - spread, mean, mean + spread), strict=True)))


def boot(mean: float) -> dict:
    """What a stage stores for VQ-VAE-2 (one training): a bootstrap interval over the test images."""
    return {"mean": mean, "low": mean * 0.9, "high": mean * 1.1, "bootstrap": 1000}


def per_model(scores: dict[str, tuple[float, float, float, float]], spread: float, vqvae2: bool = True) -> dict:
    """{model: {score: over(mean, spread)}} for AE, VAE, VQ-VAE, FSQ (means in that order), and VQ-VAE-2 beside
    (with VQ-VAE's mean)."""
    out = {name: {score: over(means[i], spread) for score, means in scores.items()} for i, name in enumerate(CONTEST)}
    if vqvae2:
        out["vqvae2"] = {score: boot(means[2]) for score, means in scores.items()}
    return out


def made_up() -> dict:
    """Every stage's metrics at latent 16: AE reconstructs clearly best, the probes overlap, VQ-VAE-2 samples best."""
    sweep = {name: {latent: {"epochs": 3, "best_validation_epoch": 3, "recon_nll": 80.0, "mse": 0.02, "psnr": 17.0,
                             "ssim": 0.8, **({"kl_bits": 20.0} if name == "vae" else {}),
                             **({"code_bits": 144.0, "code_entropy_bits": 60.0, "codebook_usage": 0.5}
                                if name in ("vqvae", "fsq") else {})}
                    for latent in ("4", "16")} for name in CONTEST}
    noise = {f"mse_to_{target}_at_{scale}sd": (0.01 * (1 + float(scale)), 0.02, 0.005, 0.006)
             for target in ("recon", "image") for scale in ("0", "0.5", "1")}
    same_code = {f"same_code_at_{scale}sd": 1.0 - float(scale) / 2 for scale in ("0", "0.5", "1")}
    fids = {"ae_normal": 40.0, "ae_mixture": 10.0, "vae_normal": 20.0, "vqvae_uniform": 60.0, "fsq_uniform": 70.0}
    kinds = {"conditional": 0.7, "unconditional": 0.7, "conditional_reference": 1.0}
    return {
        "classifier": {"epochs": 3, "best_validation_epoch": 3, "test": {"loss": 0.03, "nll": 0.03, "accuracy": 0.99}},
        "sweep": sweep,
        "reconstruct": {"latent": 16, "seeds": 3, **per_model(
            {"mse": (0.010, 0.020, 0.030, 0.025), "psnr": (20.0, 17.0, 15.0, 16.0), "ssim": (0.90, 0.80, 0.70, 0.75),
             "recon_nll": (70.0, 80.0, 90.0, 85.0)}, spread=0.001)},
        "vqvae2": {"slots": 80, "epochs": 2, "best_validation_epoch": 2, "test": {"mse": 0.005, "recon_nll": 60.0}},
        "codes": {level: {"usage": 0.9, "perplexity": 100.0, "restarts": 3, "bits": bits, "entropy_bits": bits / 2}
                  for level, bits in (("top", 144.0), ("bottom", 384.0))},
        "prior_top": {"epochs": 4, "test": {"nll": 3.0, "bits_per_code": 4.3, "bits_per_image": 69.0}},
        "prior_bottom": {"epochs": 3, "test": {"nll": 2.0, "bits_per_code": 2.9, "bits_per_image": 185.0}},
        "sample": {kind: {"samples": 100, "temperature": t, "label_share": boot(0.9)} for kind, t in kinds.items()},
        "noise": {"latent": 16, "images": 100, **per_model(noise, spread=0.0001),
                  **{name: {**per_model(noise, 0.0001)[name], **{k: over(v, 0.01) for k, v in same_code.items()}}
                     for name in ("vqvae", "fsq")}},
        "traversal": {"latent": 16, "score_images": 50,
                      **per_model({"mean_change": (0.05, 0.05, 0.05, 0.05), "locality": (0.3, 0.4, 0.6, 0.5)}, 0.01,
                                  vqvae2=False)},
        "interpolation": {"latent": 16, "classes": [2, 7], "pairs": 100, **per_model(
            {"end_class_share": (0.6, 0.8, 0.7, 0.65), "smoothness": (0.02, 0.01, 0.03, 0.025)}, spread=0.001)},
        "probe": {"train_images": 1000, "latent": 16,
                  "sweep": {name: {"16": {"logistic": 0.9, "knn": 0.9}} for name in CONTEST},
                  **per_model({"logistic": (0.85, 0.86, 0.84, 0.85), "knn": (0.90, 0.91, 0.89, 0.90)}, spread=0.02)},
        "generation": {"latent": 16, "samples": 100, "reference": "100 test images",
                       **{name: {"fid": over(fid, 1.0), "class_entropy_bits": over(3.2, 0.01)} for name, fid in fids.items()},
                       "vqvae2_prior": {"fid": {"mean": 5.0}, "class_entropy_bits": {"mean": 3.3}, "temperature": 0.7},
                       "vqvae2_prior_reference": {"fid": {"mean": 8.0}, "class_entropy_bits": {"mean": 3.3},
                                                  "temperature": 1.0},
                       "anchors": {"train_images": {"fid": 0.5}, "uniform_noise": {"fid": 900.0}}},
        "rate_distortion": {
            "latent": 16,
            "contest": {"ae": {"mse": over(0.01, 0.001), "recon_nll": over(70.0, 1.0)},
                        "vae": {"rate_bits": over(20.0, 1.0), "mse": over(0.02, 0.001), "recon_nll": over(80.0, 1.0)},
                        "vqvae": {"rate_bits": over(60.0, 2.0), "mse": over(0.03, 0.001), "recon_nll": over(90.0, 1.0)},
                        "fsq": {"rate_bits": over(70.0, 2.0), "mse": over(0.025, 0.001), "recon_nll": over(85.0, 1.0)}},
            "vqvae2": {"slots": 80, "fixed_bits": 528.0, "prior_bits": 254.0, "mse": 0.005, "recon_nll": 60.0},
            "equal_rate": {"vqvae_fixed": {"4": {"rate_bits": 36.0, "vae_kl": 0.018, "vqvae_fixed": 0.03,
                                                 "best": "vae_kl"}},
                           "vae_kl": {"4": {"rate_bits": 8.0, "vae_kl": 0.05}}},
        },
        "codebooks": {variant: {str(codes): {"codebook_usage": usage, "codebook_perplexity": codes * usage / 2,
                                             "mse": 0.02, "code_bits": 16.0 * codes.bit_length(),
                                             "code_entropy_bits": 50.0, "restarts": 0, "latent": 16, "seed": 0}
                                for codes in (64, 512)}
                      for variant, usage in (("vqvae", 0.9), ("vqvae-no-restarts", 0.4), ("fsq", 1.0))},
        "vae_nll": {"latent": 16, "seed": 0, "images": 100, "importance_samples": 1000, "nll": boot(95.0),
                    "negative_elbo": boot(99.0), "setup": {"data": "binarized", "bound": "IWAE",
                                                           "published": "86.76 nats", "differs_by": "budget"}},
    }


@pytest.fixture
def m() -> Metrics:
    return Metrics(made_up())


def row(m: Metrics, test: str) -> dict:
    rows = contest_rows(m)
    return rows[rows["test"] == test].iloc[0].to_dict()


def test_metrics_are_read_from_one_file_per_stage(tmp_path):
    for stage, values in made_up().items():
        write_json(tmp_path / f"{stage}.json", values)
    m = Metrics.read(tmp_path)
    assert set(m.stages) == set(STAGES) and m.latent == 16
    assert m.estimate("reconstruct", "ae", "mse").n == 3 and m.estimate("reconstruct", "gan", "mse") is None


def test_a_clear_winner_is_named_in_bold(m):
    mse = row(m, "test MSE")
    assert mse["winner"] == "**AE**" and mse["better"] == "lower"
    assert mse["order (pairwise)"] == "AE < VAE < FSQ < VQ-VAE"
    assert row(m, "PSNR (dB)")["winner"] == "**AE**" and row(m, "SSIM")["better"] == "higher"
    assert row(m, "PSNR (dB)")["order (pairwise)"] == "AE > VAE > FSQ > VQ-VAE"
    e = over_seeds([0.009, 0.010, 0.011])
    assert mse["AE"] == f"0.01 [{e.low:.4g}, {e.high:.4g}]"  # mean [low, high] over seeds
    assert mse["VQ-VAE-2 (beside)"] == "0.03 [0.027, 0.033]"


def test_close_models_name_no_winner(m):
    probe = row(m, "label in Z: linear probe accuracy")
    assert probe["winner"] == "none" and "<" not in probe["order (pairwise)"] and ">" not in probe["order (pairwise)"]


def test_higher_is_better_crowns_the_highest(m):
    assert row(m, "interpolation: frames on the two classes")["winner"] == "**VAE**"
    assert row(m, "traversal: locality of a coordinate")["winner"] == "**VQ-VAE**"
    assert row(m, "traversal: locality of a coordinate")["VQ-VAE-2 (beside)"] == ""  # not measured for VQ-VAE-2


def test_one_seed_gives_no_verdict():
    one = made_up()
    for name in CONTEST:
        for score, entry in one["reconstruct"][name].items():
            one["reconstruct"][name][score] = seed_summary({0: entry["mean"]})
    mse = row(Metrics(one), "test MSE")
    assert mse["winner"] == "one seed: no verdict" and mse["AE"] == "0.01"


def test_the_pairs_behind_the_orders(m):
    pairs = pairwise_rows(m)
    mse = pairs[pairs["test"] == "test MSE"]
    assert len(mse) == 6 and set(mse["better"]) == {"AE", "VAE", "FSQ"}  # every pair separated, AE in three
    ae_vae = mse[(mse["better"] == "AE") & (mse["worse"] == "VAE")].iloc[0]
    assert ae_vae["difference (better - worse)"].startswith("-0.01 [")  # lower is better: better - worse < 0
    assert pairwise_rows(m)["test"].str.startswith("label in Z").sum() == 0  # the probes: nothing separated
    assert len(pairwise_rows(m, separated_only=False)) == 6 * 11


def test_noise_is_quoted_at_one_sd(m):
    assert row(m, "noise on Z: MSE to own reconstruction")["AE"].startswith("0.02 [")  # at 0.5 sd: 0.015
    assert row(m, "noise on Z: MSE to the clean image")["VQ-VAE-2 (beside)"] == "0.005 [0.0045, 0.0055]"
    assert m.noise_scale == "1"
    without_one = made_up()
    for name, scores in without_one["noise"].items():
        if isinstance(scores, dict):
            without_one["noise"][name] = {k: v for k, v in scores.items() if "_at_1sd" not in k}
    assert Metrics(without_one).noise_scale == "0.5"


def test_orderings_report_what_holds(m):
    lines = orderings(m)
    assert "- Holds: FID: VQ-VAE-2 (temperature 0.7) < VAE < AE-naive (5, 20 [17.52, 22.48], 40 [37.52, 42.48])." in lines
    assert any(line.startswith("- Holds: FID: AE with a Gaussian mixture < AE-naive") for line in lines)
    assert any(line.startswith("- Holds: anchor: uniform noise has the largest FID") for line in lines)
    assert any(line.startswith("- Holds: the seed's reading") for line in lines)


def test_a_broken_ordering_is_reported_as_broken(m):
    broken = copy.deepcopy(m.stages)
    broken["generation"]["vae_normal"]["fid"] = over(50.0, 1.0)  # VAE samples now worse than AE-naive
    broken["traversal"]["ae"]["locality"] = over(0.9, 0.01)  # AE coordinates now the most local
    broken["generation"]["anchors"]["uniform_noise"]["fid"] = 30.0  # below AE-naive
    lines = orderings(Metrics(broken))
    for claim in ("FID: VQ-VAE-2 (temperature 0.7) < VAE < AE-naive", "FID: VQ-VAE-2 (temperature 1) < VAE < AE-naive",
                  "anchor: uniform noise has the largest FID", "the seed's reading"):
        assert any(line.startswith(f"- **Does not hold**: {claim}") for line in lines), claim
    assert any(line.startswith("- Holds: FID: AE with a Gaussian mixture < AE-naive") for line in lines)


def test_generation_verdict_names_a_clear_sampler_or_none(m):
    text = generation_verdict(m)
    assert "ae_mixture < vae_normal < ae_normal < vqvae_uniform < fsq_uniform" in text
    assert "**ae_mixture** (lower than every other sampler, pairwise)" in text
    close = copy.deepcopy(m.stages)
    close["generation"]["vae_normal"]["fid"] = over(11.0, 1.0)
    text = generation_verdict(Metrics(close))
    assert "ae_mixture ≈ vae_normal" in text and "no sampler lower than every other" in text
    assert "5 at temperature 0.7, 8 at temperature 1" in text


def test_the_markdown_report_has_every_section(m):
    text = markdown(m)
    for heading in ("### Who wins at latent size 16", "### Rate against distortion", "### Where VQ loses its codes",
                    "### The VAE's likelihood", "### The latent sweep", "### VQ-VAE-2 per level, and its priors",
                    "### Generation"):
        assert heading in text
    assert "trained once per seed (0, 1, 2) at latent size 16" in text and "**AE**" in text
    assert "- **Why VQ-VAE and FSQ shrug off noise on Z**" in text
    kept = over_seeds([0.49, 0.5, 0.51])
    assert f"VQ-VAE 0.5 [{kept.low:.4g}, {kept.high:.4g}], FSQ 0.5" in text
    assert "test NLL **95 [85.5, 104.5] nats** by the importance-sampled bound with k = 1000" in text


def test_the_number_table_keeps_each_interval_and_its_kind(m):
    table = number_table(m)
    mse = table[(table["section"] == "reconstruct") & (table["score"] == "mse")].set_index("model")
    assert mse.loc["ae", "interval"] == "seeds" and mse.loc["vqvae2", "interval"] == "bootstrap"
    assert mse.loc["ae", "low"] == pytest.approx(over_seeds([0.009, 0.010, 0.011]).low)
    assert mse.loc["vqvae2", "high"] == pytest.approx(0.033)


def test_the_headline_has_at_most_twenty_numbers(m):
    numbers = headline(m)
    assert len(numbers) <= 20
    assert set(numbers) == {"mse.ae", "mse.vae", "mse.vqvae", "mse.fsq", "mse.vqvae2", "fid.vqvae2", "share.vqvae2"}
    assert numbers["mse.ae"] == 0.01 and numbers["fid.vqvae2"] == 5.0


def test_readme_shows_the_report_of_the_committed_metrics():
    """README.md carries the report that this code generates from the metrics committed with it (read
    from git, so a fresh `dvc repro` whose floats differ in the last digits does not matter here)."""
    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)

    if git("rev-parse", "HEAD").returncode != 0:
        pytest.skip("not a git checkout: the committed metrics cannot be read")

    def committed(path: str) -> str:
        done = git("show", f"HEAD:{path}")
        assert done.returncode == 0, f"{path} is not committed: {done.stderr.strip()}"
        return done.stdout

    metrics = Metrics({name: json.loads(committed(f"metrics/{name}.json")) for name in STAGES})
    assert report_block(committed("README.md")) == markdown(metrics).strip("\n")
