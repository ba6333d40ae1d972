"""Returns: RMA states, reasons, grades and dispositions, and the policy rules a return is judged by."""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from .errors import InvalidTransition, ValidationError
from .money import ZERO, round_to_cent


class RmaStatus(StrEnum):
    AUTHORISED = "authorised"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    INSPECTED = "inspected"
    REFUNDED = "refunded"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


_R = RmaStatus
RMA_TRANSITIONS: dict[RmaStatus, set[RmaStatus]] = {
    _R.AUTHORISED: {_R.IN_TRANSIT, _R.RECEIVED, _R.CANCELLED, _R.EXPIRED},
    _R.IN_TRANSIT: {_R.RECEIVED, _R.CANCELLED, _R.EXPIRED},
    _R.RECEIVED: {_R.INSPECTED},
    _R.INSPECTED: {_R.REFUNDED, _R.CLOSED},
    _R.REFUNDED: {_R.CLOSED},
    _R.CLOSED: set(),
    _R.CANCELLED: set(),
    _R.EXPIRED: set(),
}
AWAITING_ARRIVAL = frozenset({_R.AUTHORISED, _R.IN_TRANSIT})
ENDED_WITHOUT_RETURN = frozenset({_R.CANCELLED, _R.EXPIRED})
OPEN_STATUSES = frozenset({_R.AUTHORISED, _R.IN_TRANSIT, _R.RECEIVED, _R.INSPECTED})


def check_rma_transition(current: str, new: str) -> RmaStatus:
    """The new status when an RMA may move there, else InvalidTransition naming both."""
    here, there = RmaStatus(current), RmaStatus(new)
    if there not in RMA_TRANSITIONS[here]:
        raise InvalidTransition(f"An RMA cannot go from {here.value.replace('_', ' ')} to {there.value.replace('_', ' ')}.")
    return there


class ReturnReason(StrEnum):
    TOO_SMALL = "too_small"
    TOO_LARGE = "too_large"
    DAMAGED_IN_TRANSIT = "damaged_in_transit"
    DEFECTIVE = "defective"
    NOT_AS_DESCRIBED = "not_as_described"
    CHANGED_MIND = "changed_mind"
    ARRIVED_LATE = "arrived_late"
    WRONG_ITEM = "wrong_item"


REASON_LABELS = {
    ReturnReason.TOO_SMALL: "Too small",
    ReturnReason.TOO_LARGE: "Too large",
    ReturnReason.DAMAGED_IN_TRANSIT: "Damaged in transit",
    ReturnReason.DEFECTIVE: "Defective",
    ReturnReason.NOT_AS_DESCRIBED: "Not as described",
    ReturnReason.CHANGED_MIND: "Changed mind",
    ReturnReason.ARRIVED_LATE: "Arrived late",
    ReturnReason.WRONG_ITEM: "Wrong item sent",
}
# Reasons that say something about the product itself rather than the customer's choice or the carrier.
QUALITY_REASONS = frozenset({ReturnReason.DEFECTIVE, ReturnReason.NOT_AS_DESCRIBED})
# Words in a channel's refund note that name a reason; the first match wins, else "changed mind".
REASON_WORDS: tuple[tuple[tuple[str, ...], ReturnReason], ...] = (
    (("wrong item", "wrong size sent", "sent the wrong", "wrong colour", "wrong color"), ReturnReason.WRONG_ITEM),
    (("broke", "broken", "damaged", "crushed", "smashed", "cracked"), ReturnReason.DAMAGED_IN_TRANSIT),
    (("defect", "faulty", "not working", "stopped working", "doesn't work", "does not work"), ReturnReason.DEFECTIVE),
    (("not as described", "different from", "not as pictured", "looks different"), ReturnReason.NOT_AS_DESCRIBED),
    (("too small", "too tight", "size up"), ReturnReason.TOO_SMALL),
    (("too large", "too big", "too loose", "size down"), ReturnReason.TOO_LARGE),
    (("late", "too long", "delayed"), ReturnReason.ARRIVED_LATE),
)


def reason_from_text(text: str | None) -> ReturnReason:
    """The reason a free-text refund note names, for channels that send no reason code."""
    words = (text or "").lower()
    for needles, reason in REASON_WORDS:
        if any(needle in words for needle in needles):
            return reason
    return ReturnReason.CHANGED_MIND


def parse_reason(value: object, field: str = "reason") -> ReturnReason:
    """A reason code, or ValidationError listing the codes."""
    try:
        return ReturnReason(value.strip().lower() if isinstance(value, str) else None)
    except ValueError:
        raise ValidationError(f"Choose a reason: {', '.join(r.value for r in ReturnReason)}.", field=field) from None


