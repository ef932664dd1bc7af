"""Image grids as PNG files: rows of images, optionally labelled on the left."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from latentlab.io import atomic_path

PAD = 2  # pixels between images
LABEL_MARGIN = 6  # pixels around the row labels on the left


def grid(rows: list[torch.Tensor], labels: list[str] | None = None, scale: int = 1) -> Image.Image:
    """One image from rows of images in [0, 1], each (N, C, H, W); rows may differ in N."""
    channels, height, width = rows[0].shape[1:]
    columns = max(len(row) for row in rows)
    left = label_width(labels) if labels else 0
    canvas = np.full((len(rows) * (height + PAD) + PAD, left + columns * (width + PAD) + PAD, channels), 255, np.uint8)
    for r, row in enumerate(rows):
        pixels = (row.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        for c, image in enumerate(pixels):  # (H, W, C)
            top, start = PAD + r * (height + PAD), left + PAD + c * (width + PAD)
            canvas[top : top + height, start : start + width] = image
    picture = Image.fromarray(canvas.squeeze(2) if channels == 1 else canvas)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    if labels:
        draw = ImageDraw.Draw(picture)
        for r, label in enumerate(labels):
            draw.text((2, (PAD + r * (height + PAD) + height // 2 - 5) * scale), label, fill=0)
    return picture


def label_width(labels: list[str]) -> int:
    """Pixels the longest label takes in PIL's default font, with a margin."""
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))
    return int(max(measure.textlength(label) for label in labels)) + LABEL_MARGIN


def save_png(path: str | Path, picture: Image.Image) -> None:
    with atomic_path(path) as tmp:
        picture.save(tmp, format="PNG")


def grid_of(images: torch.Tensor, rows: int, columns: int) -> Image.Image:
    """The first rows x columns uint8 images (N, C, H, W), row by row."""
    return grid(list((images[: rows * columns].float() / 255).split(columns)))


def grid_by_label(images: torch.Tensor, labels: torch.Tensor, num_classes: int, columns: int) -> Image.Image:
    """One labelled row per class: the first `columns` uint8 images of that label."""
    rows = [images[labels == k][:columns].float() / 255 for k in range(num_classes)]
    return grid(rows, labels=[str(k) for k in range(num_classes)])
