"""A small CNN classifier: the study's judge (accuracy of samples, classifier-space FID)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from latentlab.config import ClassifierModelConfig
from latentlab.models.base import Batch, Trainable


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """Two 3x3 convolutions with batch norm, then 2x2 max pooling (halves H and W)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
        nn.MaxPool2d(2),
    )


class Classifier(Trainable):
    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, model: ClassifierModelConfig):
        super().__init__()
        c1, c2 = model.channels
        _, height, width = image_shape
        self.body = nn.Sequential(
            _conv_block(image_shape[0], c1),
            _conv_block(c1, c2),
            nn.Flatten(),
            nn.Linear(c2 * (height // 4) * (width // 4), model.hidden), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(model.dropout), nn.Linear(model.hidden, num_classes))
        # Training runs the convolutions in bfloat16 where the CPU has bf16 arithmetic: 1.7x faster steps,
        # the stage 68 s against 96 s back to back, test accuracy 0.9942 against 0.9935. It judges in float32.
        # (The sweep's small AE/VAE/VQ-VAE gained nothing from it: 38.1 s against 37.9 s per training.)
        self.train_in_bf16_where_native()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features (B, hidden): the space of this study's FID."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self._loss_and_logits(batch)[0]

    def held_out_terms(self, batch: Batch) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The loss and the accuracy from one forward pass."""
        terms, logits = self._loss_and_logits(batch)
        return terms, {"accuracy": (logits.argmax(1) == batch[1]).float().mean()}

    def _loss_and_logits(self, batch: Batch) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Cross-entropy of the labels, and the logits (float32; bf16 inside only while training)."""
        x, y = batch[0], batch[1]
        with self.training_autocast():
            logits = self(x).float()
        return {"nll": F.cross_entropy(logits, y)}, logits
