"""Pure return rules: states, window, non-returnables, label payer, restocking fee, inspection, and the analytics maths."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from app.domain.errors import InvalidTransition, ValidationError
from app.domain.returns import (QualitySignal, ReturnPolicy, ReturnReason, check_rma_transition, inspection_problems,
                                parse_reason, percentile, quality_signals, rate, reason_from_text, restocking_fee)

R = ReturnReason
SHIPPED = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def test_an_rma_moves_only_along_its_graph():
    assert check_rma_transition("authorised", "in_transit") == "in_transit"
    assert check_rma_transition("received", "inspected") == "inspected"
    with pytest.raises(InvalidTransition, match="authorised to refunded"):
        check_rma_transition("authorised", "refunded")
    with pytest.raises(InvalidTransition):
        check_rma_transition("closed", "received")


def test_the_window_counts_days_from_shipping():
    policy = ReturnPolicy(window_days=30)
    assert policy.returnable_problem("MUG", "Home", SHIPPED, SHIPPED + timedelta(days=30)) is None
    problem = policy.returnable_problem("MUG", "Home", SHIPPED, SHIPPED + timedelta(days=30, seconds=1))
    assert "30-day return window closed 31 Mar 2026" in problem
    assert "has not shipped" in policy.returnable_problem("MUG", "Home", None, SHIPPED)


def test_non_returnable_skus_and_categories_ignore_case():
    policy = ReturnPolicy(non_returnable_skus=frozenset({"sock-grey-m"}), non_returnable_categories=frozenset({"Underwear"}))
    assert "non-returnable item" in policy.returnable_problem("SOCK-GREY-M", "Apparel", SHIPPED, SHIPPED)
    assert "non-returnable category" in policy.returnable_problem("BRIEF-1", "underwear", SHIPPED, SHIPPED)
    assert policy.returnable_problem("TEE-M", "Apparel", SHIPPED, SHIPPED) is None


def test_the_retailer_pays_the_label_for_its_own_faults_only():
    policy = ReturnPolicy()
    assert policy.label_paid_by_retailer([R.CHANGED_MIND, R.DEFECTIVE])
    assert policy.label_paid_by_retailer([R.WRONG_ITEM]) and policy.label_paid_by_retailer([R.DAMAGED_IN_TRANSIT])
    assert not policy.label_paid_by_retailer([R.TOO_SMALL, R.CHANGED_MIND, R.ARRIVED_LATE])


def test_the_restocking_fee_is_waived_on_the_retailers_faults_and_rounded_to_the_cent():
    policy = ReturnPolicy(restocking_fee_pct=Decimal("12.5"))
    lines = [(R.CHANGED_MIND, Decimal("19.99")), (R.DEFECTIVE, Decimal("100.00")), (R.TOO_LARGE, Decimal("0.01"))]
    assert restocking_fee(policy, lines) == Decimal("2.50")  # 12.5% of 20.00
    assert restocking_fee(ReturnPolicy(), lines) == Decimal("0.00")


@pytest.mark.parametrize("days,fee", [(-1, "0"), (366, "0"), (True, "0"), (30, "-1"), (30, "100.01")])
def test_a_policy_refuses_impossible_windows_and_fees(days, fee):
    with pytest.raises(ValidationError):
        ReturnPolicy(window_days=days, restocking_fee_pct=Decimal(fee))


def test_reasons_parse_from_codes_and_from_channel_notes():
    assert parse_reason(" Defective ") == R.DEFECTIVE
    for bad in ("bored", None, 3, ["defective"]):
        with pytest.raises(ValidationError):
            parse_reason(bad)
    assert reason_from_text("it broke during shipping") == R.DAMAGED_IN_TRANSIT
    assert reason_from_text("Stopped working after a day") == R.DEFECTIVE
    assert reason_from_text("way too big") == R.TOO_LARGE
    assert reason_from_text("they sent the wrong colour") == R.WRONG_ITEM
    assert reason_from_text(None) == R.CHANGED_MIND


def test_inspection_rules_keep_damaged_units_off_the_shelf_and_ask_for_the_defect():
    assert inspection_problems("A", "restock", "") == {}
    assert inspection_problems("C", "refurbish", "zip broken") == {}
    assert "grade A or B" in inspection_problems("C", "restock", "dent")["disposition"]
    assert "defect" in inspection_problems("B", "vendor_claim", " ")
    assert set(inspection_problems("E", "burn", "")) == {"grade", "disposition"}
    assert set(inspection_problems(["A"], {"x": 1}, "")) == {"grade", "disposition"}


def test_percentiles_interpolate_between_ranks():
    assert percentile([], 50) is None
    assert percentile([4.0], 90) == 4.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(1, 11)), 90) == pytest.approx(9.1)
    assert rate(3, 0) is None and rate(1, 4) == 0.25


def test_quality_signals_need_both_a_share_over_the_threshold_and_enough_returns():
    table = {"LAMP": {"defective": 6, "changed_mind": 2},      # 75% of 8
             "MUG": {"not_as_described": 2, "defective": 1},   # 100% but only 3
             "TEE": {"too_small": 9, "defective": 3},          # 25%
             "PACK": {"defective": 4, "not_as_described": 1, "too_large": 5}}  # exactly 50%: not over
    flagged = quality_signals(table, threshold=0.5, min_count=5)
    assert flagged == [QualitySignal("LAMP", 6, 8, {"defective": 6, "changed_mind": 2})]
    assert flagged[0].share == 0.75
    assert [s.sku for s in quality_signals(table, threshold=0.2, min_count=3)] == ["MUG", "LAMP", "PACK", "TEE"]
