"""Sensor drivers against a fake sysfs tree, a fake I²C bus and fake GPIO pins."""

from __future__ import annotations

import math
import struct
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from edge.agent import Agent
from edge.config import ConfigError, DriverKind, SensorConfig, load_config
from edge.drivers import Driver, DriverError, make_driver
from edge.drivers.bme280 import (
    BME280,
    REG_CALIB_A,
    REG_CALIB_B,
    REG_CHIP_ID,
    REG_CTRL_HUM,
    REG_CTRL_MEAS,
    REG_DATA,
    REG_STATUS,
    Calibration,
    compensate_humidity,
    compensate_temperature,
)
from edge.drivers.ds18b20 import DS18B20
from edge.drivers.hx711 import HX711, SysfsPins
from edge.drivers.simulated import SimulatedSensor, simulated_value
from edge.protocol import SensorKind
from edge.spool import Spool
from shinshu.localservices import free_port

# --- simulated ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(SensorKind))
def test_simulated_values_are_deterministic_and_in_range(kind: SensorKind) -> None:
    """Every catalogue kind: same inputs give the same value, always inside the kind's range."""
    sensor = SimulatedSensor("s", (kind,), seed=4)
    for ts in range(1_764_000_000_000, 1_764_086_400_000, 3_600_000):
        value = sensor.read(ts)[kind]
        assert kind.spec.low <= value <= kind.spec.high
        assert value == simulated_value(4, "s", kind, ts)
    assert simulated_value(4, "s", kind, 5) != simulated_value(5, "s", kind, 5) or (
        kind is SensorKind.ITEM_COUNT
    )


def test_simulated_failure_raises_driver_error() -> None:
    """`fail = true` exercises the agent's error path."""
    with pytest.raises(DriverError, match="set to fail"):
        SimulatedSensor("bad", fail=True).read(0)


# --- DS18B20 -----------------------------------------------------------------------------

GOOD = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"


def w1_tree(root: Path, serial: str, text: str) -> Path:
    """A fake /sys/bus/w1/devices entry."""
    folder = root / serial
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "w1_slave").write_text(text)
    return folder


def test_ds18b20_reads_millidegrees(tmp_path: Path) -> None:
    """`t=23125` is 23.125 °C, reported under the configured kind."""
    w1_tree(tmp_path, "28-0316a27974ff", GOOD)
    sensor = DS18B20(SensorKind.AIR_TEMPERATURE, root=tmp_path)
    assert sensor.read(0) == {SensorKind.AIR_TEMPERATURE: 23.125}


def test_ds18b20_negative_and_selected_by_serial(tmp_path: Path) -> None:
    """Below zero, and with two probes on the bus the serial picks one."""
    w1_tree(tmp_path, "28-aaa", GOOD)
    w1_tree(tmp_path, "28-bbb", GOOD.replace("t=23125", "t=-10062"))
    assert DS18B20(serial="28-bbb", root=tmp_path).read(0) == {SensorKind.SOIL_TEMPERATURE: -10.062}
    with pytest.raises(DriverError, match="found 2"):
        DS18B20(root=tmp_path).read(0)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (GOOD.replace("YES", "NO"), "CRC"),
        (GOOD.replace("t=23125", "t=85000"), "power-on"),
        (GOOD.replace("t=23125", "t=abc"), "unreadable"),
        ("", "CRC"),
    ],
)
def test_ds18b20_refuses_bad_reads(tmp_path: Path, text: str, reason: str) -> None:
    """CRC failures, the power-on value and garbage are errors, not readings."""
    w1_tree(tmp_path, "28-aaa", text)
    with pytest.raises(DriverError, match=reason):
        DS18B20(root=tmp_path).read(0)


def test_ds18b20_missing_sensor_is_a_driver_error(tmp_path: Path) -> None:
    """An unplugged probe (no folder) is reported, not raised as an OSError."""
    with pytest.raises(DriverError, match="cannot read"):
        DS18B20(serial="28-gone", root=tmp_path).read(0)


# --- BME280 ------------------------------------------------------------------------------

# The datasheet's temperature example: dig_T1..T3 and adc_T = 519888 give 25.08 °C.
T1, T2, T3 = 27504, 26435, -1000
H1, H2, H3, H4, H5, H6 = 75, 362, 0, 313, 50, 30


