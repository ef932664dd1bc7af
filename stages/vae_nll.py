"""Stage `vae_nll`: the VAE's test NLL as the VAE papers measure it, so it can stand beside theirs.

The study's VAE (trunk, prior, budget, model.latent, base.seed) trained on dynamically binarized
training images, and scored on the first nll.test_images test images, each binarized once, by the
importance-sampled bound with nll.importance_samples samples (IWAE, Burda et al. 2016) and by the ELBO;
bootstrap intervals over the images. Binary pixels make sense only for grey images: on a colour data
set the stage records that nothing was measured, and why.
"""

import argparse
from pathlib import Path

import torch

from latentlab.checkpoint import load_model
from latentlab.cli import run
from latentlab.config import load_config
from latentlab.data import load_info, load_split
from latentlab.evaluate.likelihood import SETUP, importance_nll
from latentlab.io import atomic_folder, write_json
from latentlab.models import sweep_model_config
from latentlab.runs import Run, RunFolders, train_runs
from latentlab.runtime import setup
from latentlab.stats import bootstrap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="prepared data folder")
    parser.add_argument("--out", type=Path, nargs=3, required=True, metavar=("CHECKPOINTS", "METRICS", "LOGS"))
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args()
    cfg = load_config()
    device = setup(cfg.base)
    image_shape, out = tuple(load_info(args.data)["image_shape"]), RunFolders(*args.out)
    if image_shape[0] != 1:
        for folder in args.out:
            with atomic_folder(folder):
                pass
        write_json(args.metrics, {"nll": None, "nll_null_reason": f"binary pixels are a model of grey images; "
                                  f"{load_info(args.data)['name']} has {image_shape[0]} channels"})
        return
    config = sweep_model_config("vae", image_shape, cfg.model.latent, cfg)
    trained = train_runs([Run(f"vae-{cfg.model.latent}", "vae_binarized", config, cfg.base.seed)], cfg.train,
                         args.data, out, [out], device=device)
    model = load_model(next(iter(trained.values())).checkpoint, device)
    generator = torch.Generator().manual_seed(cfg.base.seed)
    images = load_split(args.data, "test").first_images(cfg.nll.test_images)
    binary = torch.bernoulli(images, generator=generator)
    k = cfg.nll.importance_samples
    nll, elbo = (importance_nll(model, binary, samples, generator, device) for samples in (k, 1))
    write_json(args.metrics, {"latent": cfg.model.latent, "seed": cfg.base.seed, "images": len(binary),
                              "importance_samples": k, "nll": bootstrap(nll).to_dict(),
                              "negative_elbo": bootstrap(elbo).to_dict(), "setup": SETUP})


if __name__ == "__main__":
    run(main, resumable=True)
