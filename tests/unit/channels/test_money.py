from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.money import ZERO, MoneyError, is_currency_code, money_sum, split_in_proportion, to_currency, to_money


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2.345", "2.35"),
        ("2.344", "2.34"),
        ("-2.345", "-2.35"),
        ("0.005", "0.01"),
        (" 12.5 ", "12.50"),
        ("1e3", "1000.00"),
        (7, "7.00"),
        (Decimal("3.14159"), "3.14"),
    ],
)
def test_to_money_rounds_half_up_to_the_cent(value, expected):
    assert to_money(value) == Decimal(expected)
    assert str(to_money(value)) == expected


def test_a_json_float_becomes_the_decimal_it_was_written_as():
    assert str(to_money(195.66)) == "195.66"
    assert str(to_money(0.1 + 0.2)) == "0.30"


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), float("-inf"), "NaN", "Infinity", "-inf", Decimal("NaN"), Decimal("Infinity"),
     "abc", "", "   ", "1,000.00", "1_000", "$5", "12.5.0", "١٢", True, None, [1], {"amount": "1"}, "1e999"],
)
def test_to_money_refuses_what_is_not_a_finite_amount_with_a_value_error(value):
    with pytest.raises(MoneyError):
        to_money(value)
    with pytest.raises(ValueError):
        to_money(value)


def test_negative_zero_reads_as_plain_zero():
    assert str(to_money("-0.001")) == "0.00"


def test_money_sum_is_exact_where_float_would_drift():
    assert money_sum(["0.10", "0.10", "0.10"]) == Decimal("0.30")
    assert money_sum([]) == ZERO
    assert money_sum(["19.99", 1, Decimal("0.01")]) == Decimal("21.00")


@pytest.mark.parametrize("code", ["USD", "EUR", "JPY", "GBP"])
def test_three_capital_letters_are_a_currency_code(code):
    assert is_currency_code(code)
    assert to_currency(code) == code


@pytest.mark.parametrize("code", ["usd", "US", "USDX", "U$D", "", None, 840, "USD\n"])
def test_anything_else_is_not_a_currency_code(code):
    assert not is_currency_code(code)
    with pytest.raises(MoneyError):
        to_currency(code)


def test_split_in_proportion_gives_leftover_cents_to_the_largest_remainders():
    assert split_in_proportion(Decimal("10.00"), [Decimal(1)] * 3) == [Decimal("3.34"), Decimal("3.33"), Decimal("3.33")]
    assert split_in_proportion(Decimal("11.94"), [Decimal("199.00")] * 3) == [Decimal("3.98")] * 3
    assert split_in_proportion(Decimal("5.00"), [ZERO, ZERO]) == [Decimal("5.00"), ZERO]
    assert split_in_proportion(Decimal("5.00"), []) == []


cents = st.integers(min_value=0, max_value=10**9).map(lambda c: Decimal(c) / 100)


@given(amount=cents, weights=st.lists(cents, min_size=1, max_size=20))
def test_split_in_proportion_always_adds_up_to_the_amount_and_stays_within_a_cent(amount, weights):
    shares = split_in_proportion(amount, weights)
    assert sum(shares, ZERO) == amount
    total_weight = sum(weights, ZERO)
    if total_weight > 0:
        for share, weight in zip(shares, weights):
            assert abs(share - amount * weight / total_weight) < Decimal("0.01")