class FakeBus:
    """Register file of a BME280 behind smbus2's interface; records writes."""

    def __init__(self, adc_t: int = 519888, adc_h: int = 30000, chip: int = 0x60) -> None:
        """Calibration of a typical part and the raw values the next conversion returns."""
        self.regs = dict.fromkeys(range(256), 0)
        self.regs[REG_CHIP_ID] = chip
        calib_a = struct.pack("<HhhHhhhhhhhhBB", T1, T2, T3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, H1)
        for i, byte in enumerate(calib_a):
            self.regs[REG_CALIB_A + i] = byte
        e4, e5, e6 = H4 >> 4 & 0xFF, (H4 & 0x0F) | (H5 & 0x0F) << 4, H5 >> 4 & 0xFF
        calib_b = struct.pack("<hB", H2, H3) + bytes([e4, e5, e6]) + struct.pack("<b", H6)
        for i, byte in enumerate(calib_b):
            self.regs[REG_CALIB_B + i] = byte
        data = [
            0x80,
            0,
            0,
            adc_t >> 12,
            adc_t >> 4 & 0xFF,
            (adc_t & 0xF) << 4,
            adc_h >> 8,
            adc_h & 0xFF,
        ]
        for i, byte in enumerate(data):
            self.regs[REG_DATA + i] = byte
        self.writes: list[tuple[int, int]] = []
        self.busy_polls = 2

    def read_byte_data(self, addr: int, reg: int) -> int:
        """Status reads report 'measuring' a couple of times first."""
        assert addr == 0x76
        if reg == REG_STATUS and self.busy_polls:
            self.busy_polls -= 1
            return 0x08
        return self.regs[reg]

    def read_i2c_block_data(self, addr: int, reg: int, length: int) -> list[int]:
        """Consecutive registers."""
        return [self.regs[reg + i] for i in range(length)]

    def write_byte_data(self, addr: int, reg: int, value: int) -> None:
        """Record the write."""
        self.writes.append((reg, value))


def humidity_double(adc_h: int, t_fine: int) -> float:
    """The datasheet's floating-point humidity formula, as an independent reference."""
    h = t_fine - 76800.0
    h = (adc_h - (H4 * 64.0 + H5 / 16384.0 * h)) * (
        H2 / 65536.0 * (1.0 + H6 / 67108864.0 * h * (1.0 + H3 / 67108864.0 * h))
    )
    h = h * (1.0 - H1 * h / 524288.0)
    return min(max(h, 0.0), 100.0)


def test_bme280_calibration_decodes_the_shared_nibbles() -> None:
    """H4 and H5 are 12-bit values packed around register 0xE5."""
    bus = FakeBus()
    cal = Calibration.from_registers(
        bus.read_i2c_block_data(0x76, REG_CALIB_A, 26),
        bus.read_i2c_block_data(0x76, REG_CALIB_B, 7),
    )
    assert (cal.t1, cal.t2, cal.t3) == (T1, T2, T3)
    assert (cal.h1, cal.h2, cal.h3, cal.h4, cal.h5, cal.h6) == (H1, H2, H3, H4, H5, H6)


def test_bme280_temperature_matches_the_datasheet_example() -> None:
    """adc_T 519888 with the example trimming is 25.08 °C and t_fine 128422."""
    cal = Calibration(T1, T2, T3, H1, H2, H3, H4, H5, H6)
    assert compensate_temperature(519888, cal) == (25.08, 128422)


@pytest.mark.parametrize("adc_h", [25000, 27000, 30000, 35000])
def test_bme280_humidity_matches_the_floating_point_formula(adc_h: int) -> None:
    """The integer formula agrees with the datasheet's double version within 0.05 %RH."""
    cal = Calibration(T1, T2, T3, H1, H2, H3, H4, H5, H6)
    assert compensate_humidity(adc_h, 128422, cal) == pytest.approx(
        humidity_double(adc_h, 128422), abs=0.05
    )


def test_bme280_read_triggers_a_forced_conversion() -> None:
    """ctrl_hum before ctrl_meas (forced mode), wait while measuring, then compensate."""
    bus = FakeBus(adc_h=30000)
    values = BME280(bus, sleep=lambda _s: None).read(0)
    assert bus.writes == [(REG_CTRL_HUM, 1), (REG_CTRL_MEAS, 0b001_001_01)]
    assert bus.busy_polls == 0
    assert values[SensorKind.AIR_TEMPERATURE] == 25.08
    assert values[SensorKind.RELATIVE_HUMIDITY] == pytest.approx(
        humidity_double(30000, 128422), abs=0.05
    )


