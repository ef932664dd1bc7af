"""Figures with matplotlib: labelled image grids and line plots, saved as reproducible PNGs.

Each evaluation composes its own figure from these helpers, so a change to one figure reruns
only the stage that draws it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no window: works on machines without a display

import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from latentlab.io import atomic_path  # noqa: E402
from latentlab.names import MODEL_COLOURS, label  # noqa: E402

DPI = 100
PAD = 2  # white pixels between the images of a grid
ZOOM = 2.5  # screen pixels per image pixel: MNIST's 28x28 digits drawn 70 pixels wide
METADATA = {"Software": None}  # no version string in the file: the same figure gives the same bytes


def save_figure(figure: plt.Figure, path: str | Path) -> None:
    """Save as PNG atomically and close the figure."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI, metadata=METADATA, bbox_inches="tight")
    plt.close(figure)


def tile(rows: Sequence[torch.Tensor]) -> np.ndarray:
    """One uint8 picture (H, W, C) from rows of images in [0, 1], each (N, C, H, W); rows may differ in N."""
    channels, height, width = rows[0].shape[1:]
    columns = max(len(row) for row in rows)
    canvas = np.full((len(rows) * (height + PAD) + PAD, columns * (width + PAD) + PAD, channels), 255, np.uint8)
    for r, row in enumerate(rows):
        pixels = (row.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        for c, image in enumerate(pixels):  # (H, W, C)
            top, left = PAD + r * (height + PAD), PAD + c * (width + PAD)
            canvas[top : top + height, left : left + width] = image
    return canvas


def image_grid(rows: Sequence[torch.Tensor], *, title: str, row_labels: Sequence[str] | None = None,
               column_labels: Sequence[str] | None = None, column_title: str | None = None) -> plt.Figure:
    """Rows of images in [0, 1] as one figure, each row and column named by its label."""
    canvas = tile(rows)
    height, width = canvas.shape[:2]
    margin_w, margin_h = (1.6 if row_labels else 0.2), (0.9 if column_labels else 0.5)
    figure, ax = plt.subplots(figsize=(width * ZOOM / DPI + margin_w, height * ZOOM / DPI + margin_h))
    ax.imshow(canvas.squeeze(2) if canvas.shape[2] == 1 else canvas, cmap="gray", vmin=0, vmax=255,
              interpolation="nearest")
    step_y, step_x = rows[0].shape[2] + PAD, rows[0].shape[3] + PAD
    ax.set_yticks([PAD + step_y * (i + 0.5) for i in range(len(row_labels or []))], row_labels or [])
    ax.set_xticks([PAD + step_x * (i + 0.5) for i in range(len(column_labels or []))], column_labels or [])
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    if column_title:
        ax.set_xlabel(column_title)
    ax.set_title(title, fontsize=11)
    return figure


def plot_by_model(ax: plt.Axes, frame: pd.DataFrame, x: str, y: str, *, low: str | None = None,
                  high: str | None = None, style: str = "-", legend_suffix: str = "") -> None:
    """One line per model (frame column `model`), with a shaded interval where `low` and `high` are given."""
    for model, rows in frame.groupby("model", sort=False):
        rows = rows.sort_values(x)
        colour = MODEL_COLOURS.get(model)
        ax.plot(rows[x], rows[y], style, marker="o", markersize=4, color=colour, label=label(model) + legend_suffix)
        if low and high and rows[low].notna().any():
            ax.fill_between(rows[x], rows[low], rows[high], color=colour, alpha=0.2, linewidth=0)


@torch.no_grad()
def reconstruction_grid(models: dict, images: torch.Tensor, *, title: str, row_labels: Sequence[str]) -> plt.Figure:
    """Test images in the first row, then each model's reconstructions of them, one row per model."""
    rows = [images] + [model.eval().reconstruct(images) for model in models.values()]
    return image_grid(rows, row_labels=row_labels, title=title)
