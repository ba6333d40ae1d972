"""Exact money: Decimal amounts in cents, never float arithmetic, and ISO-4217 currency codes."""
from __future__ import annotations

import math
import re
from collections.abc import Iterable
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_MONEY = Decimal("1000000000000")  # a trillion: larger amounts are a bug, not an order

# ASCII only: Decimal() would also accept "1_000", " 5 " and non-Latin digits.
_DECIMAL_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?")
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")


class MoneyError(ValueError):
    """A value that is not an amount of money."""


def to_money(value: object) -> Decimal:
    """The amount as a Decimal rounded half-up to the cent; refuses NaN, infinity and text that is not a number."""
    amount = _to_decimal(value)
    if not amount.is_finite():
        raise MoneyError(f"{value!r} is not a finite amount")
    if abs(amount) >= MAX_MONEY:
        raise MoneyError(f"{value!r} is implausibly large for an amount")
    return round_to_cent(amount)


def round_to_cent(amount: Decimal) -> Decimal:
    """An exact Decimal rounded half-up to the cent, for results of arithmetic on amounts already read."""
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    return ZERO if rounded == 0 else rounded


def money_sum(values: Iterable[object]) -> Decimal:
    """The exact sum of amounts, each read with to_money; zero for none."""
    total = ZERO
    for value in values:
        total += to_money(value)
    return total


def is_currency_code(code: object) -> bool:
    """True for a string shaped like an ISO-4217 code: three uppercase letters."""
    return isinstance(code, str) and _CURRENCY_CODE.fullmatch(code) is not None


def to_currency(code: object) -> str:
    """The currency code, or MoneyError when it is not three uppercase letters."""
    if not is_currency_code(code):
        raise MoneyError(f"{code!r} is not a currency code (three uppercase letters, like USD)")
    return code


def _to_decimal(value: object) -> Decimal:
    if isinstance(value, bool):
        raise MoneyError(f"{value!r} is not an amount")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return _float_to_decimal(value)
    if isinstance(value, str):
        return _text_to_decimal(value)
    raise MoneyError(f"{value!r} is not an amount")


def _float_to_decimal(value: float) -> Decimal:
    # JSON numbers arrive as floats; repr() is the shortest text that reads back to the same
    # float, so 195.66 becomes Decimal("195.66") and not 195.659999...
    if not math.isfinite(value):
        raise MoneyError(f"{value!r} is not a finite amount")
    return Decimal(repr(value))


def _text_to_decimal(text: str) -> Decimal:
    stripped = text.strip()
    if not _DECIMAL_TEXT.fullmatch(stripped):
        raise MoneyError(f"{text!r} is not an amount")
    try:
        return Decimal(stripped)
    except InvalidOperation as error:
        raise MoneyError(f"{text!r} is not an amount") from error


def split_in_proportion(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """The amount shared to the cent in proportion to weights; leftover cents go to the largest remainders."""
    total_weight = sum(weights, ZERO)
    if not weights:
        return []
    if total_weight <= 0:
        return [amount] + [ZERO] * (len(weights) - 1)
    exact = [amount * weight / total_weight for weight in weights]
    shares = [share.quantize(CENT, rounding=ROUND_FLOOR) for share in exact]
    leftover_cents = int((amount - sum(shares, ZERO)) / CENT)
    by_remainder = sorted(range(len(weights)), key=lambda i: exact[i] - shares[i], reverse=True)
    for index in by_remainder[:leftover_cents]:
        shares[index] += CENT
    return shares
