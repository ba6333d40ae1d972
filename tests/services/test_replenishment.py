"""Replenishment over the database: demand read from orders by warehouse, positions with open POs, notices and
backorders, suggestions checked against hand-computed figures, drafting POs, run history, promotion scenarios."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from statistics import NormalDist

import pytest
from sqlalchemy import select

from app.domain.errors import Conflict, ValidationError
from app.domain.inventory import Cause
from app.extensions import db as database
from app.models.orders import Order, OrderLine, Shipment, ShipmentLine
from app.models.purchasing import Promotion, PurchaseOrder, ReplenishmentLine, ReplenishmentRun
from app.models.types import utcnow
from app.services import inventory, purchasing, replenishment
from app.services.purchasing import local_today
from app.services.replenishment import LeadTime, Policy, Position, Terms, plan_series
from tests.services.test_purchasing import make_supplier, offer, sent_po

Z95 = NormalDist().inv_cdf(0.95)
POLICY = Policy(service_level=0.95, horizon_days=56, cycle_days=14, lead_time_spread=0.25, min_lead_time_samples=3)
_serial = iter(range(1, 1_000_000))


def add_order(world, lines, *, day: date, channel="WEB", status="closed", shipped_from=None):
    """An order placed at noon on `day`; `shipped_from` puts all its units on a shipment from that warehouse."""
    n = next(_serial)
    order = Order(number=f"SO-T{n:05d}", channel_id=world.channels[channel].id, external_id=f"t{n}", status=status,
                  promised_ship_date=day, placed_at=datetime.combine(day, time(12), timezone.utc), currency="GBP")
    for line_no, (sku, qty) in enumerate(lines, 1):
        order.lines.append(OrderLine(line_no=line_no, sku_id=world.skus[sku].id, qty=qty, unit_price=Decimal("10")))
    database.session.add(order)
    database.session.flush()
    if shipped_from:
        shipment = Shipment(number=f"{order.number}-1", order_id=order.id, status="shipped",
                            warehouse_id=world.warehouses[shipped_from].id)
        for line in order.lines:
            shipment.lines.append(ShipmentLine(order_line_id=line.id, sku_id=line.sku_id, qty=line.qty))
        database.session.add(shipment)
    database.session.commit()
    return order


def steady_demand(world, sku="MUG", per_day=2, days=60, **kwargs):
    today = local_today()
    for back in range(days, 0, -1):
        add_order(world, [(sku, per_day)], day=today - timedelta(days=back), **kwargs)


def stock(world, sku, bin_code, qty):
    inventory.receive_stock(world.skus[sku].id, world.bins[bin_code].id, qty, cause=Cause("opening", "test"))


def line_for(run, world, sku, warehouse="EAST") -> ReplenishmentLine:
    return database.session.scalars(select(ReplenishmentLine).where(
        ReplenishmentLine.run_id == run.id, ReplenishmentLine.sku_id == world.skus[sku].id,
        ReplenishmentLine.warehouse_id == world.warehouses[warehouse].id)).one()


# --- the maths for one series, by hand ---------------------------------------------------------------------------

def test_a_suggestion_matches_the_hand_computed_figures():
    position = Position(available=10, on_order=8, in_transit=0, backorders=4, arrivals={3: 8})
    plan = plan_series([2.0] * 60, 1.0, position, LeadTime(9, 2, "supplier"), Terms(1, Decimal("2.50"), 12, 0, "GBP"),
                       POLICY)
    # safety = z·√(LT·σd² + d²·σLT²) = 1.6449 × √(9 × 1 + 4 × 4) = 1.6449 × 5
    assert plan.safety_stock == pytest.approx(Z95 * 5)
    assert plan.reorder_point == pytest.approx(18 + Z95 * 5)                 # 9 d × 2/day + safety = 26.22
    assert plan.order_up_to == pytest.approx(18 + Z95 * 5 + 28)             # + 14 days × 2/day = 54.22
    # position 10 + 8 − 4 = 14; 54.22 − 14 = 40.22 → 4 packs of 12 = 48
    assert plan.qty == 48 and plan.value == Decimal("120.00")
    assert plan.reason == ("available 10 + on order 8 − backordered 4; position 14 ≤ reorder point 26.2 "
                           "(lead time 9 d × 2/day + safety 8.2); order 48 = 4 packs of 12 (40.2 to reach 54.2)")
    # stock 10 − 4 = 6 runs to 0 on day 2, the 8 on order land on day 3, and day 7 is the first short
    assert plan.projection.closing[:8] == (4, 2, 0, 6, 4, 2, 0, -2) and plan.projection.first_stockout_day == 7
    assert plan.reorder_day == 0 and plan.arrival_day == 9


def test_a_position_above_the_reorder_point_orders_nothing_and_says_when_to_reorder():
    plan = plan_series([2.0] * 60, 0.0, Position(50, 0, 0, 0, {}), LeadTime(5, 0, "supplier"),
                       Terms(1, Decimal("1"), 1, 0, "GBP"), POLICY)
    assert plan.qty == 0 and plan.reorder_point == pytest.approx(10)
    assert plan.reason == "available 50; position 50 > reorder point 10 (lead time 5 d × 2/day + safety 0); no order"
    assert plan.reorder_day == 20  # 50 − 20 days × 2 = 10


def test_a_minimum_order_is_not_bought_for_a_fraction_of_a_unit():
    plan = plan_series([0.001] * 60, 0.003, Position(0, 0, 0, 0, {}), LeadTime(20, 5, "supplier"),
                       Terms(1, Decimal("1"), 12, 24, "GBP"), POLICY)
    assert plan.qty == 0 and "no order" in plan.reason


# --- reading demand and positions --------------------------------------------------------------------------------

def test_demand_counts_at_the_shipping_warehouse_else_the_channels_first_and_skips_cancelled_orders(world):
    day = local_today() - timedelta(days=3)
    add_order(world, [("MUG", 4)], day=day, shipped_from="WEST")
    add_order(world, [("MUG", 3)], day=day)                     # WEB ranks EAST first
    add_order(world, [("MUG", 2)], day=day, channel="AMZ")      # AMZ ships from WEST only
    add_order(world, [("MUG", 9)], day=day, status="cancelled")
    history, first_sale = replenishment.demand_history(day, day)
    mug = world.skus["MUG"].id
    assert history[(mug, world.warehouses["WEST"].id)][day] == 6
    assert history[(mug, world.warehouses["EAST"].id)][day] == 3
    assert first_sale[mug] == day


def test_positions_count_open_orders_notices_other_transit_and_backorders(world):
    supplier = make_supplier()
    po = sent_po(world, supplier, [("MUG", 30, "2.00")])
    purchasing.record_shipment_notice(po.id, [(world.skus["MUG"].id, 10)],
                                      expected_date=local_today() + timedelta(days=2), user_id=None)
    stock(world, "MUG", "E0-1", 5)
    add_order(world, [("MUG", 7)], day=local_today(), status="backordered")
    position = replenishment.positions_now(local_today())[(world.skus["MUG"].id, world.warehouses["EAST"].id)]
    assert (position.available, position.on_order, position.in_transit, position.backorders) == (5, 20, 10, 7)
    assert position.units == 28
    assert position.arrivals == {10: 20, 2: 10}  # the rest of the order on its expected date, the notice on its own


# --- whole runs ---------------------------------------------------------------------------------------------------

@pytest.fixture()
def steady(world):
    """MUG sells 2 a day in EAST for 60 days; 20 on the shelf; ACME sells it in packs of 6 from 12, in 10 days."""
    supplier = make_supplier(lead=10)
    offer(supplier, world.skus["MUG"], "2.5000", pack=6, moq=12)
    steady_demand(world)
    stock(world, "MUG", "E0-1", 20)
    return supplier


def test_a_run_suggests_what_to_buy_with_the_hand_computed_figures(world, steady):
    run = replenishment.run_replenishment(trigger="manual")
    line = line_for(run, world, "MUG")
    assert (run.status, run.series, run.skus, run.suggestions) == ("done", 1, 1, 1)
    assert line.history_days == 60 and line.history_units == 120 and line.mean_daily == pytest.approx(2, abs=1e-3)
    assert (line.lead_time_days, line.lead_time_std, line.lead_time_source) == (10, 2.5, "supplier")
    # σd ≈ 0 on a steady series: safety = z × d × σLT = 1.6449 × 2 × 2.5 = 8.22; ROP = 20 + 8.22
    assert line.safety_stock == pytest.approx(Z95 * 5, abs=0.01)
    assert line.reorder_point == pytest.approx(20 + Z95 * 5, abs=0.01)
    # order-up-to 28.22 + 28 = 56.22; 56.22 − 20 = 36.22 → 7 packs of 6 = 42 at 2.50
    assert (line.qty, line.value, line.supplier_id, line.currency) == (42, Decimal("105.00"), steady.id, "GBP")
    assert line.stockout_date == local_today() + timedelta(days=10)  # 20 − 2 × 11 < 0 on day 10
    assert line.order_by == local_today() and line.arrival_date == local_today() + timedelta(days=10)
    assert line.reason.startswith("available 20; position 20 ≤ reorder point 28.2")


def test_lead_time_comes_from_receipts_once_there_are_enough(world, steady):
    for days in (8, 12, 13):
        po = sent_po(world, steady, [("MUG", 12, None)])
        purchasing.receive_purchase_order(po.id, [purchasing.ReceiveInput(world.skus["MUG"].id, 12)], user_id=None)
        po.sent_at = po.receipts[0].received_at - timedelta(days=days)
        database.session.commit()
    line = line_for(replenishment.run_replenishment(), world, "MUG")
    assert line.lead_time_source == "receipts"
    assert line.lead_time_days == pytest.approx(11) and line.lead_time_std == pytest.approx(2.6458, abs=1e-4)


def test_drafting_groups_suggestions_per_supplier_and_warehouse_and_the_next_run_counts_them(world, steady, make_user):
    buyer = make_user("procurement", "luis")
    other = make_supplier("OTHER", lead=5)
    offer(other, world.skus["CAP"], "3.0000")
    steady_demand(world, "CAP", per_day=1)
    steady_demand(world, "TEE-M", per_day=1, channel="AMZ")
    offer(steady, world.skus["TEE-M"], "4.0000")
    run = replenishment.run_replenishment()
    lines = database.session.scalars(select(ReplenishmentLine).where(ReplenishmentLine.qty > 0)).all()
    assert {(l.supplier_id, l.warehouse.code) for l in lines} == {(steady.id, "EAST"), (other.id, "EAST"),
                                                                   (steady.id, "WEST")}
    mug = line_for(run, world, "MUG")
    drafts = replenishment.draft_from_suggestions([l.id for l in lines], user_id=buyer.id, quantities={mug.id: 48})
    assert len(drafts) == 3 and all(po.status == "draft" and po.source == "suggestion" for po in drafts)
    mug_po = next(po for po in drafts if po.lines[0].sku.code == "MUG")
    assert mug_po.lines[0].qty_ordered == 48 and mug_po.lines[0].reason == mug.reason and mug.po_id == mug_po.id
    with pytest.raises(ValidationError, match="cannot be drafted"):
        replenishment.draft_from_suggestions([mug.id], user_id=buyer.id)
    again = replenishment.run_replenishment()
    assert line_for(again, world, "MUG").on_order == 48 and line_for(again, world, "MUG").qty == 0
    with pytest.raises(ValidationError):
        replenishment.draft_from_suggestions([mug.id], user_id=buyer.id)  # from an older run now


def test_a_quantity_that_breaks_the_pack_is_refused_and_nothing_is_drafted(world, steady):
    line = line_for(replenishment.run_replenishment(), world, "MUG")
    with pytest.raises(ValidationError):
        replenishment.draft_from_suggestions([line.id], user_id=None, quantities={line.id: 40})
    assert database.session.scalar(select(PurchaseOrder.id)) is None and line.po_id is None


def test_a_sku_no_supplier_offers_is_flagged_and_cannot_be_drafted(world):
    steady_demand(world, "CAP", per_day=1, days=30)
    line = line_for(replenishment.run_replenishment(), world, "CAP")
    assert line.supplier_id is None and line.qty > 0 and line.reason.endswith("no supplier offers this SKU")
    with pytest.raises(ValidationError):
        replenishment.draft_from_suggestions([line.id], user_id=None)


def test_runs_keep_their_history_and_a_failure_is_recorded(world, steady, monkeypatch):
    replenishment.run_replenishment(trigger="cli")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr("app.domain.forecast.forecast_series", broken)
    with pytest.raises(RuntimeError):
        replenishment.run_replenishment(trigger="nightly")
    runs = replenishment.recent_runs()
    assert [(r.trigger, r.status) for r in runs] == [("nightly", "failed"), ("cli", "done")]
    assert runs[0].error == "RuntimeError: disk full" and runs[0].seconds is not None
    assert replenishment.latest_run().id == runs[1].id and runs[1].methods and runs[1].seconds >= 0


def test_a_second_run_waits_for_the_first(world):
    database.session.add(ReplenishmentRun(status="running", service_level=0.95, horizon_days=56, started_at=utcnow()))
    database.session.commit()
    with pytest.raises(Conflict):
        replenishment.run_replenishment()


def test_the_cli_runs_replenishment(app, world, steady):
    result = app.test_cli_runner().invoke(args=["replenish"])
    assert result.exit_code == 0 and "1 forecasts over 1 SKUs" in result.output and "1 to buy" in result.output


# --- promotion scenarios ------------------------------------------------------------------------------------------

@pytest.fixture()
def planned(world, steady):
    replenishment.run_replenishment()
    today = local_today()
    return today + timedelta(days=12), today + timedelta(days=18)  # 7 days, all after a 10-day lead time


def test_a_promotion_shows_the_extra_units_it_needs(world, planned):
    starts, ends = planned
    scenario = replenishment.plan_promotion(["MUG"], Decimal("50"), starts, ends)
    row, = scenario.rows
    # 2 a day × 7 days = 14 units, +50% = 21: 7 more; stock runs short either way, so all 7 are extra
    assert (row.baseline_units, row.promotion_units) == (pytest.approx(14, abs=0.01), pytest.approx(21, abs=0.01))
    assert row.extra_qty == 12 and row.extra_value == Decimal("30.00")  # 7 → 2 packs of 6, the minimum 12
    assert row.runs_out_without == row.runs_out_with == local_today() + timedelta(days=10)
    assert not row.arrives_late and row.with_promotion.closing[18] == pytest.approx(row.without.closing[18] - 7, abs=0.01)


def test_a_promotion_with_stock_to_spare_needs_nothing_extra(world, planned):
    stock(world, "MUG", "E1-1", 200)
    row, = replenishment.plan_promotion(["MUG"], Decimal("50"), *planned).rows
    assert row.extra_qty == 0 and row.runs_out_with is None


def test_committing_a_promotion_drafts_the_extra_buys_and_later_runs_forecast_it(world, planned, make_user):
    buyer = make_user("procurement", "luis")
    promotion = replenishment.commit_promotion("Mug week", ["MUG"], Decimal("50"), *planned, warehouse_id=None,
                                               user_id=buyer.id)
    po = database.session.scalars(select(PurchaseOrder)).one()
    assert promotion.po_numbers == [po.number] and po.source == "promotion" and po.lines[0].qty_ordered == 12
    line = line_for(replenishment.run_replenishment(), world, "MUG")
    assert line.daily[12] == pytest.approx(3, abs=0.01) and line.daily[11] == pytest.approx(2, abs=0.01)
    assert database.session.scalar(select(Promotion.name)) == "Mug week"


def test_a_promotion_is_checked_before_anything_is_projected(world, planned):
    today = local_today()
    with pytest.raises(ValidationError) as raised:
        replenishment.plan_promotion(["NOPE"], Decimal("2000"), today - timedelta(days=1), today - timedelta(days=2))
    assert set(raised.value.errors) == {"skus", "uplift_pct", "starts_on", "ends_on"}
    with pytest.raises(ValidationError) as raised:
        replenishment.plan_promotion(["CAP"], Decimal("10"), today, today + timedelta(days=400))
    assert "No forecast yet" in raised.value.errors["skus"] and "forecast reaches" in raised.value.errors["ends_on"]
    with pytest.raises(ValidationError):
        replenishment.commit_promotion(" ", ["MUG"], Decimal("10"), *planned, warehouse_id=None, user_id=None)