class Grade(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"


GRADE_LABELS = {Grade.A: "A · like new", Grade.B: "B · opened", Grade.C: "C · damaged", Grade.D: "D · unusable"}


class Disposition(StrEnum):
    RESTOCK = "restock"
    REFURBISH = "refurbish"
    VENDOR_CLAIM = "vendor_claim"
    WRITE_OFF = "write_off"


DISPOSITION_LABELS = {Disposition.RESTOCK: "Restock", Disposition.REFURBISH: "Refurbish",
                      Disposition.VENDOR_CLAIM: "Vendor claim", Disposition.WRITE_OFF: "Write off"}
# The disposition an inspector is offered first for each grade.
SUGGESTED_DISPOSITION = {Grade.A: Disposition.RESTOCK, Grade.B: Disposition.RESTOCK, Grade.C: Disposition.REFURBISH,
                         Grade.D: Disposition.WRITE_OFF}


def inspection_problems(grade: object, disposition: object, defect: str) -> dict[str, str]:
    """What is wrong with one unit's inspection, by field: grades and dispositions known, damage described."""
    problems: dict[str, str] = {}
    if not isinstance(grade, str) or grade not in set(Grade):
        problems["grade"] = "Grade the unit A, B, C or D."
    if not isinstance(disposition, str) or disposition not in set(Disposition):
        problems["disposition"] = "Choose restock, refurbish, vendor claim or write-off."
    if problems:
        return problems
    if Disposition(disposition) == Disposition.RESTOCK and Grade(grade) in (Grade.C, Grade.D):
        problems["disposition"] = "Only grade A or B units can go back on the shelf; refurbish, claim or write off."
    needs_defect = Grade(grade) in (Grade.C, Grade.D) or Disposition(disposition) == Disposition.VENDOR_CLAIM
    if needs_defect and not defect.strip():
        problems["defect"] = "Describe the defect or damage."
    if len(defect) > 300:
        problems["defect"] = "Keep the defect note under 300 characters."
    return problems


@dataclass(frozen=True)
class ReturnPolicy:
    """A channel's return policy: window, restocking fee, what cannot come back, and who pays the label."""

    window_days: int = 30
    restocking_fee_pct: Decimal = ZERO
    non_returnable_skus: frozenset[str] = frozenset()
    non_returnable_categories: frozenset[str] = frozenset()
    retailer_pays_reasons: frozenset[ReturnReason] = frozenset(
        {ReturnReason.DEFECTIVE, ReturnReason.DAMAGED_IN_TRANSIT, ReturnReason.WRONG_ITEM})

    def __post_init__(self):
        problems = policy_problems(self.window_days, self.restocking_fee_pct)
        if problems:
            raise ValidationError(errors=problems)

    def window_closes(self, shipped_at: datetime) -> datetime:
        return shipped_at + timedelta(days=self.window_days)

    def returnable_problem(self, sku_code: str, category: str, shipped_at: datetime | None, now: datetime) -> str | None:
        """Why this unit cannot be returned under the policy, or None when it can."""
        if sku_code.upper() in {s.upper() for s in self.non_returnable_skus}:
            return f"{sku_code} cannot be returned (non-returnable item)."
        if category and category.lower() in {c.lower() for c in self.non_returnable_categories}:
            return f"{sku_code} cannot be returned: {category} is a non-returnable category."
        if shipped_at is None:
            return f"{sku_code} has not shipped, so it cannot be returned."
        if now > self.window_closes(shipped_at):
            return (f"{sku_code} shipped {shipped_at:%d %b %Y}; the {self.window_days}-day return window closed "
                    f"{self.window_closes(shipped_at):%d %b %Y}.")
        return None

    def retailer_pays(self, reason: ReturnReason) -> bool:
        return reason in self.retailer_pays_reasons

    def label_paid_by_retailer(self, reasons: Iterable[ReturnReason]) -> bool:
        """The retailer sends a prepaid label when any returned line's reason is its own fault."""
        return any(self.retailer_pays(reason) for reason in reasons)


def policy_problems(window_days: object, fee_pct: object) -> dict[str, str]:
    problems = {}
    if isinstance(window_days, bool) or not isinstance(window_days, int) or not 0 <= window_days <= 365:
        problems["window_days"] = "The return window is a whole number of days from 0 to 365."
    if not isinstance(fee_pct, Decimal) or not fee_pct.is_finite() or not ZERO <= fee_pct <= Decimal(100):
        problems["restocking_fee_pct"] = "The restocking fee is a percentage from 0 to 100."
    return problems


def restocking_fee(policy: ReturnPolicy, goods_by_reason: Sequence[tuple[ReturnReason, Decimal]]) -> Decimal:
    """The policy's fee on refunded goods, waived on lines whose reason is the retailer's fault."""
    chargeable = sum((amount for reason, amount in goods_by_reason if not policy.retailer_pays(reason)), ZERO)
    return round_to_cent(chargeable * policy.restocking_fee_pct / Decimal(100))


# --- return intelligence -------------------------------------------------------------------------------------

def rate(part: int, whole: int) -> float | None:
    """part / whole, or None when nothing was shipped to return."""
    return part / whole if whole else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100) by linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class QualitySignal:
    """A SKU whose returns point at the product: quality-reason units against all its returned units."""

    sku: str
    quality_units: int
    returned_units: int
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def share(self) -> float:
        return self.quality_units / self.returned_units if self.returned_units else 0.0


def quality_signals(units_by_sku_reason: Mapping[str, Mapping[str, int]], *, threshold: float,
                    min_count: int) -> list[QualitySignal]:
    """SKUs with at least `min_count` returned units of which a share over `threshold` are quality reasons."""
    flagged = []
    for sku, reasons in units_by_sku_reason.items():
        returned = sum(reasons.values())
        quality = sum(n for reason, n in reasons.items() if reason in QUALITY_REASONS)
        if returned >= min_count and returned and quality / returned > threshold:
            flagged.append(QualitySignal(sku, quality, returned, dict(reasons)))
    return sorted(flagged, key=lambda s: (-s.share, -s.returned_units, s.sku))
