"""The VAE's test negative log-likelihood, bounded by importance sampling (Burda et al. 2016, eq. 7):

    log p(x) >= E[ log (1/k) sum_i p(x | z_i) p(z_i) / q(z_i | x) ],  z_1 ... z_k ~ q(z | x)

tighter as k grows (k = 1 is the ELBO), in nats per image, for binary images x.
"""

from __future__ import annotations

import math

import torch

from latentlab.inference import BATCH_SIZE
from latentlab.models.base import bernoulli_nll_per_image
from latentlab.models.vae import VAE

DECODES = 4096  # decoded at once: images x samples per batch


@torch.no_grad()
def importance_nll(model: VAE, images: torch.Tensor, k: int, generator: torch.Generator,
                   device: torch.device) -> torch.Tensor:
    """-log p(x) bounded with k importance samples, per binary image (N,) of `images` (floats 0 or 1)."""
    model.eval()
    out = []
    per_batch = max(1, min(BATCH_SIZE, DECODES // k))
    for x in images.split(per_batch):
        x = x.to(device)
        mean, log_var = model.posterior(x)
        std = (0.5 * log_var).exp()
        weights = []
        for start in range(0, k, max(1, DECODES // len(x))):
            n = min(k - start, max(1, DECODES // len(x)))
            eps = torch.randn(n, *mean.shape, generator=generator).to(device)  # (n, B, latent), drawn on the CPU
            z = mean + std * eps
            logits = model.decode(z.flatten(0, 1))  # (n*B, C, H, W)
            log_px = -bernoulli_nll_per_image(logits, x.repeat(n, 1, 1, 1)).view(n, len(x))
            log_pz = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)
            log_qz = -0.5 * (eps.pow(2) + math.log(2 * math.pi)).sum(-1) - (0.5 * log_var).sum(-1)
            weights.append(log_px + log_pz - log_qz)
        log_w = torch.cat(weights)  # (k, B)
        out.append(-(torch.logsumexp(log_w, 0) - math.log(k)).double().cpu())
    return torch.cat(out)


SETUP = {  # what the number is comparable with, and where it differs (written beside it, in the metrics)
    "data": "MNIST, each training image binarized afresh at every step (dynamic binarization); test images "
            "binarized once (seed base.seed); Bernoulli pixels",
    "bound": "importance-sampled (IWAE, Burda et al. 2016) with k samples from q(z|x); k = 1 gives the ELBO",
    "published": "Burda et al. 2016, Table 1: 86.76 nats for a VAE with one stochastic layer of 50 units "
                 "(MLP encoder and decoder, 3280 passes over the data, k = 5000 at test)",
    "differs_by": "this study's budget (train.epochs passes over the data), its convolutional trunk and "
                  "model.latent units; a subset of the test split (nll.test_images) and k (the bound tightens "
                  "as k grows)",
}
