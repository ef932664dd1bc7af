"""Stage `data`: fetch the data set named by data.name, verify its checksums, save uint8 tensors."""

import argparse
import tempfile
from pathlib import Path

from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import dataset_spec, mirror_from_env, prepare, save_prepared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="folder for train.pt, test.pt and info.json")
    args = parser.parse_args()
    cfg = load_config()
    spec = dataset_spec(cfg.data.name)
    with tempfile.TemporaryDirectory() as workdir:
        splits = prepare(spec, Path(workdir), mirror_from_env())
    sizes = {"train": cfg.data.train_size, "test": cfg.data.test_size}
    save_prepared(args.out, spec, {name: split.head(sizes[name]) for name, split in splits.items()})


if __name__ == "__main__":
    run(main)
