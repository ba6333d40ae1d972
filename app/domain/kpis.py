"""KPIs: each defined once (formula, unit, target, owner, which way is good), and the arithmetic they share."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from .roles import Role

PLACES = Decimal("0.0001")  # every KPI value is kept to four decimal places


class Unit(StrEnum):
    PERCENT = "percent"  # a share, kept as a fraction: 0.95 is 95 %
    HOURS = "hours"
    DAYS = "days"
    MONEY = "money"


class Direction(StrEnum):
    UP = "up"  # higher is better
    DOWN = "down"  # lower is better


class Standing(StrEnum):
    OK = "ok"  # meets the target
    WARN = "warn"  # misses it by less than the tolerance
    BAD = "bad"  # misses it by more
    NONE = "none"  # nothing to measure in the period


@dataclass(frozen=True)
class Period:
    """The half-open window [start, end) a KPI is measured over, in aware UTC times."""

    start: datetime
    end: datetime

    @classmethod
    def trailing(cls, end: datetime, days: int) -> "Period":
        return cls(end - timedelta(days=days), end)

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86_400


@dataclass(frozen=True)
class KpiDefinition:
    """What a KPI means: how it is computed, in what unit, the target, whose it is and which way is good."""

    code: str
    name: str
    formula: str
    unit: Unit
    target: Decimal
    direction: Direction
    owner: Role
    window_days: int = 7
    records: str = ""  # what the drill-down lists: the records behind the figure
    tolerance: Decimal = Decimal("0.10")  # a miss within this share of the target is a warning, not a failure

    def standing(self, value: Decimal | None) -> Standing:
        return standing(value, self.target, self.direction, self.tolerance)


def standing(value: Decimal | None, target: Decimal, direction: Direction, tolerance: Decimal) -> Standing:
    """Whether a value meets its target, misses it narrowly, or misses it badly."""
    if value is None:
        return Standing.NONE
    better = value >= target if direction == Direction.UP else value <= target
    if better:
        return Standing.OK
    slack = abs(target) * tolerance
    near = value >= target - slack if direction == Direction.UP else value <= target + slack
    return Standing.WARN if near else Standing.BAD


def rounded(value: Decimal | int | float | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(PLACES, rounding=ROUND_HALF_UP)


def ratio(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    """part / whole to four places; None when there is nothing to divide by."""
    if not whole:
        return None
    return rounded(Decimal(part) / Decimal(whole))


def mean(values: Iterable[Decimal | int | float]) -> Decimal | None:
    items = [Decimal(str(v)) for v in values]
    return rounded(sum(items, Decimal(0)) / len(items)) if items else None


def hours_between(start: datetime, end: datetime) -> Decimal:
    return Decimal(str((end - start).total_seconds())) / Decimal(3600)


def days_between(start: datetime, end: datetime) -> Decimal:
    return Decimal(str((end - start).total_seconds())) / Decimal(86_400)


@dataclass(frozen=True)
class Measure:
    """A KPI's value over a period and how many records stand behind it."""

    value: Decimal | None
    sample: int = 0


def shown(value: Decimal | None, unit: Unit, currency_symbol: str = "£") -> str:
    """A value as people read it: 97.3 %, 41.5 h, 12.0 days, £6.42."""
    if value is None:
        return "—"
    if unit == Unit.PERCENT:
        return f"{value * 100:.1f}%"
    if unit == Unit.HOURS:
        return f"{value:,.1f} h"
    if unit == Unit.DAYS:
        return f"{value:,.1f} days"
    sign = "−" if value < 0 else ""
    return f"{sign}{currency_symbol}{abs(value):,.2f}"


def _pct(text: str) -> Decimal:
    return Decimal(text) / 100


