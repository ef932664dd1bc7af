"""Stage `classifier`: train the CNN that judges later stages; save it with its test accuracy."""

import argparse
from pathlib import Path

from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_info, load_split
from latentlab.io import write_json
from latentlab.runtime import setup
from latentlab.schema import to_plain
from latentlab.train import summarize, train_and_save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True, help="DVCLive folder of per-epoch metrics")
    args = parser.parse_args()
    cfg = load_config()
    device = setup(cfg.base)
    train, validation, test = (load_split(args.data, split) for split in ("train", "validation", "test"))
    config = {"image_shape": list(train.image_shape), "num_classes": len(load_info(args.data)["classes"]),
              "model": to_plain(cfg.classifier.model)}
    _, history = train_and_save("classifier", config, train, {"validation": validation, "test": test},
                                cfg.classifier.train, device=device, seed=cfg.base.seed, budget_key="classifier.train",
                                inputs=[args.data], log_dir=args.log, checkpoint=args.checkpoint)
    write_json(args.metrics, summarize(history))


if __name__ == "__main__":
    run(main)
