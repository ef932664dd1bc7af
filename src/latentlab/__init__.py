"""latentlab: AE, VAE, VQ-VAE and VQ-VAE-2 compared, as a reproducible DVC pipeline."""