DEFINITIONS: tuple[KpiDefinition, ...] = (
    KpiDefinition(
        "order_cycle_time", "Order cycle time",
        "Mean hours from an order being placed to its last shipment leaving, over orders whose last shipment "
        "left in the period.",
        Unit.HOURS, Decimal(48), Direction.DOWN, Role.RETAIL,
        records="The orders shipped in the period, slowest first."),
    KpiDefinition(
        "backorder_rate", "Backorder rate",
        "Orders placed in the period that ever waited for stock (backordered or partially allocated) ÷ orders "
        "placed in the period.",
        Unit.PERCENT, _pct("5"), Direction.DOWN, Role.RETAIL,
        records="The orders placed in the period that waited for stock."),
    KpiDefinition(
        "fill_rate", "Fill rate",
        "Units shipped ÷ units ordered, over orders that finished in the period (last shipment left, or "
        "cancelled); units cancelled before shipping count as not filled.",
        Unit.PERCENT, _pct("98"), Direction.UP, Role.RETAIL,
        records="The finished orders that shipped fewer units than were ordered."),
    KpiDefinition(
        "exception_resolution_time", "Exception resolution time",
        "Mean hours from an order hold being placed, or a channel payload failing to map, to its release or "
        "resolution, over those resolved in the period.",
        Unit.HOURS, Decimal(24), Direction.DOWN, Role.RETAIL,
        records="The holds and payload exceptions resolved in the period, slowest first."),
    KpiDefinition(
        "on_time_shipment", "On-time shipment rate",
        "Orders due to ship in the period (promised ship date in the period, not cancelled) that shipped "
        "completely by the end of their promised day ÷ orders due in the period.",
        Unit.PERCENT, _pct("95"), Direction.UP, Role.SUPERVISOR,
        records="The orders due in the period that shipped late or have not shipped."),
    KpiDefinition(
        "split_shipment_rate", "Split-shipment rate",
        "Orders whose last shipment left in the period that went out in more than one shipment ÷ orders whose "
        "last shipment left in the period.",
        Unit.PERCENT, _pct("10"), Direction.DOWN, Role.SUPERVISOR,
        records="The orders shipped in the period in more than one shipment."),
    KpiDefinition(
        "labour_utilisation", "Labour utilisation",
        "Units picked in the period (pick moves in the stock ledger) ÷ picking capacity of the period (each "
        "warehouse's daily capacity from its labour plan or standing shift, summed over the days).",
        Unit.PERCENT, _pct("85"), Direction.UP, Role.SUPERVISOR,
        records="Units picked and capacity per warehouse and day."),
    KpiDefinition(
        "routing_savings", "Routing savings",
        "(Baseline cost − optimised cost) ÷ baseline cost, over routing runs applied in the period: what the "
        "optimiser saved against the rules-only plan.",
        Unit.PERCENT, _pct("5"), Direction.UP, Role.SUPERVISOR,
        records="The routing runs applied in the period with their costs."),
    KpiDefinition(
        "inventory_accuracy", "Inventory accuracy",
        "Count lines counted in the period where the counted units equal the ledger's expected units ÷ count "
        "lines counted in the period.",
        Unit.PERCENT, _pct("97"), Direction.UP, Role.SUPERVISOR,
        records="The counted bins and SKUs whose count differed from the ledger."),
    KpiDefinition(
        "pick_accuracy", "Pick accuracy",
        "Bin and item scans on the pick floor in the period that were right first time ÷ bin and item scans "
        "in the period (wrong bin and wrong item scans are the misses).",
        Unit.PERCENT, _pct("99.5"), Direction.UP, Role.WAREHOUSE,
        records="The wrong scans and short picks of the period."),
    KpiDefinition(
        "pack_accuracy", "Pack accuracy",
        "Pack-bench scans in the period that matched a unit the carton still needed ÷ pack-bench scans in the "
        "period.",
        Unit.PERCENT, _pct("99.5"), Direction.UP, Role.WAREHOUSE,
        records="The pack scans of the period that were refused."),
    KpiDefinition(
        "stock_variance", "Stock variance",
        "Value at cost of the units cycle counts wrote off or found in the period (count moves to or from the "
        "adjustment location in the stock ledger, absolute).",
        Unit.MONEY, Decimal(250), Direction.DOWN, Role.FINANCE,
        records="The count corrections of the period by bin and SKU, largest first."),
    KpiDefinition(
        "cost_to_serve", "Cost to serve per order",
        "(Carrier charges + handling at each warehouse's cost per unit + cartons) of the orders whose last "
        "shipment left in the period ÷ those orders.",
        Unit.MONEY, Decimal("7.50"), Direction.DOWN, Role.FINANCE,
        records="The orders shipped in the period with their cost to serve, dearest first."),
    KpiDefinition(
        "replenishment_lead_time", "Supplier on-time receipts",
        "Receipts in the period that arrived on or before the purchase order's promised date (its expected date "
        "when the supplier promised none) ÷ receipts in the period against dated purchase orders.",
        Unit.PERCENT, _pct("90"), Direction.UP, Role.PROCUREMENT,
        records="The receipts of the period that arrived after the promised date."),
    KpiDefinition(
        "stock_cover", "Stock cover",
        "Available units at the end of the period ÷ mean units shipped per day over the 28 days before it.",
        Unit.DAYS, Decimal(21), Direction.UP, Role.PROCUREMENT, window_days=28,
        records="SKUs by days of cover, shortest first."),
    KpiDefinition(
        "return_cycle_time", "Return cycle time",
        "Mean days from a return's units being received at the warehouse to its refund being issued, over RMAs "
        "refunded in the period.",
        Unit.DAYS, Decimal(5), Direction.DOWN, Role.RETURNS,
        records="The RMAs refunded in the period, slowest first."),
)

BY_CODE = {d.code: d for d in DEFINITIONS}
