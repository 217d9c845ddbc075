"""The simulated camera and face matcher (design.md §5), visibly a simulation.

A capture yields a face template for a scenario: the card holder (``same``), someone
else (``other``) or the holder badly lit / moving (``poor``). The matcher compares it
with the card's template by cosine similarity against the configured threshold.
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass
from typing import ClassVar


class FaceScenario(enum.StrEnum):
    SAME = "same"
    OTHER = "other"
    POOR = "poor"

    @property
    def label(self) -> str:
        return {"same": "ご本人", "other": "別の人", "poor": "撮影不良"}[self.value]


def _unit(values: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


class SimulatedCamera:
    """Captures for a scenario; deterministic with a seed."""

    # per-component noise, relative to a unit template's typical component (1/√n)
    NOISE: ClassVar[dict[FaceScenario, float]] = {FaceScenario.SAME: 0.18, FaceScenario.POOR: 1.4}

    def __init__(self, scenario: FaceScenario, seed: int | None = None) -> None:
        self.scenario = scenario
        self._rng = random.Random(seed)

    def capture(self, holder_template: list[float]) -> list[float]:
        """What the camera sees; ``holder_template`` is the card holder's face (the
        simulation needs it to picture the holder; the matcher never sees this call)."""
        n = len(holder_template)
        if self.scenario is FaceScenario.OTHER:
            return _unit([self._rng.gauss(0.0, 1.0) for _ in range(n)])
        sigma = self.NOISE[self.scenario] / math.sqrt(n)
        return _unit([v + self._rng.gauss(0.0, sigma) for v in _unit(holder_template)])


@dataclass(frozen=True)
class FaceMatch:
    matched: bool
    score: float


class FaceMatcher:
    def __init__(self, threshold: float) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"face threshold must be between 0 and 1, got {threshold}")
        self.threshold = threshold

    def compare(self, card_template: list[float], captured: list[float]) -> FaceMatch:
        if len(card_template) != len(captured) or not card_template:
            return FaceMatch(False, 0.0)
        a, b = _unit(card_template), _unit(captured)
        score = sum(x * y for x, y in zip(a, b, strict=True))
        return FaceMatch(score >= self.threshold, round(score, 4))