def test_bme280_wrong_chip_and_skipped_measurement_are_errors() -> None:
    """A BMP280 (id 0x58) is refused; the reset value 0x80000 means no measurement."""
    with pytest.raises(DriverError, match="chip id 0x58"):
        BME280(FakeBus(chip=0x58))
    with pytest.raises(DriverError, match="skipped"):
        BME280(FakeBus(adc_t=0x80000), sleep=lambda _s: None).read(0)


def test_bme280_bus_errors_become_driver_errors() -> None:
    """An I²C error (OSError from smbus2) is reported as the sensor's error."""

    class Broken(FakeBus):
        """A bus whose block reads fail."""

        def read_i2c_block_data(self, addr: int, reg: int, length: int) -> list[int]:
            """Fail like smbus2 does on a NACK."""
            raise OSError(121, "Remote I/O error")

    with pytest.raises(DriverError, match="Remote I/O"):
        BME280(Broken())


# --- HX711 -------------------------------------------------------------------------------


class FakeHX711:
    """An HX711 behind the Pins interface: shifts out queued 24-bit values, counts pulses."""

    def __init__(self, values: list[int], ready: bool = True) -> None:
        """`values` are the signed conversions to return, in order."""
        self.values = list(values)
        self.ready = ready
        self.bits: list[int] = []
        self.pulses_per_read: list[int] = []
        self._pulses = 0
        self._high = False

    def data(self) -> int:
        """DOUT: high while not ready; then the current bit."""
        if not self.bits:
            if not self.ready or not self.values:
                return 1
            if self._pulses:
                self.pulses_per_read.append(self._pulses)
                self._pulses = 0
            word = self.values.pop(0) & 0xFFFFFF
            self.bits = [word >> (23 - i) & 1 for i in range(24)]
            return 0
        return self.bits[0]

    def clock(self, high: bool) -> None:
        """A falling edge after a rising one is a pulse; during data it shifts the next bit."""
        if self._high and not high:
            self._pulses += 1
            if self._pulses > 1 and self.bits:
                self.bits.pop(0)
        self._high = high

    def finish(self) -> None:
        """Close the count of the last read."""
        self.pulses_per_read.append(self._pulses)


def read_all(cell: HX711, pins: FakeHX711, count: int) -> list[int]:
    """`count` raw reads."""
    values = [cell.read_raw() for _ in range(count)]
    pins.finish()
    return values


@pytest.mark.parametrize(("gain", "pulses"), [(128, 25), (32, 26), (64, 27)])
def test_hx711_reads_twos_complement_with_gain_pulses(gain: int, pulses: int) -> None:
    """24 data bits MSB first, sign-extended, then 1-3 pulses to pick the next gain."""
    pins = FakeHX711([123456, -98765, 0])
    cell = HX711(pins, gain=gain)
    assert read_all(cell, pins, 3) == [123456, -98765, 0]
    assert pins.pulses_per_read == [pulses] * 3


def test_hx711_tare_and_calibrate_give_kilograms() -> None:
    """Median of samples; tare sets the offset, a known weight the scale."""
    empty, loaded, bin_full = 8_000, 8_000 + 21_500 * 2, 8_000 + 21_500 * 37
    pins = FakeHX711(
        [empty] * 5 + [loaded] * 5 + [bin_full, bin_full, 9_999_99, bin_full, bin_full]
    )
    cell = HX711(pins, samples=5)
    assert cell.tare(samples=5) == empty
    assert cell.calibrate(2.0, samples=5) == 21_500
    # One wild conversion among five does not move the median.
    assert cell.read(0) == {SensorKind.BIN_WEIGHT: 37.0}


