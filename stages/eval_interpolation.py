"""Stage `eval_interpolation`: decode the straight line between the codes of two test images of
different classes, for interpolation.pairs pairs; VQ models both snapped and unsnapped."""

import argparse
from pathlib import Path

from latentlab.checkpoint import load_model
from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_split
from latentlab.errors import ConfigError
from latentlab.evaluate.contest import contest_models, score_contest, summarize_once, summarize_seeds
from latentlab.evaluate.interpolation import interpolate, pair_scores
from latentlab.figures import image_grid, save_figure
from latentlab.io import write_json
from latentlab.names import label
from latentlab.runtime import setup

SNAPS = {"": True, " unsnapped": False}  # VQ models: decode the snapped points, and the points themselves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--replicates", type=Path, required=True, help="folder of the checkpoints at model.latent")
    parser.add_argument("--vqvae2", type=Path, required=True)
    parser.add_argument("--classifier", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--figure", type=Path, required=True, help="PNG: the first pair through every model")
    args = parser.parse_args()
    cfg = load_config()
    p = cfg.interpolation
    device = setup(cfg.base)
    test = load_split(args.data, "test")
    ends = [(test.labels == c).nonzero()[:, 0][: p.pairs] for c in p.classes]
    pairs = min(map(len, ends))
    if pairs == 0:
        raise ConfigError(f"interpolation.classes: the test split holds no image of one of {list(p.classes)}")
    starts, stops = (test.float_images(index[:pairs], device) for index in ends)
    classifier = load_model(args.classifier, device)

    def frames(model, snap=True):
        return [interpolate(model, a, b, p.steps, snap=snap) for a, b in zip(starts, stops, strict=True)]

    def scores(model):
        return {f"{score}{suffix}": values for suffix, snap in SNAPS.items() if snap or model.snaps
                for score, values in pair_scores(frames(model, snap), classifier, p.classes, device).items()}

    contest, vqvae2 = contest_models(args.replicates, cfg, device), load_model(args.vqvae2, device)
    metrics = {"latent": cfg.model.latent, "classes": list(p.classes), "pairs": pairs,
               **summarize_seeds(score_contest(contest, scores)), "vqvae2": summarize_once(vqvae2, scores)}
    shown = {name: by_seed[cfg.sweep.seeds[0]] for name, by_seed in contest.items()} | {"vqvae2": vqvae2}
    rows = {f"{label(name)}{suffix}": interpolate(model, starts[0], stops[0], p.steps, snap)
            for name, model in shown.items() for suffix, snap in SNAPS.items() if snap or model.snaps}
    write_json(args.metrics, metrics)
    save_figure(image_grid(list(rows.values()), row_labels=list(rows), column_title="position on the line from z_a to z_b",
                           column_labels=[f"{i / (p.steps - 1):.2g}" for i in range(p.steps)],
                           title=f"From a {p.classes[0]} to a {p.classes[1]}: Z interpolated linearly, then decoded"),
                args.figure)


if __name__ == "__main__":
    run(main)
