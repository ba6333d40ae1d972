"""The stock ledger's vocabulary: statuses, virtual locations, and the rules of a move."""
from __future__ import annotations

from enum import StrEnum

from .errors import ValidationError


class Status(StrEnum):
    AVAILABLE = "available"
    ALLOCATED = "allocated"
    PICKED = "picked"
    IN_TRANSIT = "in_transit"
    QUARANTINED = "quarantined"
    RETURNED = "returned"
    DAMAGED = "damaged"


STATUS_MEANINGS = {
    Status.AVAILABLE: "on a shelf, sellable, not promised",
    Status.ALLOCATED: "on a shelf, reserved for a shipment",
    Status.PICKED: "taken from the shelf for a shipment, not yet shipped",
    Status.IN_TRANSIT: "inbound from a supplier or another warehouse",
    Status.QUARANTINED: "held: receiving inspection, count variance, recall",
    Status.RETURNED: "received back from a customer, not yet inspected",
    Status.DAMAGED: "unsellable; awaiting write-off or vendor claim",
}


class Outside(StrEnum):
    """Virtual locations that stand for the world outside the warehouses."""

    SUPPLIER = "supplier"
    CUSTOMER = "customer"
    ADJUSTMENT = "adjustment"
    SCRAP = "scrap"
    TRANSIT = "transit"


class Reason(StrEnum):
    RECEIPT = "receipt"
    ADJUSTMENT = "adjustment"
    TRANSFER = "transfer"
    STATUS_CHANGE = "status_change"
    RESERVE = "reserve"
    RELEASE = "release"
    PICK = "pick"
    SHIP = "ship"
    RETURN = "return"
    DISPOSITION = "disposition"
    COUNT = "count"
    SCRAP = "scrap"


ADJUSTMENT_REASONS = {
    "count_correction": "Count correction",
    "found": "Found stock",
    "damaged_in_warehouse": "Damaged in warehouse",
    "theft_or_loss": "Theft or loss",
    "data_entry_error": "Data entry error",
    "opening_balance": "Opening balance",
}


def adjustment_errors(reason_code: str, delta: object) -> dict[str, str]:
    """What is wrong with a stock adjustment's reason and change in units, by field."""
    errors = {}
    if reason_code not in ADJUSTMENT_REASONS:
        errors["reason"] = "Choose a reason for the adjustment."
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
        errors["delta"] = "Enter a whole number of units, positive to add or negative to remove."
    return errors


def check_quantity(qty: object, field: str = "qty") -> int:
    """A move quantity is a positive whole number of units."""
    if isinstance(qty, bool) or not isinstance(qty, int):
        raise ValidationError("Quantity must be a whole number.", field=field)
    if qty <= 0:
        raise ValidationError("Quantity must be more than zero.", field=field)
    if qty > 10_000_000:
        raise ValidationError("Quantity is implausibly large.", field=field)
    return qty


class Cause:
    """The document that caused a move: an order, a PO, an RMA, a count, a person's adjustment."""

    __slots__ = ("type", "id")

    def __init__(self, type: str, id: object):
        if not type or id is None or str(id) == "":
            raise ValueError("every stock move names its cause")
        self.type = type
        self.id = str(id)

    def __repr__(self) -> str:
        return f"{self.type}:{self.id}"
