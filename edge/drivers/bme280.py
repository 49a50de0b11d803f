"""Bosch BME280 temperature and humidity sensor on I²C (pressure is not in the catalogue).

Talks to any bus object with smbus2's `read_byte_data`, `read_i2c_block_data` and
`write_byte_data` (injectable; `smbus2` is the optional extra `bme280`). Measures in forced mode
(one conversion per read, then the sensor sleeps) and compensates with the datasheet's integer
formulas (BME280 datasheet rev. 1.6, section 4.2.3).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from edge.drivers.base import Driver, DriverError
from edge.protocol import SensorKind

CHIP_ID = 0x60
REG_CHIP_ID = 0xD0
REG_CALIB_A = 0x88  # 26 bytes: temperature, pressure, H1
REG_CALIB_B = 0xE1  # 7 bytes: H2..H6
REG_CTRL_HUM = 0xF2
REG_STATUS = 0xF3
REG_CTRL_MEAS = 0xF4
REG_DATA = 0xF7  # 8 bytes: pressure, temperature, humidity
STATUS_MEASURING = 0x08
OVERSAMPLE_X1 = 1
MODE_FORCED = 1


class I2CBus(Protocol):
    """The part of smbus2.SMBus the driver uses."""

    def read_byte_data(self, i2c_addr: int, register: int) -> int:
        """One byte from a register."""
        ...

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]:
        """`length` bytes from consecutive registers."""
        ...

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None:
        """One byte to a register."""
        ...


def _u16(data: list[int], at: int) -> int:
    """Little-endian unsigned 16 bits at `at`."""
    return data[at] | data[at + 1] << 8


def _s16(data: list[int], at: int) -> int:
    """Little-endian signed 16 bits at `at`."""
    value = _u16(data, at)
    return value - 0x10000 if value & 0x8000 else value


def _s8(value: int) -> int:
    """A byte as a signed number."""
    return value - 0x100 if value & 0x80 else value


@dataclass(frozen=True, slots=True)
class Calibration:
    """Factory trimming parameters read from the sensor's NVM."""

    t1: int
    t2: int
    t3: int
    h1: int
    h2: int
    h3: int
    h4: int
    h5: int
    h6: int

    @classmethod
    def from_registers(cls, block_a: list[int], block_b: list[int]) -> Calibration:
        """Decode 0x88..0xA1 and 0xE1..0xE7 (H4 and H5 share the nibbles of 0xE5)."""
        return cls(
            t1=_u16(block_a, 0),
            t2=_s16(block_a, 2),
            t3=_s16(block_a, 4),
            h1=block_a[25],
            h2=_s16(block_b, 0),
            h3=block_b[2],
            h4=_s8(block_b[3]) * 16 | (block_b[4] & 0x0F),
            h5=_s8(block_b[5]) * 16 | (block_b[4] >> 4),
            h6=_s8(block_b[6]),
        )


def compensate_temperature(adc_t: int, cal: Calibration) -> tuple[float, int]:
    """Degrees Celsius and t_fine (which humidity compensation needs), datasheet integer form."""
    var1 = (((adc_t >> 3) - (cal.t1 << 1)) * cal.t2) >> 11
    var2 = (((((adc_t >> 4) - cal.t1) * ((adc_t >> 4) - cal.t1)) >> 12) * cal.t3) >> 14
    t_fine = var1 + var2
    return ((t_fine * 5 + 128) >> 8) / 100.0, t_fine


def compensate_humidity(adc_h: int, t_fine: int, cal: Calibration) -> float:
    """Relative humidity in %RH, datasheet integer form (Q22.10 fixed point)."""
    v = t_fine - 76800
    head = (((adc_h << 14) - (cal.h4 << 20) - (cal.h5 * v)) + 16384) >> 15
    tail = (
        (((((v * cal.h6) >> 10) * (((v * cal.h3) >> 11) + 32768)) >> 10) + 2097152) * cal.h2 + 8192
    ) >> 14
    x = head * tail
    x = x - (((((x >> 15) * (x >> 15)) >> 7) * cal.h1) >> 4)
    x = min(max(x, 0), 419_430_400)
    return (x >> 12) / 1024.0


class BME280(Driver):
    """A BME280 at `address` on `bus`; reads temperature and humidity in forced mode."""

    kinds = (SensorKind.AIR_TEMPERATURE, SensorKind.RELATIVE_HUMIDITY)

    def __init__(
        self,
        bus: I2CBus,
        address: int = 0x76,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_polls: int = 50,
    ) -> None:
        """Check the chip id and read the calibration; `sleep` paces the conversion wait."""
        self.bus = bus
        self.address = address
        self._sleep = sleep
        self._max_polls = max_polls
        try:
            chip = bus.read_byte_data(address, REG_CHIP_ID)
            if chip != CHIP_ID:
                raise DriverError(f"no BME280 at 0x{address:02x} (chip id 0x{chip:02x})")
            self.calibration = Calibration.from_registers(
                bus.read_i2c_block_data(address, REG_CALIB_A, 26),
                bus.read_i2c_block_data(address, REG_CALIB_B, 7),
            )
        except OSError as exc:
            raise DriverError(f"BME280 at 0x{address:02x}: {exc}") from exc

    @classmethod
    def open(cls, bus: int = 1, address: int = 0x76) -> BME280:
        """Open I²C bus number `bus` with smbus2 (the optional extra `bme280`)."""
        try:
            from smbus2 import SMBus  # type: ignore[import-not-found]
        except ImportError as exc:
            raise DriverError("the BME280 driver needs smbus2: pip install smbus2") from exc
        try:
            return cls(SMBus(bus), address)
        except OSError as exc:
            raise DriverError(f"cannot open I²C bus {bus}: {exc}") from exc

    def read(self, ts_ms: int) -> Mapping[SensorKind, float]:
        """Trigger one forced conversion, wait for it, compensate."""
        addr = self.address
        try:
            # ctrl_hum takes effect only with the following write to ctrl_meas.
            self.bus.write_byte_data(addr, REG_CTRL_HUM, OVERSAMPLE_X1)
            self.bus.write_byte_data(
                addr, REG_CTRL_MEAS, OVERSAMPLE_X1 << 5 | OVERSAMPLE_X1 << 2 | MODE_FORCED
            )
            for _ in range(self._max_polls):
                self._sleep(0.002)
                if not self.bus.read_byte_data(addr, REG_STATUS) & STATUS_MEASURING:
                    break
            else:
                raise DriverError(f"BME280 at 0x{addr:02x}: conversion did not finish")
            data = self.bus.read_i2c_block_data(addr, REG_DATA, 8)
        except OSError as exc:
            raise DriverError(f"BME280 at 0x{addr:02x}: {exc}") from exc
        adc_t = data[3] << 12 | data[4] << 4 | data[5] >> 4
        adc_h = data[6] << 8 | data[7]
        if adc_t == 0x80000 or adc_h == 0x8000:
            # The reset values: the measurement was skipped.
            raise DriverError(f"BME280 at 0x{addr:02x}: measurement skipped")
        temperature, t_fine = compensate_temperature(adc_t, self.calibration)
        return {
            SensorKind.AIR_TEMPERATURE: temperature,
            SensorKind.RELATIVE_HUMIDITY: round(
                compensate_humidity(adc_h, t_fine, self.calibration), 3
            ),
        }

    def close(self) -> None:
        """Close the bus if it can be closed."""
        close = getattr(self.bus, "close", None)
        if close is not None:
            close()
