"""Stage `classifier`: train the CNN that judges later stages; save it with its test accuracy."""


from latentlab.cli import run, training_parser
from latentlab.config import load_config
from latentlab.data import load_info, load_splits
from latentlab.io import write_json
from latentlab.runtime import setup
from latentlab.schema import to_plain
from latentlab.train import summarize, train_and_save


def main() -> None:
    parser = training_parser(__doc__)
    args = parser.parse_args()
    cfg = load_config()
    device = setup(cfg.base)
    train, validation, test = load_splits(args.data)
    config = {"image_shape": list(train.image_shape), "num_classes": len(load_info(args.data)["classes"]),
              "model": to_plain(cfg.classifier.model)}
    _, history = train_and_save("classifier", config, train, {"validation": validation}, cfg.classifier.train,
                                device=device, seed=cfg.base.seed, budget_key="classifier.train", inputs=[args.data],
                                log_dir=args.log, checkpoint=args.checkpoint, scored_at_end={"test": test})
    write_json(args.metrics, summarize(history))


if __name__ == "__main__":
    run(main, resumable=True)
