"""Orders and shipments: their states, the moves allowed between them, and promise dates."""
from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum

from .errors import InvalidTransition


class OrderStatus(StrEnum):
    RECEIVED = "received"
    ON_HOLD = "on_hold"
    READY = "ready"
    ALLOCATED = "allocated"
    PARTIALLY_ALLOCATED = "partially_allocated"
    BACKORDERED = "backordered"
    IN_FULFILLMENT = "in_fulfillment"
    SHIPPED = "shipped"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class ShipmentStatus(StrEnum):
    ALLOCATED = "allocated"
    RELEASED = "released"
    PICKING = "picking"
    PICKED = "picked"
    PACKED = "packed"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


_O = OrderStatus
_ALLOCATION_RESULTS = {_O.ALLOCATED, _O.PARTIALLY_ALLOCATED, _O.BACKORDERED}
ORDER_TRANSITIONS: dict[OrderStatus, set[OrderStatus]] = {
    _O.RECEIVED: {_O.ON_HOLD, _O.READY, _O.CANCELLED},
    _O.ON_HOLD: {_O.READY, _O.CANCELLED},
    _O.READY: _ALLOCATION_RESULTS | {_O.ON_HOLD, _O.CANCELLED},
    _O.BACKORDERED: {_O.ALLOCATED, _O.PARTIALLY_ALLOCATED, _O.READY, _O.ON_HOLD, _O.CANCELLED},
    _O.PARTIALLY_ALLOCATED: {_O.ALLOCATED, _O.BACKORDERED, _O.READY, _O.IN_FULFILLMENT, _O.ON_HOLD, _O.CANCELLED},
    _O.ALLOCATED: {_O.IN_FULFILLMENT, _O.PARTIALLY_ALLOCATED, _O.BACKORDERED, _O.READY, _O.ON_HOLD, _O.CANCELLED},
    _O.IN_FULFILLMENT: {_O.SHIPPED, _O.ALLOCATED, _O.PARTIALLY_ALLOCATED, _O.BACKORDERED, _O.CANCELLED},
    _O.SHIPPED: {_O.CLOSED},
    _O.CLOSED: set(),
    _O.CANCELLED: set(),
}

_S = ShipmentStatus
SHIPMENT_TRANSITIONS: dict[ShipmentStatus, set[ShipmentStatus]] = {
    _S.ALLOCATED: {_S.RELEASED, _S.CANCELLED},
    _S.RELEASED: {_S.PICKING, _S.ALLOCATED, _S.CANCELLED},
    _S.PICKING: {_S.PICKED, _S.CANCELLED},
    _S.PICKED: {_S.PACKED, _S.CANCELLED},
    _S.PACKED: {_S.SHIPPED, _S.CANCELLED},
    _S.SHIPPED: set(),
    _S.CANCELLED: set(),
}

OPEN_ORDER_STATUSES = frozenset(s for s in OrderStatus if s not in (_O.SHIPPED, _O.CLOSED, _O.CANCELLED))
AWAITING_STOCK = frozenset({_O.BACKORDERED, _O.PARTIALLY_ALLOCATED})
CANCELLABLE = frozenset(s for s, nexts in ORDER_TRANSITIONS.items() if _O.CANCELLED in nexts)


def check_order_transition(current: str, new: str) -> OrderStatus:
    """The new status when the order may move there, else InvalidTransition naming both."""
    return _check(ORDER_TRANSITIONS, OrderStatus, current, new, "order")


def check_shipment_transition(current: str, new: str) -> ShipmentStatus:
    return _check(SHIPMENT_TRANSITIONS, ShipmentStatus, current, new, "shipment")


def _check(graph, kind, current: str, new: str, noun: str):
    here, there = kind(current), kind(new)
    if there not in graph[here]:
        raise InvalidTransition(f"A {noun} cannot go from {here.value.replace('_', ' ')} to {there.value.replace('_', ' ')}.")
    return there


def allocation_status(ordered: int, allocated: int) -> OrderStatus:
    """The order's status after allocation: every unit, some units, or none yet."""
    if allocated >= ordered:
        return OrderStatus.ALLOCATED
    return OrderStatus.PARTIALLY_ALLOCATED if allocated > 0 else OrderStatus.BACKORDERED


def promised_ship_date(placed: date, sla_days: int) -> date:
    """The date the order must leave by: SLA working days after it was placed (weekends skipped)."""
    day, remaining = placed, max(0, sla_days)
    while remaining:
        day += timedelta(days=1)
        if day.weekday() < 5:
            remaining -= 1
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day
