"""The Soil Water Index tank model: decay, hand-computed steps, mass balance, step sizes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.landslide.errors import LandslideError
from models.landslide.tank import (
    JMA_TANKS,
    Outlet,
    Tank,
    TankModel,
    run_tanks,
    substeps,
)

TEN_MIN_H = 10 / 60


def _storm(seed: int, hours: int) -> tuple[np.ndarray, np.ndarray]:
    """Hourly rain and the same rain at 10 minutes, spread unevenly within each hour."""
    rng = np.random.default_rng(seed)
    hourly = np.where(rng.random(hours) < 0.6, rng.gamma(1.5, 8.0, hours), 0.0)
    weights = rng.dirichlet(np.full(6, 0.5), hours)
    return hourly, (hourly[:, None] * weights).ravel()


def test_without_rain_the_index_only_decays_and_stays_non_negative() -> None:
    """From wet tanks and 30 dry days, the SWI falls every step and no tank goes below zero."""
    series = run_tanks(np.zeros(30 * 144), step_minutes=10, initial_mm=(90.0, 40.0, 20.0))
    swi = series.swi_mm
    assert swi[0] < 150.0
    assert np.all(np.diff(swi) < 0)
    assert np.all(series.storage_mm >= 0)
    assert swi[-1] < 0.05 * 150.0


def test_a_pulse_decays_as_the_tank_equations_computed_by_hand() -> None:
    """30 mm in one 10-minute step, then two dry steps, against the equations worked by hand."""
    series = run_tanks([30.0, 0.0, 0.0], step_minutes=10)
    # Step 1: rain arrives at the end of the step, nothing has drained yet.
    assert series.storage_mm[0].tolist() == [30.0, 0.0, 0.0]
    # Step 2: tank 1 holds 30 mm > 15 mm: side 0.1*(30-15)*dt, bottom 0.12*30*dt into tank 2.
    side1, down1 = 0.10 * (30 - 15) * TEN_MIN_H, 0.12 * 30 * TEN_MIN_H
    s1, s2 = 30 - side1 - down1, down1
    assert series.storage_mm[1] == pytest.approx([s1, s2, 0.0], abs=1e-12)
    assert series.side_mm[1] == pytest.approx([side1, 0.0, 0.0], abs=1e-12)
    # Step 3: tank 2 is below its 15 mm outlet, so it only passes 0.05*s2*dt on to tank 3.
    side1b, down1b = 0.10 * (s1 - 15) * TEN_MIN_H, 0.12 * s1 * TEN_MIN_H
    down2 = 0.05 * s2 * TEN_MIN_H
    expected = [s1 - side1b - down1b, s2 - down2 + down1b, down2]
    assert series.storage_mm[2] == pytest.approx(expected, abs=1e-12)
    assert series.swi_mm[2] == pytest.approx(sum(expected), abs=1e-12)


def test_above_sixty_mm_the_upper_outlet_of_the_first_tank_also_drains() -> None:
    """At 80 mm both side outlets of tank 1 run: 0.10*(80-15) + 0.15*(80-60) per hour."""
    series = run_tanks([80.0, 0.0], step_minutes=10)
    expected_side = (0.10 * 65 + 0.15 * 20) * TEN_MIN_H
    assert series.side_mm[1][0] == pytest.approx(expected_side, abs=1e-12)
    assert series.storage_mm[1][0] == pytest.approx(
        80 - expected_side - 0.12 * 80 * TEN_MIN_H, abs=1e-12
    )


@pytest.mark.parametrize("step_minutes", [1, 5, 10, 15, 60])
def test_rain_in_equals_storage_plus_outflows(step_minutes: int) -> None:
    """Over a storm at any step, rain = storage gained + side outflows + deep percolation."""
    rng = np.random.default_rng(step_minutes)
    rain = np.where(rng.random(500) < 0.4, rng.gamma(1.2, 6.0, 500), 0.0)
    start = (12.0, 30.0, 25.0)
    series = run_tanks(rain, step_minutes=step_minutes, initial_mm=start)
    gained = series.swi_mm - sum(start)
    out = np.cumsum(series.side_mm.sum(axis=1) + series.deep_mm)
    assert np.allclose(np.cumsum(rain), gained + out, rtol=0, atol=1e-9)
    assert out[-1] > 0


def test_hourly_rain_spread_evenly_gives_the_ten_minute_result_exactly() -> None:
    """An hourly step is six 10-minute steps with a sixth of its rain in each."""
    hourly, _ = _storm(3, 48)
    ten = np.repeat(hourly / 6, 6)
    by_hour = run_tanks(hourly, step_minutes=60).swi_mm
    by_ten = run_tanks(ten, step_minutes=10).swi_mm[5::6]
    assert np.allclose(by_hour, by_ten, rtol=0, atol=1e-9)


def test_hourly_and_ten_minute_inputs_of_the_same_storm_agree_closely() -> None:
    """Uneven 10-minute rain and its hourly totals give SWIs within 0.5 % of the storm's peak."""
    hourly, ten = _storm(7, 48)
    by_ten = run_tanks(ten, step_minutes=10).swi_mm[5::6]
    by_hour = run_tanks(hourly, step_minutes=60).swi_mm
    assert by_ten.max() > 100.0
    assert np.abs(by_ten - by_hour).max() < 0.005 * by_ten.max()


