"""Reorder maths: safety stock, reorder point, order suggestion and projected stock.

Unit statistics are floats; the only money here, an order's value, is Decimal.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import NormalDist


@dataclass(frozen=True)
class ReorderPoint:
    """The inventory position that triggers an order: lead-time demand plus safety stock."""

    units: float
    mean_daily: float | None = None
    lead_time_days: float | None = None
    safety: float | None = None

    def __str__(self) -> str:
        if self.mean_daily is None or self.lead_time_days is None or self.safety is None:
            return _figure(self.units)
        return (
            f"{_figure(self.units)} (lead time {_figure(self.lead_time_days)} d × "
            f"{_figure(self.mean_daily)}/day + safety {_figure(self.safety)})"
        )


@dataclass(frozen=True)
class Suggestion:
    """Units to order now (zero for none), with a one-line reason a buyer can check."""

    qty: int
    reason: str
    position: float
    value: Decimal | None = None


@dataclass(frozen=True)
class StockProjection:
    """Closing stock per day and the first day whose demand is not fully covered, if any."""

    closing: tuple[float, ...]
    first_stockout_day: int | None


def safety_stock(
    service_level: float,
    demand_std_daily: float,
    lead_time_days: float,
    lead_time_std_days: float,
    mean_daily: float,
) -> float:
    """Units covering demand and lead-time variation: z · √(LT·σd² + d²·σLT²)."""
    if not 0 < service_level < 1:
        raise ValueError(f"service level must be strictly between 0 and 1, got {service_level}")
    _require_non_negative(
        demand_std_daily=demand_std_daily,
        lead_time_days=lead_time_days,
        lead_time_std_days=lead_time_std_days,
        mean_daily=mean_daily,
    )
    z = NormalDist().inv_cdf(service_level)
    variance = lead_time_days * demand_std_daily**2 + mean_daily**2 * lead_time_std_days**2
    return z * math.sqrt(variance)


def reorder_point(mean_daily: float, lead_time_days: float, safety: float) -> ReorderPoint:
    """Expected demand over the lead time plus safety stock."""
    _require_non_negative(mean_daily=mean_daily, lead_time_days=lead_time_days)
    return ReorderPoint(mean_daily * lead_time_days + safety, mean_daily, lead_time_days, safety)


def suggest_order(
    on_hand_available: float,
    on_order: float,
    backorders: float,
    reorder_point: ReorderPoint | float,
    order_up_to: float,
    pack_size: int,
    moq: int,
    *,
    unit_cost: Decimal | None = None,
) -> Suggestion:
    """Order up to `order_up_to` in whole packs, at least the MOQ, once the position falls to the reorder point."""
    trigger = _as_reorder_point(reorder_point)
    _check_order_terms(trigger, order_up_to, pack_size, moq)
    position = on_hand_available + on_order - backorders
    if position > trigger.units:
        return Suggestion(0, f"position {_figure(position)} > reorder point {trigger}; no order", position)
    shortfall = max(order_up_to - position, 0.0)
    qty = max(_round_up_to_pack(shortfall, pack_size), _round_up_to_pack(moq, pack_size))
    wording = _order_wording(qty, shortfall, order_up_to, pack_size, moq)
    reason = f"position {_figure(position)} ≤ reorder point {trigger}; {wording}"
    return Suggestion(qty, reason, position, _order_value(qty, unit_cost))


def project_stock(
    start_qty: float, daily_demand: Sequence[float], receipts: Mapping[int, float] | None = None
) -> StockProjection:
    """Closing stock day by day, receipts arriving at the start of their day; unmet demand carries as negative stock."""
    receipts = receipts or {}
    if any(day < 0 for day in receipts):
        raise ValueError("receipt days must be zero or later")
    closing, stock, first_stockout_day = [], float(start_qty), None
    for day, demand in enumerate(daily_demand):
        stock += receipts.get(day, 0.0) - demand
        closing.append(stock)
        if stock < 0 and first_stockout_day is None:
            first_stockout_day = day
    return StockProjection(tuple(closing), first_stockout_day)


def _as_reorder_point(value: ReorderPoint | float) -> ReorderPoint:
    if isinstance(value, ReorderPoint):
        return value
    return ReorderPoint(float(value))


def _check_order_terms(trigger: ReorderPoint, order_up_to: float, pack_size: int, moq: int) -> None:
    if pack_size < 1 or int(pack_size) != pack_size:
        raise ValueError(f"pack size must be a whole number of at least 1, got {pack_size}")
    if moq < 0:
        raise ValueError(f"minimum order quantity cannot be negative, got {moq}")
    if order_up_to < trigger.units:
        raise ValueError(f"order-up-to level {order_up_to} is below the reorder point {trigger.units}")


def _round_up_to_pack(units: float, pack_size: int) -> int:
    # A tolerance, so 36.0000000001 units of float arithmetic does not buy a whole extra pack.
    return math.ceil(units / pack_size - 1e-9) * pack_size


def _order_wording(qty: int, shortfall: float, order_up_to: float, pack_size: int, moq: int) -> str:
    if qty == 0:
        return f"already at order-up-to level {_figure(order_up_to)}; no order"
    packs = qty // pack_size
    pack_words = "" if pack_size == 1 else f" = {packs} pack{'s' if packs != 1 else ''} of {pack_size}"
    why = f"{_figure(shortfall)} to reach {_figure(order_up_to)}"
    if qty > _round_up_to_pack(shortfall, pack_size):
        why += f", minimum order {moq}"
    return f"order {qty}{pack_words} ({why})"


def _order_value(qty: int, unit_cost: Decimal | None) -> Decimal | None:
    if unit_cost is None:
        return None
    if not isinstance(unit_cost, Decimal):
        raise TypeError(f"unit cost must be a Decimal, got {type(unit_cost).__name__}")
    return unit_cost * qty


def _require_non_negative(**figures: float) -> None:
    for name, figure in figures.items():
        if figure < 0:
            raise ValueError(f"{name.replace('_', ' ')} cannot be negative, got {figure}")


def _figure(units: float) -> str:
    """A figure for a reason line: whole numbers bare, others to one decimal."""
    text = f"{units:.1f}".removesuffix(".0")
    return "0" if text == "-0" else text
