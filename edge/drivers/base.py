"""The one small interface every sensor driver implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

from edge.errors import EdgeError
from edge.protocol import SensorKind


class DriverError(EdgeError):
    """A sensor could not be read this time; the agent reports it and tries again later."""


class Driver(ABC):
    """A sensor: `read` returns one value per kind it measures, in the kind's canonical unit."""

    #: The kinds this driver can report; a sensor's configuration picks among them.
    kinds: tuple[SensorKind, ...] = ()

    @abstractmethod
    def read(self, ts_ms: int) -> Mapping[SensorKind, float]:
        """Measure now (`ts_ms` is the timestamp the readings will carry); raise DriverError."""

    def close(self) -> None:
        """Release the hardware (files, buses, pins); the default has nothing to release."""
        return None
