"""Stage `vqvae2`: train the two-level VQ-VAE-2 and score its reconstructions of the test split.

VQ-VAE-2 is trained once, so its scores carry bootstrap intervals over the test images.
"""


from latentlab.cli import run, training_parser
from latentlab.config import load_config
from latentlab.data import load_splits
from latentlab.evaluate.reconstruction import per_image_scores
from latentlab.io import write_json
from latentlab.runtime import setup
from latentlab.schema import to_plain
from latentlab.stats import bootstrap_summary
from latentlab.train import summarize, train_and_save


def main() -> None:
    parser = training_parser(__doc__)
    args = parser.parse_args()
    cfg = load_config()
    device = setup(cfg.base)
    train, validation, test = load_splits(args.data)
    config = {"image_shape": list(train.image_shape), "model": to_plain(cfg.vqvae2.model)}
    model, history = train_and_save("vqvae2", config, train, {"validation": validation}, cfg.vqvae2.train,
                                    device=device, seed=cfg.base.seed, budget_key="vqvae2.train", inputs=[args.data],
                                    log_dir=args.log, checkpoint=args.checkpoint, scored_at_end={"test": test})
    metrics = {"slots": model.latent, **summarize(history)}  # slots: code positions of both levels
    metrics["test_interval"] = bootstrap_summary(per_image_scores(model, test.images, device))
    write_json(args.metrics, metrics)


if __name__ == "__main__":
    run(main, resumable=True)
