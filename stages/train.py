"""Stages `train` (the latent sweep) and `replicate` (the seeds at model.latent): one AE, VAE or
VQ-VAE training at one latent size with one seed, scored on the test split.

A replicate whose seed is the latent sweep's is the sweep's run at model.latent: with --reuse it
copies that run (checkpoint, metrics, log) instead of training it again.
"""

from pathlib import Path

from latentlab.cli import run, training_parser
from latentlab.config import load_config
from latentlab.data import load_splits
from latentlab.evaluate.codebook import codebook_scores
from latentlab.evaluate.reconstruction import mean_scores, per_image_scores
from latentlab.inference import map_batches
from latentlab.io import copy, read_json, write_json
from latentlab.models import sweep_model_config
from latentlab.models.vqvae import VQVAE
from latentlab.runtime import setup
from latentlab.train import summarize, train_and_save


def main() -> None:
    parser = training_parser(__doc__)
    parser.add_argument("model", choices=["ae", "vae", "vqvae"])
    parser.add_argument("latent", type=int)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--reuse", type=Path, nargs=3, metavar=("CHECKPOINT", "METRICS", "LOG"),
                        help="the latent sweep's run at this size: copied if it was trained with this seed")
    args = parser.parse_args()
    cfg = load_config()
    device = setup(cfg.base, seed=args.seed)
    if args.reuse and reuse(args.reuse, (args.model, args.latent, args.seed), (args.checkpoint, args.metrics, args.log)):
        return
    train, validation, test = load_splits(args.data)
    config = sweep_model_config(args.model, train.image_shape, args.latent, cfg)
    # The per-epoch curve is the validation split's (the one "best" epochs are chosen on); the test
    # split is scored once, after the last epoch.
    model, history = train_and_save(args.model, config, train, {"validation": validation}, cfg.train,
                                    device=device, seed=args.seed, budget_key="train", inputs=[args.data],
                                    log_dir=args.log, checkpoint=args.checkpoint, scored_at_end={"test": test})
    metrics = {"model": args.model, "latent": args.latent, "seed": args.seed, **summarize(history)}
    metrics["test"].update(mean_scores(per_image_scores(model, test.images, device)))
    if isinstance(model, VQVAE):
        metrics["codebook"] = codebook_scores(map_batches(model.encode_codes, test.images, device), model.quantizer)
    write_json(args.metrics, metrics)


def reuse(sources: list[Path], run: tuple[str, int, int], targets: tuple[Path, Path, Path]) -> bool:
    """Copy the sweep's run (checkpoint, metrics, log) to the targets if its metrics name this very run."""
    if tuple(read_json(sources[1])[key] for key in ("model", "latent", "seed")) != run:
        return False
    for source, target in zip(sources, targets, strict=True):
        copy(source, target)
    print(f"{targets[0]}: the same run as {sources[0]} (same model, size, seed, data, code and params): copied")
    return True


if __name__ == "__main__":
    run(main)
