"""Stage `data`: fetch the data set named by data.name, verify its checksums, save uint8 splits.

The validation split is the last data.validation_size released training images; the training
split is (the first data.train_size of) the rest, the test split (the first data.test_size of) the
released test images.
"""

import argparse
import tempfile
from pathlib import Path

from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import save_prepared
from latentlab.datasets import dataset_spec, mirror_from_env, prepare
from latentlab.io import atomic_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="folder for train.pt, validation.pt, test.pt and info.json")
    args = parser.parse_args()
    cfg = load_config()
    spec, mirror = dataset_spec(cfg.data.name), mirror_from_env()
    with tempfile.TemporaryDirectory() as workdir:
        released = prepare(spec, Path(workdir), mirror)
    train, validation = released["train"].hold_out(cfg.data.validation_size)
    splits = {"train": train.head(cfg.data.train_size), "validation": validation,
              "test": released["test"].head(cfg.data.test_size)}
    info = {"name": spec.name, "classes": list(spec.classes), "raw_files": {f.name: f.md5 for f in spec.files}}
    with atomic_folder(args.out) as folder:  # the folder holds exactly these four files
        save_prepared(folder, info, splits)


if __name__ == "__main__":
    run(main)
