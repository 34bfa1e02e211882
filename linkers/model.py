"""A fitted linear model read from a small versioned JSON file: the runtime half of ``benchmarks/fit.py``.

The file holds the feature names, the means and scales the fit standardised them with, one coefficient per
feature and an intercept. ``probability`` is the logistic of the standardised sum, so a score means "the chance
that this candidate is the answer" as measured on the training corpus; ``contributions`` says which features
moved it, for the reasons shown to users. No dependency beyond the standard library.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class LinearModel:
    name: str
    version: str  # the fit's identity: corpus size and date, shown in reports
    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float
    # (name, mean, scale, coefficient) per feature, zipped once: a triage scores dozens of candidates.
    _terms: tuple[tuple[str, float, float, float], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        terms = tuple(zip(self.features, self.means, self.scales, self.coefficients, strict=True))
        object.__setattr__(self, "_terms", terms)

    def contributions(self, values: Mapping[str, float]) -> dict[str, float]:
        """Each feature's share of the log-odds, relative to an average candidate of the training corpus."""
        return {name: coef * (float(values.get(name, mean)) - mean) / scale for name, mean, scale, coef in self._terms}

    def logit(self, values: Mapping[str, float]) -> float:
        """The intercept plus the contributions, summed in the same order (a feature left out adds nothing)."""
        total = 0.0
        for name, mean, scale, coef in self._terms:
            value = values.get(name)
            if value is not None:
                total += coef * (float(value) - mean) / scale
        return self.intercept + total

    def probability(self, values: Mapping[str, float]) -> float:
        z = self.logit(values)
        return 1.0 / (1.0 + math.exp(-z)) if z > -60 else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "format": FORMAT_VERSION,
            "name": self.name,
            "version": self.version,
            "intercept": self.intercept,
            "features": [
                {"name": n, "mean": m, "scale": s, "coefficient": c}
                for n, m, s, c in zip(self.features, self.means, self.scales, self.coefficients, strict=True)
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> LinearModel:
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"weights format {data.get('format')!r} is not {FORMAT_VERSION}")
        rows = data["features"]
        assert isinstance(rows, list)
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            features=tuple(str(r["name"]) for r in rows),
            means=tuple(float(r["mean"]) for r in rows),
            scales=tuple(float(r["scale"]) or 1.0 for r in rows),
            coefficients=tuple(float(r["coefficient"]) for r in rows),
            intercept=float(data["intercept"]),  # type: ignore[arg-type]
        )


@cache
def shipped(name: str) -> LinearModel:
    """The model fitted for ``name`` ("suspects", "location", "owners") that ships with incidentbot."""
    return LinearModel.from_json(json.loads((WEIGHTS_DIR / f"{name}.json").read_text()))
