"""Sensor drivers behind one interface: simulated sensors and common Raspberry Pi hardware.

Hardware drivers import nothing beyond the standard library at module level; an optional
dependency (smbus2 for I²C) is imported only when such a sensor is configured.
"""

from __future__ import annotations

from edge.config import ConfigError, DriverKind, SensorConfig
from edge.drivers.base import Driver, DriverError

__all__ = ["Driver", "DriverError", "make_driver"]


def make_driver(sensor: SensorConfig) -> Driver:
    """Build the driver a sensor's configuration names, or raise ConfigError with the reason."""
    options = dict(sensor.options)
    driver = _build(sensor, options)
    unsupported = [kind.value for kind in sensor.kinds if kind not in driver.kinds]
    if unsupported:
        driver.close()
        what = ", ".join(unsupported)
        raise ConfigError(f"sensor {sensor.name!r}: a {sensor.driver.value} cannot measure {what}")
    return driver


def _build(sensor: SensorConfig, options: dict[str, object]) -> Driver:
    """Construct the driver; a wrong option name or type is a configuration error."""
    try:
        if sensor.driver is DriverKind.SIMULATED:
            from edge.drivers.simulated import SimulatedSensor

            return SimulatedSensor(sensor.name, sensor.kinds, **options)  # type: ignore[arg-type]
        if sensor.driver is DriverKind.DS18B20:
            from edge.drivers.ds18b20 import DS18B20

            return DS18B20(*sensor.kinds[:1], **options)  # type: ignore[arg-type]
        if sensor.driver is DriverKind.BME280:
            from edge.drivers.bme280 import BME280

            return BME280.open(**options)  # type: ignore[arg-type]
        from edge.drivers.hx711 import HX711

        return HX711.open(**options)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ConfigError(f"sensor {sensor.name!r}: bad driver options: {exc}") from exc
