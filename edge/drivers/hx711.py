"""HX711 load-cell amplifier for stock weight, bit-banged over two GPIO lines.

The pins are an injectable interface (`Pins`): `SysfsPins` drives them through the kernel's
sysfs GPIO files (standard library only); tests hand in a fake chip. Calibration: `tare()` sets
the zero offset with an empty bin, `calibrate(kg)` the scale with a known weight on it; put the
printed `offset` and `scale` into the sensor's options (see docs/edge.md).

Python cannot promise the clock line stays high for less than the HX711's 60 µs power-down
limit when the scheduler preempts it, so each read takes the median of several conversions and
refuses values at the converter's limits.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from edge.drivers.base import Driver, DriverError
from edge.protocol import SensorKind

SYSFS_GPIO = Path("/sys/class/gpio")
# Extra clock pulses after the 24 data bits select the next conversion's channel and gain.
GAIN_PULSES = {128: 1, 32: 2, 64: 3}
_FULL_SCALE = (0x7FFFFF, -0x800000)


class Pins(Protocol):
    """The two lines of an HX711: DOUT (input) and PD_SCK (output)."""

    def data(self) -> int:
        """The level of DOUT, 0 or 1."""
        ...

    def clock(self, high: bool) -> None:
        """Drive PD_SCK."""
        ...


class SysfsPins:
    """GPIO lines through /sys/class/gpio (BCM numbers; the chip's base found from its label)."""

    def __init__(self, data_pin: int, clock_pin: int, root: Path = SYSFS_GPIO) -> None:
        """Export both lines, set their directions and keep their value files open."""
        self._fds: list[int] = []
        try:
            base = self._base(root)
            self._data = self._open(root, base + data_pin, "in")
            self._clock = self._open(root, base + clock_pin, "low")
        except OSError as exc:
            self.close()
            raise DriverError(f"cannot set up GPIO {data_pin}/{clock_pin}: {exc}") from exc

    @staticmethod
    def _base(root: Path) -> int:
        """Newer kernels number the SoC's lines from 512; the pinctrl chip's base says where."""
        for chip in sorted(root.glob("gpiochip*")):
            if (chip / "label").read_text().startswith("pinctrl-"):
                return int((chip / "base").read_text())
        return 0

    def _open(self, root: Path, number: int, direction: str) -> int:
        """Export one line, set its direction, open its value file."""
        line = root / f"gpio{number}"
        if not line.exists():
            (root / "export").write_text(str(number))
        (line / "direction").write_text(direction)
        fd = os.open(line / "value", os.O_RDWR)
        self._fds.append(fd)
        return fd

    def data(self) -> int:
        """Read DOUT."""
        return 1 if os.pread(self._data, 1, 0) == b"1" else 0

    def clock(self, high: bool) -> None:
        """Drive PD_SCK."""
        os.pwrite(self._clock, b"1" if high else b"0", 0)

    def close(self) -> None:
        """Close the value files."""
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()


class HX711(Driver):
    """A load cell: kilograms = (raw - offset) / scale, median of `samples` conversions."""

    kinds = (SensorKind.BIN_WEIGHT,)

    def __init__(
        self,
        pins: Pins,
        *,
        offset: float = 0.0,
        scale: float = 1.0,
        gain: int = 128,
        samples: int = 5,
        ready_timeout_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`offset` and `scale` come from tare() and calibrate(); clock/sleep are injectable."""
        if gain not in GAIN_PULSES:
            raise DriverError(f"HX711 gain must be 128, 64 or 32, not {gain}")
        if scale == 0:
            raise DriverError("HX711 scale must not be 0")
        self.pins = pins
        self.offset = offset
        self.scale = scale
        self.gain = gain
        self.samples = max(1, samples)
        self._timeout = ready_timeout_s
        self._clock = clock
        self._sleep = sleep
        pins.clock(False)

    @classmethod
    def open(cls, data_pin: int = 5, clock_pin: int = 6, **options: float) -> HX711:
        """An HX711 on BCM lines `data_pin` (DOUT) and `clock_pin` (PD_SCK) through sysfs."""
        return cls(SysfsPins(data_pin, clock_pin), **options)  # type: ignore[arg-type]

    def read_raw(self) -> int:
        """One 24-bit conversion as a signed integer."""
        deadline = self._clock() + self._timeout
        # DOUT goes low when a conversion is ready (10 or 80 per second).
        while self.pins.data():
            if self._clock() > deadline:
                raise DriverError("HX711 not ready: check wiring and power")
            self._sleep(0.001)
        value = 0
        for _ in range(24):
            self.pins.clock(True)
            self.pins.clock(False)
            value = value << 1 | self.pins.data()
        for _ in range(GAIN_PULSES[self.gain]):
            self.pins.clock(True)
            self.pins.clock(False)
        return value - 0x1000000 if value & 0x800000 else value

    def read_median(self, samples: int | None = None) -> float:
        """The median of several conversions; a conversion at full scale is an error."""
        values = [self.read_raw() for _ in range(samples or self.samples)]
        if any(v in _FULL_SCALE for v in values):
            raise DriverError("HX711 at full scale: load cell overloaded or disconnected")
        return float(statistics.median(values))

    def tare(self, samples: int = 15) -> float:
        """Take the current load as zero; returns the new offset."""
        self.offset = self.read_median(samples)
        return self.offset

    def calibrate(self, known_kg: float, samples: int = 15) -> float:
        """With `known_kg` on the cell (after tare), set raw units per kg; returns the scale."""
        if known_kg <= 0:
            raise DriverError("the calibration weight must be positive")
        delta = self.read_median(samples) - self.offset
        if delta == 0:
            raise DriverError("no change from the tare value: is the weight on the cell?")
        self.scale = delta / known_kg
        return self.scale

    def read(self, ts_ms: int) -> Mapping[SensorKind, float]:
        """Net weight in kg."""
        return {SensorKind.BIN_WEIGHT: round((self.read_median() - self.offset) / self.scale, 3)}

    def close(self) -> None:
        """Power the chip down (clock held high) and release the pins."""
        self.pins.clock(True)
        close = getattr(self.pins, "close", None)
        if close is not None:
            close()


def main(argv: list[str] | None = None) -> int:
    """Interactive calibration: prints the `offset` and `scale` options for agent.toml."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m edge.drivers.hx711", description=main.__doc__)
    parser.add_argument("--data-pin", type=int, default=5, help="BCM number of DOUT")
    parser.add_argument("--clock-pin", type=int, default=6, help="BCM number of PD_SCK")
    parser.add_argument("--known-kg", type=float, required=True, help="the calibration weight")
    args = parser.parse_args(argv)
    cell = HX711.open(args.data_pin, args.clock_pin)
    try:
        input("Empty the scale, then press Enter to tare. ")
        offset = cell.tare()
        input(f"Put {args.known_kg} kg on the scale, then press Enter. ")
        scale = cell.calibrate(args.known_kg)
    finally:
        cell.close()
    print(
        f"options = {{ data_pin = {args.data_pin}, clock_pin = {args.clock_pin}, "
        f"offset = {offset}, scale = {scale} }}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
