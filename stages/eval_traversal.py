"""Stage `eval_traversal`: move each coordinate of Z around a test image's code; does it act locally?

Scored per model and seed over the first traversal.score_images test images; the figures show one
image (the first test image of traversal.digit) through each model of the first seed.
"""

import argparse
from pathlib import Path

import pandas as pd

from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_split
from latentlab.errors import ConfigError
from latentlab.evaluate.contest import contest_models, encode_all, score_contest, summarize_seeds
from latentlab.evaluate.traversal import coordinate_scores, directions, offsets, traverse
from latentlab.figures import image_grid, save_figure
from latentlab.io import atomic_folder, write_json
from latentlab.names import label
from latentlab.runtime import setup
from latentlab.tables import write_csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--replicates", type=Path, required=True, help="folder of the checkpoints at model.latent")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--scores", type=Path, required=True, help="CSV: one row per model and coordinate (first seed)")
    parser.add_argument("--grids", type=Path, required=True, help="folder of one PNG per model")
    args = parser.parse_args()
    cfg = load_config()
    t = cfg.traversal
    device = setup(cfg.base)
    spread_images = load_split(args.data, "train").images[: t.spread_images]
    test = load_split(args.data, "test")
    scored, moves = test.first_images(t.score_images, device), offsets(t.span, t.steps)
    contest = contest_models(args.replicates, cfg, device)

    def step_sizes(model):
        return directions(encode_all(model, spread_images, device)).to(device)

    scores = score_contest(contest, lambda model: coordinate_scores(model, scored, step_sizes(model), moves))
    metrics = {"latent": cfg.model.latent, "score_images": len(scored), **summarize_seeds(scores)}
    first = cfg.sweep.seeds[0]
    rows = pd.DataFrame([{"model": name, "coordinate": c, **{k: float(v[c]) for k, v in by_seed[first].items()}}
                         for name, by_seed in scores.items() for c in range(cfg.model.latent)])
    first_digit = (test.labels == t.digit).nonzero()[:1, 0]
    if len(first_digit) == 0:
        raise ConfigError(f"traversal.digit: no test image has label {t.digit}; choose another or raise data.test_size")
    image = test.float_images(first_digit, device)  # (1, C, H, W)
    with atomic_folder(args.grids) as grids:
        for name, by_seed in contest.items():
            model = by_seed[first]
            unit = "slot" if model.snaps else "z"
            images = traverse(model, model.encode(image)[0], step_sizes(model), moves)
            along = " (along the slot's first principal direction, then snapped)" if unit == "slot" else ""
            save_figure(image_grid(list(images), row_labels=[f"{unit} {c}" for c in range(len(images))],
                                   column_labels=[f"{m:+g}" for m in moves], column_title=f"offset in sd{along}",
                                   title=f"{label(name)}: one coordinate of Z moved at a time"), grids / f"{name}.png")
    write_json(args.metrics, metrics)
    write_csv(args.scores, rows)


if __name__ == "__main__":
    run(main)