def test_ten_minute_steps_are_close_to_a_much_finer_integration() -> None:
    """The 10-minute Euler steps stay within 0.3 % of peak of 1-minute steps on the same rain."""
    _, ten = _storm(11, 48)
    fine = run_tanks(np.repeat(ten / 10, 10), step_minutes=1).swi_mm[9::10]
    coarse = run_tanks(ten, step_minutes=10).swi_mm
    assert np.abs(fine - coarse).max() < 0.003 * fine.max()


def test_long_steps_are_split_into_substeps_of_at_most_ten_minutes() -> None:
    """60 min is six 10-minute substeps, 15 min two of 7.5, 5 min one of 5."""
    assert substeps(60) == (6, pytest.approx(10 / 60))
    assert substeps(15) == (2, pytest.approx(7.5 / 60))
    assert substeps(5) == (1, pytest.approx(5 / 60))


def test_the_streaming_model_matches_the_batch_run_and_resumes_from_its_state() -> None:
    """step() per row equals run_tanks; a JSON round trip of state() mid-way changes nothing."""
    _, ten = _storm(5, 24)
    batch = run_tanks(ten, step_minutes=10).swi_mm
    model = TankModel(step_minutes=10)
    first = [model.step(r) for r in ten[:70]]
    resumed = TankModel.from_state(json.loads(json.dumps(model.state())))
    rest = [resumed.step(r) for r in ten[70:]]
    assert np.allclose(first + rest, batch, rtol=0, atol=1e-12)
    assert resumed.swi_mm == pytest.approx(batch[-1])


def test_the_published_parameters_are_the_defaults() -> None:
    """Outlet heights and per-hour coefficients of JMA's uniform parameter set."""
    assert JMA_TANKS[0] == Tank((Outlet(15.0, 0.10), Outlet(60.0, 0.15)), 0.12)
    assert JMA_TANKS[1] == Tank((Outlet(15.0, 0.05),), 0.05)
    assert JMA_TANKS[2] == Tank((Outlet(15.0, 0.01),), 0.01)


def test_negative_rain_and_unstable_parameters_are_refused_in_both_languages() -> None:
    """The messages say what is wrong in Japanese and in English."""
    with pytest.raises(LandslideError) as negative:
        run_tanks([1.0, -0.5], step_minutes=10)
    assert "負" in str(negative.value)
    assert "negative" in str(negative.value)
    leaky = (Tank((Outlet(0.0, 5.0),), 2.0), *JMA_TANKS[1:])
    with pytest.raises(LandslideError) as unstable:
        run_tanks([1.0], step_minutes=10, tanks=leaky)
    assert "tank 1" in str(unstable.value)
    assert "第1タンク" in str(unstable.value)
    with pytest.raises(LandslideError):
        TankModel.from_state({"step_minutes": 10})


def test_a_state_keeps_site_calibrated_parameters() -> None:
    """A model with its own tanks resumes with those tanks, not the national defaults."""
    own = (Tank((Outlet(10.0, 0.2),), 0.1), Tank((Outlet(20.0, 0.04),), 0.03), JMA_TANKS[2])
    model = TankModel(step_minutes=10, tanks=own)
    model.step(25.0)
    resumed = TankModel.from_state(json.loads(json.dumps(model.state())))
    assert resumed.tanks == own
    assert resumed.step(0.0) == pytest.approx(model.step(0.0))
