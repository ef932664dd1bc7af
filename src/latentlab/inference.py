"""The one inference loop: a function applied to a whole tensor in batches, without gradients.

Every evaluation that encodes, decodes, scores or classifies a data set goes through
`map_batches`, so batching, device placement and concatenation live in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch

from latentlab.data import as_input

BATCH_SIZE = 500  # no activations are kept for a backward pass, so batches can be larger than in training
Output = TypeVar("Output", torch.Tensor, tuple, dict)


@torch.no_grad()
def map_batches(fn: Callable[[torch.Tensor], Output], inputs: torch.Tensor, device: torch.device | str) -> Output:
    """fn over `inputs` in batches on `device`, outputs concatenated on the CPU.

    inputs: uint8 images (become floats in [0, 1]), codes or any tensor batched along dim 0.
    fn returns a tensor, or a tuple or dict of tensors, each with the batch in dim 0.
    """
    return _concatenate([fn(as_input(batch.to(device))) for batch in inputs.split(BATCH_SIZE)])


def _concatenate(outputs: list[Output]) -> Output:
    first = outputs[0]
    if isinstance(first, dict):
        return {key: torch.cat([out[key].cpu() for out in outputs]) for key in first}
    if isinstance(first, tuple):
        return tuple(torch.cat([out[i].cpu() for out in outputs]) for i in range(len(first)))
    return torch.cat([out.cpu() for out in outputs])
