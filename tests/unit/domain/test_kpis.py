"""KPI definitions and their arithmetic, without a database."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from app.domain.kpis import (BY_CODE, DEFINITIONS, Direction, Period, Standing, Unit, hours_between, mean, ratio,
                             shown, standing)
from app.domain.roles import Role


def test_each_kpi_is_defined_once_with_a_formula_a_target_and_an_owner():
    assert len(BY_CODE) == len(DEFINITIONS)
    for d in DEFINITIONS:
        assert d.formula.endswith(".") and d.records and d.name
        assert isinstance(d.owner, Role) and d.owner != Role.ADMIN
        assert d.target > 0 and d.window_days > 0
        if d.unit == Unit.PERCENT:
            assert d.target <= 1, f"{d.code}: percentages are fractions"


def test_a_value_meets_misses_narrowly_or_misses_its_target_in_the_right_direction():
    up, down, ten = Direction.UP, Direction.DOWN, Decimal("0.10")
    assert standing(Decimal("0.95"), Decimal("0.95"), up, ten) == Standing.OK
    assert standing(Decimal("0.90"), Decimal("0.95"), up, ten) == Standing.WARN  # within 0.095 of target
    assert standing(Decimal("0.80"), Decimal("0.95"), up, ten) == Standing.BAD
    assert standing(Decimal("50"), Decimal("48"), down, ten) == Standing.WARN
    assert standing(Decimal("60"), Decimal("48"), down, ten) == Standing.BAD
    assert standing(Decimal("12"), Decimal("48"), down, ten) == Standing.OK
    assert standing(None, Decimal("48"), down, ten) == Standing.NONE


def test_ratio_and_mean_round_to_four_places_and_have_no_value_without_data():
    assert ratio(6, 7) == Decimal("0.8571")
    assert ratio(3, 0) is None
    assert mean([10, 20, 30]) == Decimal("20.0000")
    assert mean([]) is None


def test_periods_and_durations():
    end = datetime(2026, 3, 8, tzinfo=timezone.utc)
    period = Period.trailing(end, 7)
    assert period.start == datetime(2026, 3, 1, tzinfo=timezone.utc) and period.days == 7
    assert hours_between(period.start, datetime(2026, 3, 1, 1, 30, tzinfo=timezone.utc)) == Decimal("1.5")


def test_values_are_shown_in_their_units():
    assert shown(Decimal("0.9734"), Unit.PERCENT) == "97.3%"
    assert shown(Decimal("41.54"), Unit.HOURS) == "41.5 h"
    assert shown(Decimal("12"), Unit.DAYS) == "12.0 days"
    assert shown(Decimal("-6.4"), Unit.MONEY) == "−£6.40"
    assert shown(None, Unit.DAYS) == "—"
