"""Vendor claims after inspection: send them to the supplier, then settle them with what the supplier credited.

A claim is opened by inspection (app/services/returns.py, disposition "vendor_claim") while its unit waits at
the dock as damaged stock. Sending it ships the unit back: a stock move to the SUPPLIER outside location with
the claim as its cause, which valuation posts Dr Supplier claims receivable, Cr Inventory at FIFO cost.
Settling it records the supplier's credit (0 when the supplier refused the claim) and posts one journal entry
through `finance.post_vendor_claim_credit`. Each transition stamps who and when on the claim, adds a step
to the RMA's timeline and records an event.
"""
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from app.domain.errors import Conflict, NotFound, ValidationError
from app.domain.inventory import Cause, Outside, Reason, Status
from app.domain.money import CENT, ZERO
from app.extensions import db
from app.models.returns import RmaStep, VendorClaim
from app.models.types import utcnow
from app.services import finance, ledger
from app.services._uow import service
from app.services.events import record_event
from app.services.ledger import Place

MAX_CLAIMS_PER_SENDING = 200
OPEN, SENT, SETTLED = "open", "sent", "settled"
STATUSES = (OPEN, SENT, SETTLED)


def get_claim(claim_id: object, *, lock: bool = False) -> VendorClaim:
    """One claim by id, optionally locked for the rest of the transaction."""
    if isinstance(claim_id, bool) or not isinstance(claim_id, int):
        raise NotFound("No such vendor claim.")
    stmt = select(VendorClaim).where(VendorClaim.id == claim_id)
    claim = db.session.scalar(stmt.with_for_update() if lock else stmt)
    if claim is None:
        raise NotFound("No such vendor claim.")
    return claim


# --- sending -----------------------------------------------------------------------------------------------------

@service
def send_vendor_claims(claim_ids: Sequence[int], *, reference: str, user_id: int | None = None) -> list[VendorClaim]:
    """Send open claims of one supplier back under the supplier's RMA or claim reference; their units leave stock."""
    reference = finance.clean_text(reference, 60)
    if not reference:
        raise ValidationError("Enter the supplier's RMA or claim reference.", field="reference")
    claims = _claims_to_send(claim_ids)
    now = utcnow()
    for claim in claims:
        _ship_back(claim, reference, user_id)
        claim.status, claim.reference, claim.sent_at, claim.sent_by_id = SENT, reference, now, user_id
        _step(claim, "vendor_claim_sent", f"{claim.number} sent to {claim.supplier.name} under {reference}", user_id)
        record_event("vendor_claim.sent", "vendor_claim", claim.number, _payload(claim), user_id=user_id)
    db.session.commit()
    return claims


def _claims_to_send(claim_ids: Sequence[int]) -> list[VendorClaim]:
    ids = _claim_ids(claim_ids)
    claims = list(db.session.scalars(select(VendorClaim).where(VendorClaim.id.in_(ids))
                                     .order_by(VendorClaim.id).with_for_update()))
    if len(claims) != len(ids):
        raise NotFound("Some of the chosen claims no longer exist.", field="claims")
    not_open = [f"{c.number} is {c.status}" for c in claims if c.status != OPEN]
    if not_open:
        raise Conflict(f"Only open claims can be sent: {', '.join(not_open)}.", field="claims")
    suppliers = sorted({c.supplier.name for c in claims})
    if len(suppliers) > 1:
        raise ValidationError(f"Claims sent together go to one supplier; these are for {', '.join(suppliers)}.",
                              field="claims")
    return claims


def _claim_ids(claim_ids: object) -> list[int]:
    if isinstance(claim_ids, (str, bytes)) or not isinstance(claim_ids, Sequence) or not claim_ids:
        raise ValidationError("Choose at least one claim to send.", field="claims")
    if any(isinstance(i, bool) or not isinstance(i, int) for i in claim_ids):
        raise ValidationError("Claims are named by their ids.", field="claims")
    ids = sorted(set(claim_ids))
    if len(ids) > MAX_CLAIMS_PER_SENDING:
        raise ValidationError(f"Send at most {MAX_CLAIMS_PER_SENDING} claims at once.", field="claims")
    return ids


