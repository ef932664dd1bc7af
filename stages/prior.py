"""Stages `prior_top` and `prior_bottom`: a gated PixelCNN over one level of the extracted codes."""

import math

from latentlab.cli import run, training_parser
from latentlab.codes import load_codes
from latentlab.config import load_config
from latentlab.io import write_json
from latentlab.runtime import setup
from latentlab.train import summarize, train_and_save


def main() -> None:
    parser = training_parser(__doc__, "--codes", "file written by extract_codes")
    parser.add_argument("level", choices=["top", "bottom"])
    args = parser.parse_args()
    cfg = load_config()
    prior = cfg.prior_top if args.level == "top" else cfg.prior_bottom
    device = setup(cfg.base)
    splits, facts = load_codes(args.codes)
    grid = list(getattr(splits["train"], args.level).shape[1:])
    model = prior.model
    config = {"grid": grid, "codebook_size": facts["codebook_sizes"][args.level], "num_classes": facts["num_classes"],
              "model": {"channels": model.channels, "layers": model.layers, "kernel_size": model.kernel_size},
              "condition": None if args.level == "top" else {  # the bottom prior also sees the top codes
                  "grid": list(splits["train"].top.shape[1:]), "codebook_size": facts["codebook_sizes"]["top"],
                  "blocks": model.condition_blocks}}
    data = {name: split.for_prior(args.level) for name, split in splits.items()}
    _, history = train_and_save("pixelcnn", config, data["train"], {"validation": data["validation"]}, prior.train,
                                device=device, seed=cfg.base.seed, budget_key=f"prior_{args.level}.train",
                                inputs=[args.codes], log_dir=args.log, checkpoint=args.checkpoint,
                                scored_at_end={"test": data["test"]})
    metrics = summarize(history)
    for split in ("validation", "test"):
        bits = metrics[split]["nll"] / math.log(2)
        metrics[split].update({"bits_per_code": bits, "bits_per_image": bits * math.prod(grid)})
    write_json(args.metrics, metrics)


if __name__ == "__main__":
    run(main, resumable=True)
