"""The one approvals mechanism: rules say what needs a second person, requests wait for that person's decision.

An area asks `approval_needed(kind, amount)` and, when a rule applies, calls `request_approval` inside its own
transaction. Whoever decides goes through `decide_approval`; the area says what happens next by registering
`@on_approved(kind)` (and `@on_rejected(kind)`) handlers, which run in the deciding transaction.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import select

from app.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.domain.roles import Role
from app.extensions import db
from app.models import User
from app.models.approvals import ApprovalRequest, ApprovalRule
from app.models.types import utcnow
from app.services._uow import service
from app.services.events import record_event
from app.services.settings import get_setting

KINDS = {
    "purchase_order": "Purchase order",
    "inventory_adjustment": "Inventory adjustment",
    "refund": "Refund",
    "rush_order": "Rush order",
    "price_change": "Price change",
}
PENDING, APPROVED, REJECTED, WITHDRAWN = "pending", "approved", "rejected", "withdrawn"

Handler = Callable[[ApprovalRequest], None]
APPROVED_HANDLERS: dict[str, Handler] = {}
REJECTED_HANDLERS: dict[str, Handler] = {}
_handlers_loaded = False


def on_approved(kind: str):
    """Register what happens, in the deciding transaction, when a request of `kind` is approved."""
    return _register(APPROVED_HANDLERS, kind)


def on_rejected(kind: str):
    """Register what happens, in the deciding transaction, when a request of `kind` is rejected."""
    return _register(REJECTED_HANDLERS, kind)


def _register(table: dict[str, Handler], kind: str):
    if kind not in KINDS:
        raise ValueError(f"unknown approval kind {kind!r}")

    def register(fn: Handler) -> Handler:
        table[kind] = fn
        return fn
    return register


def rules_for(kind: str) -> list[ApprovalRule]:
    """The active rules of a kind: rows when an admin has set any, else the defaults from settings."""
    rows = list(db.session.scalars(select(ApprovalRule).where(ApprovalRule.kind == kind, ApprovalRule.active.is_(True))))
    if rows or db.session.scalar(select(ApprovalRule.id).where(ApprovalRule.kind == kind).limit(1)):
        return rows
    return [_default_rule(kind, entry) for entry in get_setting("approvals.default_rules") or []
            if entry.get("kind") == kind]


def _default_rule(kind: str, entry: dict) -> ApprovalRule:
    threshold = entry.get("threshold")
    return ApprovalRule(kind=kind, threshold=Decimal(str(threshold)) if threshold is not None else None,
                        approver_role=entry["approver_role"], description=entry.get("description", ""), active=True)


def approval_needed(kind: str, amount: Decimal | None) -> ApprovalRule | None:
    """The rule that makes a request of this kind and amount need approval, the highest threshold passed; or None."""
    if kind not in KINDS:
        raise ValueError(f"unknown approval kind {kind!r}")
    applying = [rule for rule in rules_for(kind) if _applies(rule, amount)]
    return max(applying, key=lambda rule: rule.threshold if rule.threshold is not None else Decimal("-1"), default=None)


def _applies(rule: ApprovalRule, amount: Decimal | None) -> bool:
    if rule.threshold is None:
        return True
    return amount is not None and amount > rule.threshold


def request_approval(kind: str, subject_type: str, subject_id: object, amount: Decimal | None, requested_by: int | None,
                     reason: str, *, summary: str = "") -> ApprovalRequest:
    """Open a request for the rule that applies; does not commit (it is part of the caller's transaction)."""
    rule = approval_needed(kind, amount)
    if rule is None:
        raise ValidationError(f"No approval rule applies to this {KINDS[kind].lower()}.", field="amount")
    existing = pending_request_for(subject_type, subject_id)
    if existing is not None:
        raise Conflict(f"{existing.summary or 'This'} is already waiting for approval.")
    request = ApprovalRequest(kind=kind, subject_type=subject_type, subject_id=str(subject_id), summary=summary[:200],
                              amount=amount, approver_role=rule.approver_role, rule_id=rule.id,
                              requested_by_id=requested_by, reason=reason[:500], status=PENDING, created_at=utcnow())
    db.session.add(request)
    db.session.flush()
    record_event("approval.requested", "approval", request.id, _payload(request), user_id=requested_by)
    return request


def pending_request_for(subject_type: str, subject_id: object) -> ApprovalRequest | None:
    return db.session.scalar(select(ApprovalRequest).where(
        ApprovalRequest.subject_type == subject_type, ApprovalRequest.subject_id == str(subject_id),
        ApprovalRequest.status == PENDING))


def latest_request_for(subject_type: str, subject_id: object) -> ApprovalRequest | None:
    return db.session.scalar(select(ApprovalRequest).where(
        ApprovalRequest.subject_type == subject_type, ApprovalRequest.subject_id == str(subject_id))
        .order_by(ApprovalRequest.id.desc()).limit(1))


def can_decide(request: ApprovalRequest, user: User) -> bool:
    """True when this person may decide: not the requester, and holding the approver role (or admin)."""
    return (request.status == PENDING and user.id != request.requested_by_id
            and user.role in (request.approver_role, Role.ADMIN.value))


@service
def decide_approval(request_id: int, approver_id: int, approve: bool, note: str = "") -> ApprovalRequest:
    """Approve or reject a pending request; the area's handler for its kind runs in the same transaction."""
    request = db.session.get(ApprovalRequest, request_id)
    if request is None:
        raise NotFound("No such approval request.")
    approver = db.session.get(User, approver_id)
    _check_decider(request, approver)
    if not approve and not note.strip():
        raise ValidationError("Say why you reject it, so the requester can put it right.", field="note")
    request.status = APPROVED if approve else REJECTED
    request.decided_by_id, request.decided_at, request.note = approver.id, utcnow(), note.strip()[:500]
    record_event(f"approval.{request.status}", "approval", request.id, _payload(request), user_id=approver.id)
    handler = _handler(APPROVED_HANDLERS if approve else REJECTED_HANDLERS, request.kind)
    if handler is not None:
        handler(request)
    db.session.commit()
    return request


def _check_decider(request: ApprovalRequest, approver: User | None) -> None:
    if request.status != PENDING:
        raise Conflict(f"This request was already {request.status}.")
    if approver is None or not approver.active:
        raise PermissionDenied("Only an active user can decide approvals.")
    if approver.id == request.requested_by_id:
        raise PermissionDenied("You cannot approve your own request; another person has to decide it.")
    if approver.role not in (request.approver_role, Role.ADMIN.value):
        raise PermissionDenied(f"Only {request.approver_role} or admin may decide this request.")


def withdraw_request(request: ApprovalRequest, user_id: int | None, note: str) -> None:
    """Take back a pending request because its subject changed or went away; does not commit."""
    if request.status != PENDING:
        return
    request.status, request.decided_by_id, request.decided_at, request.note = WITHDRAWN, user_id, utcnow(), note[:500]
    record_event("approval.withdrawn", "approval", request.id, _payload(request), user_id=user_id)


def _handler(table: dict[str, Handler], kind: str) -> Handler | None:
    _load_handlers()
    return table.get(kind)


def _load_handlers() -> None:
    """Import every service module once, so each area's handlers are registered before a decision."""
    global _handlers_loaded
    if _handlers_loaded:
        return
    import app.services as services
    for info in pkgutil.iter_modules(services.__path__):
        if not info.name.startswith(("_", "demo")):
            importlib.import_module(f"app.services.{info.name}")
    _handlers_loaded = True


def _payload(request: ApprovalRequest) -> dict:
    return {"kind": request.kind, "subject_type": request.subject_type, "subject_id": request.subject_id,
            "amount": str(request.amount) if request.amount is not None else None, "status": request.status,
            "approver_role": request.approver_role}


# --- reading -----------------------------------------------------------------------------------------------------

def inbox_for(user: User, kind: str = "", page: int = 1):
    """Pending requests this person's role decides (every one for admin), oldest first."""
    from app.services.queries import paginate
    stmt = select(ApprovalRequest).where(ApprovalRequest.status == PENDING)
    if user.role != Role.ADMIN.value:
        stmt = stmt.where(ApprovalRequest.approver_role == user.role)
    if kind:
        stmt = stmt.where(ApprovalRequest.kind == kind)
    return paginate(stmt.order_by(ApprovalRequest.created_at, ApprovalRequest.id), page, 25)


def requests_by(user_id: int, status: str = "", page: int = 1):
    """The requests a person made, newest first."""
    from app.services.queries import paginate
    stmt = select(ApprovalRequest).where(ApprovalRequest.requested_by_id == user_id)
    if status:
        stmt = stmt.where(ApprovalRequest.status == status)
    return paginate(stmt.order_by(ApprovalRequest.created_at.desc(), ApprovalRequest.id.desc()), page, 25)
