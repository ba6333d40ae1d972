from decimal import Decimal
from statistics import NormalDist

import pytest

from app.domain.replenishment import (
    ReorderPoint,
    project_stock,
    reorder_point,
    safety_stock,
    suggest_order,
)

Z_95 = NormalDist().inv_cdf(0.95)  # 1.6448536...


def test_safety_stock_combines_demand_and_lead_time_variation():
    # LT·σd² = 9 × 2² = 36; d²·σLT² = 1.8² × 2² = 12.96; √48.96 = 6.99714; × z(95%) 1.64485 = 11.5093
    assert safety_stock(0.95, 2.0, 9, 2.0, 1.8) == pytest.approx(11.5093, abs=1e-4)


def test_safety_stock_with_a_fixed_lead_time_is_z_sigma_root_lead_time():
    # σLT = 0: z × σd × √LT = 1.64485 × 3 × √4 = 9.8691
    assert safety_stock(0.95, 3.0, 4, 0.0, 10.0) == pytest.approx(Z_95 * 3 * 2)
    assert safety_stock(0.95, 3.0, 4, 0.0, 10.0) == pytest.approx(9.8691, abs=1e-4)


def test_a_fifty_percent_service_level_needs_no_safety_stock():
    assert safety_stock(0.5, 3.0, 4, 1.0, 10.0) == pytest.approx(0.0)


@pytest.mark.parametrize("service_level", [0, 1, -0.1, 1.5])
def test_a_service_level_outside_zero_to_one_is_refused(service_level):
    with pytest.raises(ValueError, match="service level"):
        safety_stock(service_level, 1.0, 5, 0.0, 2.0)


def test_a_negative_lead_time_is_refused():
    with pytest.raises(ValueError, match="lead time days"):
        safety_stock(0.9, 1.0, -1, 0.0, 2.0)


def test_reorder_point_is_lead_time_demand_plus_safety_and_explains_itself():
    rop = reorder_point(1.8, 9, 6)
    # 9 d × 1.8/day = 16.2, + 6 safety = 22.2
    assert rop.units == pytest.approx(22.2)
    assert str(rop) == "22.2 (lead time 9 d × 1.8/day + safety 6)"


def test_an_order_fills_up_to_the_target_in_whole_packs_and_says_why():
    rop = reorder_point(1.8, 9, 6)
    suggestion = suggest_order(10, 8, 4, rop, order_up_to=58, pack_size=12, moq=0)
    # position = 10 + 8 − 4 = 14 ≤ 22.2; 58 − 14 = 44 short; ⌈44 / 12⌉ = 4 packs = 48
    assert suggestion.qty == 48
    assert suggestion.position == 14
    assert suggestion.reason == (
        "position 14 ≤ reorder point 22.2 (lead time 9 d × 1.8/day + safety 6); "
        "order 48 = 4 packs of 12 (44 to reach 58)"
    )


def test_the_minimum_order_wins_and_is_itself_rounded_up_to_whole_packs():
    suggestion = suggest_order(10, 8, 4, 22.2, order_up_to=58, pack_size=12, moq=55)
    # 44 short would be 48, but MOQ 55 → ⌈55 / 12⌉ = 5 packs = 60
    assert suggestion.qty == 60
    assert suggestion.reason.endswith("order 60 = 5 packs of 12 (44 to reach 58, minimum order 55)")


def test_an_exact_multiple_of_the_pack_buys_no_extra_pack():
    # position 10 ≤ 10; 46 − 10 = 36 = 3 packs of 12 exactly
    assert suggest_order(10, 0, 0, 10, order_up_to=46, pack_size=12, moq=0).qty == 36


def test_single_units_are_ordered_without_mentioning_packs():
    suggestion = suggest_order(3, 0, 0, 5, order_up_to=12, pack_size=1, moq=0)
    assert suggestion.qty == 9
    assert suggestion.reason == "position 3 ≤ reorder point 5; order 9 (9 to reach 12)"


def test_no_order_while_the_position_is_above_the_reorder_point():
    suggestion = suggest_order(20, 5, 2, reorder_point(1.8, 9, 6), order_up_to=58, pack_size=12, moq=24)
    # position = 20 + 5 − 2 = 23 > 22.2
    assert suggestion.qty == 0
    assert suggestion.reason.startswith("position 23 > reorder point 22.2")
    assert suggestion.reason.endswith("no order")


def test_backorders_lower_the_position_and_raise_the_order():
    without = suggest_order(20, 0, 0, 22, order_up_to=50, pack_size=6, moq=0)
    with_backorders = suggest_order(20, 0, 15, 22, order_up_to=50, pack_size=6, moq=0)
    # without: 50 − 20 = 30 = 5 packs; with 15 backordered: position 5, 50 − 5 = 45 → 8 packs = 48
    assert (without.qty, with_backorders.qty) == (30, 48)


def test_open_orders_count_towards_the_position():
    assert suggest_order(5, 30, 0, 22, order_up_to=50, pack_size=6, moq=0).qty == 0


def test_the_order_value_is_exact_decimal_money():
    suggestion = suggest_order(10, 8, 4, 22.2, order_up_to=58, pack_size=12, moq=0, unit_cost=Decimal("3.80"))
    assert suggestion.value == Decimal("182.40")


def test_a_float_unit_cost_is_refused():
    with pytest.raises(TypeError, match="Decimal"):
        suggest_order(10, 0, 0, 22, order_up_to=58, pack_size=12, moq=0, unit_cost=3.8)


@pytest.mark.parametrize(
    ("pack_size", "moq", "order_up_to", "message"),
    [(0, 0, 50, "pack size"), (2.5, 0, 50, "pack size"), (6, -1, 50, "minimum order"), (6, 0, 20, "below the reorder point")],
)
def test_impossible_order_terms_are_refused(pack_size, moq, order_up_to, message):
    with pytest.raises(ValueError, match=message):
        suggest_order(5, 0, 0, 22, order_up_to=order_up_to, pack_size=pack_size, moq=moq)


def test_a_reorder_point_given_as_a_number_reads_as_that_number():
    assert str(ReorderPoint(22)) == "22"


def test_project_stock_finds_the_first_day_demand_is_not_covered():
    projection = project_stock(10, [4, 4, 4, 4])
    # closing: 10−4 = 6, 6−4 = 2, 2−4 = −2 (day 2 short), −6
    assert projection.closing == (6, 2, -2, -6)
    assert projection.first_stockout_day == 2


def test_a_receipt_arrives_at_the_start_of_its_day_and_can_prevent_the_stockout():
    projection = project_stock(10, [4, 4, 4, 4], {2: 12})
    # 6, 2, 2+12−4 = 10, 6
    assert projection.closing == (6, 2, 10, 6)
    assert projection.first_stockout_day is None


def test_selling_the_last_unit_is_not_yet_a_stockout():
    assert project_stock(8, [4, 4, 1]).first_stockout_day == 2


def test_receipts_after_the_horizon_are_ignored_and_negative_days_refused():
    assert project_stock(1, [1], {5: 10}).closing == (0,)
    with pytest.raises(ValueError):
        project_stock(1, [1], {-1: 10})
