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
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

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
    """One uint8 picture (H, W, C) from rows of images in [0, 1], each (N, C, H, W); rows may differ in N
    (a short row ends in white). PAD white pixels around every image, as torchvision's make_grid lays
    them out (a test compares the two); written here because importing torchvision costs every stage
    that draws a figure about 1.5 s (it imports torch._dynamo)."""
    columns = max(len(row) for row in rows)
    blank = torch.ones(1, *rows[0].shape[1:])
    images = torch.stack([torch.cat([row.detach().cpu(), blank.expand(columns - len(row), -1, -1, -1)])
                          for row in rows]).clamp(0, 1)  # (rows, columns, C, H, W)
    images = F.pad(images, (0, PAD, 0, PAD), value=1.0)  # white right of and below each image
    n_rows, n_columns, channels, height, width = images.shape
    grid = images.permute(2, 0, 3, 1, 4).reshape(channels, n_rows * height, n_columns * width)
    grid = F.pad(grid, (PAD, 0, PAD, 0), value=1.0)  # and above and left of the first row and column
    return (grid * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


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


def latent_axis(ax: plt.Axes, latents: Sequence[int]) -> None:
    """A log2 x axis with one labelled tick per latent size, and no minor tick labels."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(latents), [str(v) for v in latents])
    ax.minorticks_off()
    ax.set_xlabel("latent size (coordinates or slots)")


def plain_log_scale(ax: plt.Axes, which: str, base: float = 10) -> None:
    """A log scale on axis `which` ("x" or "y") whose ticks read as plain numbers (0.02, not 2 x 10^-2)."""
    getattr(ax, f"set_{which}scale")("log", base=base)
    axis = getattr(ax, f"{which}axis")
    if base == 10:  # 1, 2, 5 per decade: a range narrower than a decade still gets ticks
        axis.set_major_locator(matplotlib.ticker.LogLocator(base, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
