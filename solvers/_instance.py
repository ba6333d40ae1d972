"""Reading solver instances: typed field access that names the offending field on error."""
from __future__ import annotations

from typing import Any


class InstanceError(ValueError):
    """A malformed instance; the message names the offending field."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field


def require(obj: Any, key: str, where: str) -> Any:
    if not isinstance(obj, dict):
        raise InstanceError(where, "must be an object")
    if key not in obj:
        raise InstanceError(f"{where}.{key}" if where else key, "is missing")
    return obj[key]


def number(value: Any, field: str, *, minimum: float | None = 0, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InstanceError(field, "must be a number")
    if value != value or value in (float("inf"), float("-inf")):
        raise InstanceError(field, "must be finite")
    if minimum is not None and value < minimum:
        raise InstanceError(field, f"must be at least {minimum}")
    return value


def integer(value: Any, field: str, *, minimum: int | None = 0, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise InstanceError(field, "must be an integer")
    if minimum is not None and value < minimum:
        raise InstanceError(field, f"must be at least {minimum}")
    return value


def text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise InstanceError(field, "must be a non-empty string")
    return value


def items(value: Any, field: str) -> list:
    if not isinstance(value, list):
        raise InstanceError(field, "must be a list")
    return value


def clock(value: Any, field: str) -> int:
    """An "HH:MM" time as minutes after midnight."""
    if not isinstance(value, str) or len(value.split(":")) != 2:
        raise InstanceError(field, 'must be a time "HH:MM"')
    hours, minutes = value.split(":")
    if not (hours.isdigit() and minutes.isdigit()) or int(minutes) > 59 or int(hours) > 47:
        raise InstanceError(field, 'must be a time "HH:MM"')
    return int(hours) * 60 + int(minutes)


def format_clock(minutes: float) -> str:
    minutes = int(round(minutes))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
