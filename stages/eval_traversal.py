"""Stage `eval_traversal`: move each coordinate of Z around a test image's code; does it act locally?

The figure shows one image (traversal.digit); the scores average over the first traversal.score_images.
"""

import argparse
from pathlib import Path

from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_split
from latentlab.evaluate.latents import comparison_models, encode_all
from latentlab.evaluate.traversal import change_scores, directions, mean_scores, traverse
from latentlab.images import grid, save_png
from latentlab.io import write_json
from latentlab.runtime import setup
from latentlab.schema import ConfigError
from latentlab.tables import write_csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--checkpoints", type=Path, required=True, help="folder of the sweep's checkpoints")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--scores", type=Path, required=True, help="CSV: one row per model and coordinate")
    parser.add_argument("--grids", type=Path, required=True, help="folder of one PNG per model")
    args = parser.parse_args()
    cfg = load_config()
    t = cfg.traversal
    device = setup(cfg.base)
    train, test = load_split(args.data, "train"), load_split(args.data, "test")
    matches = (test.labels == t.digit).nonzero()
    if len(matches) == 0:
        raise ConfigError(f"traversal.digit: no test image has label {t.digit}")
    image = test.float_images(matches[:1, 0], device)  # (1, C, H, W)
    offsets = [t.span * (2 * i / (t.steps - 1) - 1) for i in range(t.steps)]  # -span ... +span
    metrics, rows = {"latent": cfg.model.latent, "digit": t.digit}, []
    scored = test.first_images(t.score_images, device)
    metrics["score_images"] = len(scored)
    for name, model in comparison_models(args.checkpoints, None, cfg, device).items():
        steps = directions(encode_all(model, train.head(t.spread_images), device)).to(device)
        images = traverse(model, model.encode(image)[0], steps, offsets)
        save_png(args.grids / f"{name}.png", grid(list(images), labels=[f"z{c}" for c in range(len(images))]))
        scores = mean_scores([change_scores(row, middle=t.steps // 2)  # per coordinate, over the scored images
                              for row in traverse(model, z, steps, offsets)]
                             for z in model.encode(scored))
        rows += [{"model": name, "coordinate": c, **s} for c, s in enumerate(scores)]
        metrics[name] = {key: sum(s[key] for s in scores) / len(scores) for key in ("mean_change", "locality")}
    write_json(args.metrics, metrics)
    write_csv(args.scores, rows)


if __name__ == "__main__":
    run(main)
