"""Pictures of Z: the test images' codes on a plane, coloured by label, and the images a plane decodes to.

- At a latent size of 2 every model's Z is drawn as it is: AE's z, VAE's posterior mean, and for VQ-VAE
  and FSQ, whose two slots each hold a vector, each snapped slot's coordinate along its first principal
  direction (one number per slot: what separates its codes most).
- The decoded plane: for the VAE a grid over its prior's quantiles (5% to 95% of N(0, 1) per axis), for
  the AE over the 1st to 99th percentile of its training codes (it has no prior to read one from).
- At model.latent, a 2-D embedding of what each decoder reads (PCA, and t-SNE of a subset), coloured
  by label.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from latentlab.evaluate.probe import probe_features
from latentlab.figures import image_grid
from latentlab.models import LatentModel
from latentlab.names import label

GRID_QUANTILES = (0.05, 0.95)  # the VAE's plane: prior quantiles at its edges
CODE_PERCENTILES = (1.0, 99.0)  # the AE's plane: percentiles of its training codes at its edges


def plane(model: LatentModel, images: torch.Tensor, device: torch.device) -> tuple[np.ndarray, tuple[str, str]]:
    """Each image's code as a point (N, 2) of a two-slot (or two-coordinate) model, and the axes' names."""
    features = probe_features(model, images, device)  # what the decoder reads, (N, 2) or (N, 2 * D)
    if not model.snaps:
        return features.numpy(), ("z1", "z2")
    slots = features.view(len(features), 2, -1)
    return np.stack([principal_coordinates(slots[:, s], 1)[0][:, 0] for s in range(2)], axis=1), \
        ("slot 1 (first principal direction)", "slot 2 (first principal direction)")


def principal_coordinates(features: torch.Tensor, components: int = 2) -> tuple[np.ndarray, list[float]]:
    """The features projected on their first principal directions, and each one's share of the variance."""
    centred = features.double() - features.double().mean(0)
    _, singular, right = torch.linalg.svd(centred, full_matrices=False)
    total = float((singular**2).sum())
    share = (singular**2 / total).tolist() if total > 0 else [0.0] * len(singular)  # one point: no variance
    return (centred @ right[:components].T).numpy(), share[:components]


def varies(features: torch.Tensor) -> bool:
    """Whether the codes differ at all (a collapsed codebook gives every image the same one)."""
    return bool((features.max(0).values > features.min(0).values).any())


def tsne(features: torch.Tensor, perplexity: float, seed: int) -> np.ndarray:
    """A 2-D t-SNE embedding (scikit-learn; PCA initialisation, which makes it repeatable); all points at 0
    when the codes do not vary (t-SNE divides by their spread)."""
    from sklearn.manifold import TSNE

    if not varies(features):
        return np.zeros((len(features), 2))
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(features.double().numpy())


def scatter_by_label(ax: plt.Axes, points: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> None:
    colours = plt.get_cmap("tab10")
    for k, name in enumerate(classes):
        chosen = labels == k
        ax.scatter(points[chosen, 0], points[chosen, 1], s=3, alpha=0.5, color=colours(k % 10), label=name,
                   rasterized=True)


def planes_figure(points: dict[str, tuple[np.ndarray, tuple[str, str]]], labels: np.ndarray, classes: Sequence[str],
                  latent: int) -> plt.Figure:
    """One panel per model: the test images' codes on the plane, coloured by label."""
    figure, axes = plt.subplots(1, len(points), figsize=(4.2 * len(points), 4.4), squeeze=False, layout="constrained")
    for ax, (name, (xy, (x_label, y_label))) in zip(axes[0], points.items(), strict=True):
        scatter_by_label(ax, xy, labels, classes)
        ax.set(title=label(name), xlabel=x_label, ylabel=y_label)
    axes[0, -1].legend(markerscale=4, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.suptitle(f"Z of {len(labels)} test images at latent size {latent}, coloured by label")
    return figure


def grid_axis(values: np.ndarray | None, steps: int, prior: bool) -> np.ndarray:
    """The positions along one axis of the decoded plane: prior quantiles, or percentiles of `values`."""
    if prior:
        from scipy.special import ndtri  # the standard normal's quantile function

        return ndtri(np.linspace(*GRID_QUANTILES, steps))
    return np.linspace(*np.percentile(values, CODE_PERCENTILES), steps)


@torch.no_grad()
def decoded_plane(name: str, model: LatentModel, train_codes: torch.Tensor | None, steps: int, prior: bool,
                  device: torch.device) -> plt.Figure:
    """The images of a steps x steps grid over the plane of a two-coordinate AE or VAE, z2 down the rows."""
    model.eval()
    axes = [grid_axis(None if train_codes is None else train_codes[:, i].numpy(), steps, prior) for i in range(2)]
    z = torch.tensor(np.stack(np.meshgrid(axes[0], axes[1][::-1]), axis=-1).reshape(-1, 2), dtype=torch.float32)
    images = torch.sigmoid(model.decode(z.to(device))).cpu()
    rows = list(images.split(steps))
    where = "its prior's quantiles, 5% to 95%" if prior else "its training codes' 1st to 99th percentile"
    return image_grid(rows, row_labels=[f"{v:.2g}" for v in axes[1][::-1]],
                      column_labels=[f"{v:.2g}" for v in axes[0]], column_title="z1",
                      title=f"{label(name)}: the plane of Z decoded (z2 down the rows; "
                            f"{where})")


def embeddings_figure(embedded: dict[str, dict[str, np.ndarray]], labels: dict[str, np.ndarray],
                      classes: Sequence[str], titles: dict[str, str], latent: int) -> plt.Figure:
    """Rows: PCA, t-SNE; a column per model; each panel the embedded codes coloured by label."""
    names = list(embedded)
    methods = list(next(iter(embedded.values())))
    figure, axes = plt.subplots(len(methods), len(names), figsize=(3.6 * len(names), 3.6 * len(methods)),
                                squeeze=False, layout="constrained")
    for row, method in enumerate(methods):
        for col, name in enumerate(names):
            ax = axes[row, col]
            scatter_by_label(ax, embedded[name][method], labels[method], classes)
            ax.set(title=f"{label(name)}: {titles[name] if method == 'PCA' else method}", xticks=[], yticks=[])
            if col == 0:
                ax.set_ylabel(method)
    axes[0, -1].legend(markerscale=4, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.suptitle(f"What each decoder reads at latent size {latent}, embedded in 2-D, coloured by label")
    return figure
