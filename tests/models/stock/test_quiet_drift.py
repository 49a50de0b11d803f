"""The quiet-hours temperature tracker of bins without a counter, on hand-made stretches."""

from __future__ import annotations

import math

from models.stock.quiet_drift import QuietDriftTracker

HOUR_MS = 3_600_000
STEP_MS = 600_000
FULL_KG = 200.0
RES_KG = 0.1


def run_nights(
    weight_change: list[float], temp_change: list[float], *, used_by_day: float = 5.0
) -> list[tuple[int, float]]:
    """Nights of 10 quiet hours, each moving the weight and temperature by the given amounts
    (linearly), with 14 working hours between them that use `used_by_day` kg; the findings as
    (night, slope)."""
    tracker = QuietDriftTracker()
    found = []
    ts, weight, temperature = 0, 150.0, 15.0
    for night, (dw, dt) in enumerate(zip(weight_change, temp_change, strict=True)):
        steps = 10 * HOUR_MS // STEP_MS
        for i in range(steps + 1):
            w = round((weight + dw * i / steps) / RES_KG) * RES_KG
            finding = tracker.update(
                ts, w, temperature + dt * i / steps, quiet=True, full_kg=FULL_KG, res_kg=RES_KG
            )
            if finding is not None:
                found.append((night, finding.slope_kg_per_k))
            ts += STEP_MS
        weight += dw
        temperature += dt
        for _ in range(14 * HOUR_MS // STEP_MS):
            weight -= used_by_day / 84
            # The temperature comes back by day: each night starts where it started before.
            finding = tracker.update(ts, weight, 15.0, quiet=False, full_kg=FULL_KG, res_kg=RES_KG)
            if finding is not None:
                found.append((night, finding.slope_kg_per_k))
            ts += STEP_MS
        temperature = 15.0
    return found


NIGHT_DT = [-3.0, -1.5, 2.0, -2.5, -1.0, 1.5, -3.5, -2.0]


def test_a_cell_following_the_temperature_at_night_is_found_with_its_slope() -> None:
    """0.5 kg/K on every night: found within the window, the slope's sign and size right."""
    found = run_nights([0.5 * dt for dt in NIGHT_DT], NIGHT_DT)
    assert len(found) == 1
    night, slope = found[0]
    assert night <= 5
    assert math.isclose(slope, 0.5, rel_tol=0.2)


def test_a_healthy_cell_that_holds_its_weight_at_night_raises_nothing() -> None:
    """The weight does not move at night, whatever the temperature does."""
    assert run_nights([0.0] * len(NIGHT_DT), NIGHT_DT) == []


def test_a_bin_used_a_little_every_night_is_not_a_faulty_cell() -> None:
    """Parts used around the clock: the weight falls about 1 kg every night, a little more on
    the warmer ones (more work), so its changes lie on a line, but one far from the origin:
    a warming night loses weight too."""
    changes = [-1.0 + 0.2 * dt for dt in NIGHT_DT]
    assert run_nights(changes, NIGHT_DT) == []


def test_one_item_taken_in_a_quiet_night_is_no_temperature_fault() -> None:
    """A single 2 kg item on one night only."""
    changes = [0.0] * len(NIGHT_DT)
    changes[3] = -2.0
    assert run_nights(changes, NIGHT_DT) == []


def test_a_fault_interrupts_the_open_stretch() -> None:
    """An interrupted stretch is not used: nothing is fitted from it."""
    tracker = QuietDriftTracker()
    for i in range(60):
        if i == 30:
            tracker.interrupt()
        assert (
            tracker.update(
                i * STEP_MS, 100.0 + 0.1 * i, 15.0 + 0.2 * i, quiet=True, full_kg=200, res_kg=0.1
            )
            is None
        )
    assert not tracker.alerted
