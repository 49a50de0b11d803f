"""The one contract of the online models, in river's naming; batch estimators use scikit-learn's.

An online model sees one observation at a time, in time order, and keeps its state between
them: `learn_one(...)` learns from an observation. A detector also judges it: `score_one(...)`
returns the verdict on the observation from what was learnt before it, then learns it
(test-then-train in one pass, as streaming detectors are evaluated; their memories score and
update in the same walk, so a separate pure score would do the work twice). The observation is
the method's arguments (e.g. a time and a value), typed per model by the `ParamSpec`.

Batch estimators (the growth curve, the harvest models) keep scikit-learn's `fit(X, y)` and
`predict(X)` and pass its estimator checks; no class mixes the two styles.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Generic, ParamSpec, TypeVar

Observation = ParamSpec("Observation")
Verdict = TypeVar("Verdict")


class OnlineLearner(ABC, Generic[Observation]):
    """A model that learns from one observation at a time, in time order."""

    @abstractmethod
    def learn_one(self, *x: Observation.args, **kw: Observation.kwargs) -> None:
        """Learn from one observation."""


class OnlineDetector(OnlineLearner[Observation], Generic[Observation, Verdict]):
    """An online learner that judges each observation against the past only, then learns it."""

    @abstractmethod
    def score_one(self, *x: Observation.args, **kw: Observation.kwargs) -> Verdict:
        """The verdict on one observation from what was learnt before it; then learn it."""

    def learn_one(self, *x: Observation.args, **kw: Observation.kwargs) -> None:
        """Learn from one observation without asking for its verdict (warm-up, replay)."""
        self.score_one(*x, **kw)
