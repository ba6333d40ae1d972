"""Validation rules that put an order on hold, with a reason a person can act on."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class HoldRules:
    """The retailer's thresholds; admin can change them."""

    require_payment_captured: bool = True
    max_order_value: Decimal = Decimal("1500.00")
    hold_country_mismatch: bool = True
    velocity_max_orders: int = 3
    velocity_hours: int = 24


@dataclass(frozen=True)
class OrderFacts:
    """What the rules look at."""

    total: Decimal
    payment_captured: bool
    missing_address_fields: tuple[str, ...]
    ship_country: str
    billing_country: str | None
    recent_orders_same_address: int


@dataclass(frozen=True)
class HoldReason:
    kind: str
    reason: str


def hold_reasons(facts: OrderFacts, rules: HoldRules) -> list[HoldReason]:
    """Every reason the order should be held; empty when it may go ahead."""
    reasons = []
    if rules.require_payment_captured and not facts.payment_captured:
        reasons.append(HoldReason("payment", "Payment has not been captured yet."))
    if facts.missing_address_fields:
        reasons.append(HoldReason("address", "Shipping address is incomplete: missing "
                                  + ", ".join(f.replace("_", " ") for f in facts.missing_address_fields) + "."))
    if facts.total > rules.max_order_value:
        reasons.append(HoldReason("fraud_value", f"Order value {facts.total} is over the review threshold {rules.max_order_value}."))
    if rules.hold_country_mismatch and facts.billing_country and facts.billing_country.upper() != facts.ship_country.upper():
        reasons.append(HoldReason("fraud_country", f"Billing country {facts.billing_country} differs from shipping country {facts.ship_country}."))
    if facts.recent_orders_same_address >= rules.velocity_max_orders:
        reasons.append(HoldReason("fraud_velocity", f"{facts.recent_orders_same_address} other orders to this address in the last {rules.velocity_hours} hours."))
    return reasons