def test_hx711_not_ready_times_out_on_the_injected_clock() -> None:
    """DOUT never goes low: a DriverError after the timeout, measured on the fake clock."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        """Advance the fake clock instead of sleeping."""
        now[0] += seconds

    cell = HX711(FakeHX711([], ready=False), ready_timeout_s=0.5, clock=lambda: now[0], sleep=sleep)
    with pytest.raises(DriverError, match="not ready"):
        cell.read_raw()
    assert 0.5 < now[0] < 0.6


def test_hx711_full_scale_is_an_error() -> None:
    """0x7FFFFF means overload or a broken wire, not a weight."""
    cell = HX711(FakeHX711([0x7FFFFF] * 3), samples=3)
    with pytest.raises(DriverError, match="full scale"):
        cell.read(0)


# --- factory -----------------------------------------------------------------------------


def test_make_driver_checks_kinds_and_options(tmp_path: Path) -> None:
    """A driver cannot be asked for a kind it cannot measure; unknown options are refused."""
    bad_kind = SensorConfig("x", DriverKind.DS18B20, (SensorKind.WIND_SPEED,), 1.0)
    with pytest.raises(DriverError, match="temperature"):
        make_driver(bad_kind)
    air = SensorConfig(
        "x", DriverKind.DS18B20, (SensorKind.AIR_TEMPERATURE,), 1.0, True, {"root": str(tmp_path)}
    )
    assert isinstance(make_driver(air), DS18B20)
    typo = SensorConfig("x", DriverKind.SIMULATED, (), 1.0, True, {"sed": 3})
    with pytest.raises(ConfigError, match="bad driver options"):
        make_driver(typo)
    hx = SensorConfig("x", DriverKind.HX711, (SensorKind.AIR_TEMPERATURE,), 1.0, True, {"scale": 0})
    with pytest.raises(DriverError):
        make_driver(hx)


def test_sysfs_pins_use_the_pinctrl_base_and_value_files(tmp_path: Path) -> None:
    """Newer kernels number the SoC's lines from 512: BCM 5 is gpio517; values are files."""
    (tmp_path / "gpiochip512").mkdir()
    (tmp_path / "gpiochip512" / "label").write_text("pinctrl-bcm2711\n")
    (tmp_path / "gpiochip512" / "base").write_text("512\n")
    (tmp_path / "export").write_text("")
    for line in ("gpio517", "gpio518"):
        (tmp_path / line).mkdir()
        (tmp_path / line / "value").write_text("1")
    pins = SysfsPins(5, 6, root=tmp_path)
    assert (tmp_path / "gpio517" / "direction").read_text() == "in"
    assert (tmp_path / "gpio518" / "direction").read_text() == "low"
    assert pins.data() == 1
    pins.clock(False)
    assert (tmp_path / "gpio518" / "value").read_text() == "0"
    pins.close()


def test_sysfs_pins_without_gpio_access_is_a_driver_error(tmp_path: Path) -> None:
    """No sysfs GPIO (or no permission): a DriverError the agent reports and retries."""
    with pytest.raises(DriverError, match="cannot set up GPIO"):
        SysfsPins(5, 6, root=tmp_path / "missing")


# --- the agent around drivers --------------------------------------------------------------


class NaNSensor(SimulatedSensor):
    """A driver that returns NaN, as a broken ADC might."""

    def read(self, ts_ms: int) -> Mapping[SensorKind, float]:
        """Always NaN."""
        return {kind: math.nan for kind in self.kinds}


def test_agent_reports_bad_sensors_and_keeps_sampling_the_others(tmp_path: Path) -> None:
    """A raising driver and a NaN driver are counted with their errors; the good one samples."""
    config_file = tmp_path / "agent.toml"
    sensor = (
        '[[sensors]]\nname = "{}"\ndriver = "simulated"\nkind = "air_temperature"\n'
        "interval_s = 0.02\n"
    )
    config_file.write_text(
        f'device = "pi"\nmqtt_url = "mqtt://127.0.0.1:{free_port()}"\n'
        f'data_dir = "{tmp_path / "data"}"\nbackoff_base_s = 5\n'
        + sensor.format("good")
        + sensor.format("broken")
        + "options = { fail = true }\n"
        + sensor.format("nan")
    )
    config = load_config(config_file, env={})

    def factory(sensor: SensorConfig) -> Driver:
        """The NaN sensor is ours; the rest come from the real factory."""
        return NaNSensor(sensor.name, sensor.kinds) if sensor.name == "nan" else make_driver(sensor)

    agent = Agent(config, driver_factory=factory)
    runner = threading.Thread(target=agent.run)
    runner.start()
    time.sleep(0.5)
    agent.stop.set()
    runner.join(30)
    good, broken, nan = (agent.health.sensor(name) for name in ("good", "broken", "nan"))
    assert good.readings >= 10 and good.errors == 0
    assert broken.readings == 0 and broken.errors >= 10
    assert "set to fail" in (broken.last_error or "")
    assert nan.readings == 0 and "non-finite" in (nan.last_error or "")
    spool = Spool(config.data_path / "spool.sqlite3")
    assert spool.stats().readings == good.readings