def _ship_back(claim: VendorClaim, reference: str, user_id: int | None) -> None:
    """The claimed units go from damaged stock where inspection left them to the supplier."""
    location = claim.unit.location
    if location is None or ledger.balance(claim.sku_id, location.id, Status.DAMAGED) < claim.qty:
        where = location.code if location is not None else "the dock"
        raise Conflict(f"{claim.number}: no damaged {claim.sku.code} left at {where} to send back; "
                       "find the unit or write it off before sending the claim.", field="claims")
    ledger.post_move(claim.sku_id, claim.qty, Place(location, Status.DAMAGED), Place(ledger.outside(Outside.SUPPLIER)),
                     reason=Reason.TRANSFER, cause=Cause(finance.VENDOR_CLAIM_SOURCE, claim.number), user_id=user_id,
                     note=f"sent back to {claim.supplier.code} under {reference}")


# --- settling ----------------------------------------------------------------------------------------------------

@service
def settle_vendor_claim(claim_id: int, *, credited: object, note: str = "", user_id: int | None = None) -> VendorClaim:
    """Record what the supplier credited for a sent claim (0 = refused, at most what was claimed) and post it."""
    claim = get_claim(claim_id, lock=True)
    if claim.status != SENT:
        raise Conflict(f"{claim.number} is {claim.status}; only a sent claim can be settled.")
    amount, note = _credited_amount(credited, claim), finance.clean_text(note, 500)
    if amount < claim.claimed and not note:
        raise ValidationError("Say why the supplier credited less than was claimed.", field="note")
    claim.status, claim.credited, claim.note = SETTLED, amount, note
    claim.settled_at, claim.settled_by_id = utcnow(), user_id
    rma = claim.rma
    entry = finance.post_vendor_claim_credit(
        claim.number, credited=amount, supplier_name=claim.supplier.name, reference=claim.reference, user_id=user_id,
        sku_id=claim.sku_id, warehouse_id=rma.warehouse_id, order_id=rma.order_id, channel_id=rma.channel_id,
        qty=claim.qty)
    if entry is not None:
        db.session.flush()
        claim.entry_id = entry.id
    _step(claim, "vendor_claim_settled", f"{claim.number}: {claim.supplier.name} credited {amount} of {claim.claimed}"
          + (f" ({note})" if note else ""), user_id)
    record_event("vendor_claim.settled", "vendor_claim", claim.number, _payload(claim), user_id=user_id)
    db.session.commit()
    return claim


def _credited_amount(raw: object, claim: VendorClaim) -> Decimal:
    """The credit as exact cents from 0 to the claimed value, or ValidationError on `credited`."""
    try:
        if isinstance(raw, bool) or not isinstance(raw, (str, int, Decimal)):
            raise InvalidOperation
        amount = Decimal(raw.strip() if isinstance(raw, str) else raw)
    except (InvalidOperation, ValueError):
        raise ValidationError("Enter the amount credited, such as 12.50 (0 if the supplier refused).",
                              field="credited") from None
    if not amount.is_finite():
        raise ValidationError("Enter the amount credited as a number, such as 12.50.", field="credited")
    if amount < 0:
        raise ValidationError("The amount credited cannot be negative; enter 0 if the supplier refused.",
                              field="credited")
    if amount > claim.claimed:
        raise ValidationError(f"At most {claim.claimed} was claimed ({claim.qty} × {claim.unit_cost}).",
                              field="credited")
    if amount != amount.quantize(CENT):
        raise ValidationError("Enter the amount in whole cents, such as 12.50.", field="credited")
    return amount.quantize(CENT) + ZERO


# --- timeline and events -----------------------------------------------------------------------------------------

def _step(claim: VendorClaim, action: str, note: str, user_id: int | None) -> None:
    claim.rma.steps.append(RmaStep(action=action, note=note[:500], user_id=user_id, created_at=utcnow()))


def _payload(claim: VendorClaim) -> dict:
    return {"claim": claim.number, "rma": claim.rma.number, "supplier": claim.supplier.code, "sku": claim.sku.code,
            "po": claim.po_number, "qty": claim.qty, "unit_cost": str(claim.unit_cost), "claimed": str(claim.claimed),
            "status": claim.status, "reference": claim.reference,
            "credited": str(claim.credited) if claim.credited is not None else None, "note": claim.note}
