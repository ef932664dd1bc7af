"""Plain YAML values checked against type annotations: the machinery behind config.py.

`parse(tp, value, key)` accepts what YAML produces (dicts, lists, numbers, strings) and returns
it typed (frozen dataclasses, tuples), or raises ConfigError naming the key: unknown and missing
keys, wrong types, values out of range. `Annotated[int, Bounds(at_least=1)]` carries a range.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

from latentlab.errors import ConfigError


@dataclass(frozen=True)
class Bounds:
    """Range of a numeric field: strict (above/below) or inclusive (at_least/at_most); `why` is said
    with the error."""

    above: float | None = None
    at_least: float | None = None
    below: float | None = None
    at_most: float | None = None
    why: str = ""

    def check(self, value: float, key: str) -> None:
        rules = [
            (self.above, lambda v, b: v > b, "greater than"),
            (self.at_least, lambda v, b: v >= b, "at least"),
            (self.below, lambda v, b: v < b, "less than"),
            (self.at_most, lambda v, b: v <= b, "at most"),
        ]
        for bound, holds, words in rules:
            if bound is not None and not holds(value, bound):
                why = f" ({self.why})" if self.why else ""
                shown = f"{bound:g}" if isinstance(bound, float) else str(bound)
                raise ConfigError(f"{key}: must be {words} {shown}{why}, got {value!r}")


@dataclass(frozen=True)
class Odd:
    def check(self, value: int, key: str) -> None:
        if value % 2 == 0:
            raise ConfigError(f"{key}: must be odd, got {value}")


PositiveInt = Annotated[int, Bounds(at_least=1)]
NonNegativeInt = Annotated[int, Bounds(at_least=0)]
Seed = Annotated[int, Bounds(at_least=0, below=2**32, why="seeds of torch, NumPy and scikit-learn alike")]
PositiveFloat = Annotated[float, Bounds(above=0)]
NonNegativeFloat = Annotated[float, Bounds(at_least=0)]
OpenUnit = Annotated[float, Bounds(above=0, below=1)]  # e.g. an EMA decay
UnitInterval = Annotated[float, Bounds(at_least=0, at_most=1)]  # e.g. a dropout rate


def parse(tp: Any, value: Any, key: str) -> Any:
    """Check `value` against type `tp` and convert it (lists -> tuples, dicts -> dataclasses)."""
    origin = get_origin(tp)
    if origin is Annotated:
        inner, *rules = get_args(tp)
        value = parse(inner, value, key)
        for rule in rules:
            rule.check(value, key)
        return value
    if dataclasses.is_dataclass(tp):
        return _parse_dataclass(tp, value, key)
    if origin is Literal:
        if value not in get_args(tp):
            choices = ", ".join(repr(c) for c in get_args(tp))
            raise ConfigError(f"{key}: expected one of {choices}, got {value!r}")
        return value
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        (inner,) = [t for t in options if t is not type(None)]
        return parse(inner, value, key)
    if origin is tuple:
        return _parse_tuple(tp, value, key)
    return _parse_scalar(tp, value, key)


def _parse_dataclass(cls: Any, value: Any, key: str) -> Any:
    fields = get_type_hints(cls, include_extras=True)
    if value is None and not fields:
        value = {}
    if not isinstance(value, dict):
        raise ConfigError(f"{key or 'params.yaml'}: expected a mapping of {sorted(fields)}, got {value!r}")
    prefix = f"{key}." if key else ""
    for name in value:
        if name not in fields:
            close = difflib.get_close_matches(str(name), fields, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(fields)}"
            raise ConfigError(f"{key or 'params.yaml'}: unknown key '{name}'{hint}")
    missing = [name for name in fields if name not in value]
    if missing:
        raise ConfigError(f"{key or 'params.yaml'}: missing key '{prefix}{missing[0]}'")
    return cls(**{name: parse(tp, value[name], prefix + name) for name, tp in fields.items()})


def _parse_tuple(tp: Any, value: Any, key: str) -> tuple:
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list, got {type(value).__name__} {value!r}")
    args = get_args(tp)
    if len(args) == 2 and args[1] is Ellipsis:
        if not value:
            raise ConfigError(f"{key}: expected a non-empty list")
        args = (args[0],) * len(value)
    elif len(args) != len(value):
        raise ConfigError(f"{key}: expected a list of {len(args)} items, got {len(value)}")
    return tuple(parse(t, v, f"{key}[{i}]") for i, (t, v) in enumerate(zip(args, value, strict=True)))


def _parse_scalar(tp: Any, value: Any, key: str) -> Any:
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key}: expected a finite number, got {value!r}")
    if isinstance(value, tp) and not (tp is int and isinstance(value, bool)):
        return value
    hint = ""
    if tp is float and isinstance(value, str):
        hint = f" (YAML reads '{value}' as text; write the number with a dot, e.g. 3.0e-4)"
    raise ConfigError(f"{key}: expected {tp.__name__}, got {type(value).__name__} {value!r}{hint}")


def to_plain(value: Any) -> Any:
    """Dataclasses and tuples -> dicts and lists (what YAML, JSON and checkpoints store)."""
    if dataclasses.is_dataclass(value):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [to_plain(v) for v in value]
    return value
