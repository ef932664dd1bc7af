"""How sure the study is: intervals over seeds and over test images, and when a winner may be named.

The contest at model.latent trains every model once per seed, so a number is the mean over seeds
with a Student-t 95% interval (absent with one seed: never a zero-width interval). VQ-VAE-2 is
trained once; where a number averages over test images (or samples, or pairs) it gets a
percentile-bootstrap interval over them, which says how much the images, not the training,
move it. Two models are compared by the Welch difference of their seed means, Holm-adjusted across the
pairs of a test; a winner is named only when it is better than every other model pairwise.
"""

from __future__ import annotations

import itertools
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
class Difference:
    """mean(a) - mean(b) over seeds, with its Welch 95% interval and two-sided p-value (None with fewer
    than two seeds on either side: no spread to compare against)."""

    mean: float
    low: float | None
    high: float | None
    p: float | None

    def text(self, digits: int = 3) -> str:
        if self.low is None:
            return f"{self.mean:+.{digits}g} (one seed: no interval)"
        return f"{self.mean:+.{digits}g} [{self.low:+.{digits}g}, {self.high:+.{digits}g}]"


def welch(a: Sequence[float], b: Sequence[float]) -> Difference:
    """The difference of two means with Welch's t interval and test (unequal variances, Welch-Satterthwaite
    degrees of freedom)."""
    from scipy.special import stdtr, stdtrit

    mean = sum(a) / len(a) - sum(b) / len(b)
    if min(len(a), len(b)) < 2:
        return Difference(mean, None, None, None)
    va, vb = (_variance(x) / len(x) for x in (a, b))  # squared standard errors
    if va + vb == 0:  # every seed alike on both sides: any difference is exact
        return Difference(mean, mean, mean, 0.0 if mean else 1.0)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    se = math.sqrt(va + vb)
    half = float(stdtrit(df, 0.5 + CONFIDENCE / 2)) * se
    return Difference(mean, mean - half, mean + half, float(2 * stdtr(df, -abs(mean) / se)))


def _variance(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of p-values tested together (Holm 1979): the smallest times m, the next
    times m - 1, ..., each at least the one before; rejecting where the adjusted p < 1 - CONFIDENCE keeps
    the chance of any false separation among them below 5%."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted, running = [0.0] * len(pvalues), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class Pair:
    """Two models compared on one test: `a` - `b`, Holm-adjusted among the test's pairs."""

    a: str
    b: str
    difference: Difference
    p_holm: float | None
    better: str | None  # the model that is better beyond chance (None: not separated, or one seed)


def pairwise(per_seed: Mapping[str, Sequence[float]], lower_is_better: bool) -> list[Pair]:
    """Every pair of models (in the given order) on one test: the Welch difference of their seed means, the
    Holm-adjusted p over the test's pairs, and which one is better where that p is below 5%."""
    names = list(per_seed)
    pairs = [(a, b, welch(per_seed[a], per_seed[b])) for i, a in enumerate(names) for b in names[i + 1:]]
    tested = [i for i, (_, _, d) in enumerate(pairs) if d.p is not None]
    adjusted = dict(zip(tested, holm([pairs[i][2].p for i in tested]), strict=True))
    out = []
    for i, (a, b, d) in enumerate(pairs):
        p = adjusted.get(i)
        better = None
        if p is not None and p < 1 - CONFIDENCE:
            better = (b if d.mean > 0 else a) if lower_is_better else (a if d.mean > 0 else b)
        out.append(Pair(a, b, d, p, better))
    return out


@dataclass(frozen=True)
class Ranking:
    """Models ordered by mean (the better first), what separates neighbours, and the winner if any."""

    order: list[str]
    separated: list[bool]  # between order[i] and order[i + 1]: the better one beyond chance
    winner: str | None  # the model that is better than every other pairwise
    reason: str  # "clear", "no clear winner", "one seed" or "alone"
    pairs: list[Pair]
    lower_is_better: bool = True

    def text(self, label=str) -> str:
        """'AE < VQ-VAE ≈ VAE' (lower is better) or 'AE > VAE' (higher is better): the better first, '<' or '>'
        where neighbours are separated, '≈' where not; a pair the chain would seem to order but that is not
        separated is named after it ('AE vs VAE not separated')."""
        apart_sign = "<" if self.lower_is_better else ">"
        parts = [label(self.order[0])]
        for name, apart in zip(self.order[1:], self.separated, strict=True):
            parts += [apart_sign if apart else "≈", label(name)]
        between = {frozenset((p.a, p.b)): p.better for p in self.pairs}
        unclear = [f"{label(a)} vs {label(b)}" for i, a in enumerate(self.order) for j, b in enumerate(self.order)
                   if j > i + 1 and any(self.separated[i:j]) and between[frozenset((a, b))] is None]
        return " ".join(parts) + (f" ({', '.join(unclear)} not separated)" if unclear else "")


def ranking(per_seed: Mapping[str, Sequence[float]], lower_is_better: bool) -> Ranking:
    """Order the models of one test by their mean over seeds and judge each pair (`pairwise`)."""
    means = {name: sum(v) / len(v) for name, v in per_seed.items()}
    order = sorted(means, key=means.__getitem__, reverse=not lower_is_better)
    pairs = pairwise(per_seed, lower_is_better)
    between = {frozenset((p.a, p.b)): p.better for p in pairs}
    separated = [between[frozenset(neighbours)] is not None for neighbours in itertools.pairwise(order)]
    if len(order) < 2:
        return Ranking(order, separated, None, "alone", pairs, lower_is_better)
    if any(p.p_holm is None for p in pairs):
        return Ranking(order, separated, None, "one seed", pairs, lower_is_better)
    best = order[0]
    wins = all(between[frozenset((best, other))] == best for other in order[1:])
    return Ranking(order, separated, best if wins else None, "clear" if wins else "no clear winner", pairs,
                   lower_is_better)
