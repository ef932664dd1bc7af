"""How sure the study is: intervals over seeds and over test images, and when a winner may be named.

The contest at model.latent trains every model once per seed, so a number is the mean over seeds
with a Student-t 95% interval (absent with one seed: never a zero-width interval). VQ-VAE-2 is
trained once; where a number averages over test images (or samples, or pairs) it gets a
percentile-bootstrap interval over them, which says how much the images, not the training,
move it. A winner is named only when its interval is clear of every other model's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_CHUNK = 100  # resamples drawn at once: bounds the index tensor at 100 x N


@dataclass(frozen=True)
class Estimate:
    """A mean with its interval, from `n` seeds or from `n` bootstrap resamples."""

    mean: float
    low: float | None  # None: one seed, no interval
    high: float | None
    method: str  # "seeds" | "bootstrap" | "single" (one measurement, no interval)
    n: int

    @property
    def has_interval(self) -> bool:
        return self.low is not None

    def to_dict(self) -> dict:
        bounds = {"low": self.low, "high": self.high} if self.has_interval else {}
        return {"mean": self.mean, **bounds, **({self.method: self.n} if self.method != "single" else {})}

    @classmethod
    def from_dict(cls, d: Mapping) -> Estimate:
        """What `to_dict` wrote; a plain {"mean": value} is one measurement without an interval."""
        method = next((m for m in ("seeds", "bootstrap") if m in d), "single")
        return cls(d["mean"], d.get("low"), d.get("high"), method, d.get(method, 1))

    def text(self, digits: int = 4) -> str:
        """'0.0123 [0.0119, 0.0127]', or the mean alone when there is no interval."""
        if not self.has_interval:
            return f"{self.mean:.{digits}g}"
        return f"{self.mean:.{digits}g} [{self.low:.{digits}g}, {self.high:.{digits}g}]"


def over_seeds(values: Sequence[float]) -> Estimate:
    """Mean and Student-t interval of one number measured once per seed."""
    from scipy.special import stdtrit  # the Student-t quantile; scipy.stats would cost half a second to import

    n, mean = len(values), sum(values) / len(values)
    if n < 2:
        return Estimate(mean, None, None, "seeds", n)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(stdtrit(n - 1, 0.5 + CONFIDENCE / 2)) * sd / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, "seeds", n)


def seed_summary(per_seed: Mapping[int, float]) -> dict:
    """What a metrics file stores for a number measured per seed: the estimate and every seed's value."""
    return {**over_seeds(list(per_seed.values())).to_dict(), "per_seed": {str(s): v for s, v in per_seed.items()}}


def seeds_summary(per_seed: Mapping[int, Mapping[str, float]]) -> dict[str, dict]:
    """{score: seed_summary} from {seed: {score: value}} (every seed has the same scores)."""
    first = next(iter(per_seed.values()))
    return {score: seed_summary({seed: values[score] for seed, values in per_seed.items()}) for score in first}


def bootstrap_summary(per_item: Mapping[str, torch.Tensor]) -> dict[str, dict]:
    """{score: bootstrap estimate} from per-item values of one trained model."""
    return {score: bootstrap(values).to_dict() for score, values in per_item.items()}


def bootstrap(per_item: torch.Tensor, seed: int = 0) -> Estimate:
    """Mean of per-item values (N,) with a percentile-bootstrap interval over the items."""
    values = per_item.detach().double().flatten().cpu()
    generator = torch.Generator().manual_seed(seed)
    means = torch.cat([values[torch.randint(len(values), (BOOTSTRAP_CHUNK, len(values)), generator=generator)].mean(1)
                       for _ in range(BOOTSTRAP_RESAMPLES // BOOTSTRAP_CHUNK)])
    tail = (1 - CONFIDENCE) / 2
    low, high = torch.quantile(means, torch.tensor([tail, 1 - tail], dtype=torch.float64)).tolist()
    return Estimate(float(values.mean()), low, high, "bootstrap", BOOTSTRAP_RESAMPLES)


@dataclass(frozen=True)
class Verdict:
    winner: str | None  # None: no clear winner
    best: str  # the best mean, clear or not
    reason: str  # "clear", "overlap" (intervals overlap), "one seed" (no intervals) or "alone" (nothing to beat)


def verdict(estimates: Mapping[str, Estimate], lower_is_better: bool) -> Verdict:
    """The model whose interval is clear of every other model's interval, if there is one."""
    pick = (min if lower_is_better else max)(estimates, key=lambda name: estimates[name].mean)
    if len(estimates) < 2:
        return Verdict(None, pick, "alone")
    if not all(e.has_interval for e in estimates.values()):
        return Verdict(None, pick, "one seed")
    best = estimates[pick]
    others = [e for name, e in estimates.items() if name != pick]
    clear = all(best.high < e.low for e in others) if lower_is_better else all(best.low > e.high for e in others)
    return Verdict(pick if clear else None, pick, "clear" if clear else "overlap")
