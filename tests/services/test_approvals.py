"""The one approvals mechanism: rules, requests, decisions by the right person, and each area's handler."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.domain.errors import Conflict, PermissionDenied, ValidationError
from app.extensions import db as database
from app.models import Event
from app.models.approvals import ApprovalRequest, ApprovalRule
from app.services import approvals
from app.services.approvals import approval_needed, decide_approval, request_approval


@pytest.fixture()
def recorded(monkeypatch):
    """A handler for refunds that notes what it was called with."""
    calls = []
    monkeypatch.setitem(approvals.APPROVED_HANDLERS, "refund", lambda request: calls.append(("approved", request.id)))
    monkeypatch.setitem(approvals.REJECTED_HANDLERS, "refund", lambda request: calls.append(("rejected", request.id)))
    return calls


def open_request(user, amount="300.00", kind="refund"):
    request = request_approval(kind, "refund", "RF-1", Decimal(amount), user.id, "customer sent it back broken",
                               summary="Refund RF-1")
    database.session.commit()
    return request


def test_the_default_rules_apply_above_their_thresholds_only(db):
    assert approval_needed("purchase_order", Decimal("5000.00")) is None
    assert approval_needed("purchase_order", Decimal("5000.01")).approver_role == "finance"
    assert approval_needed("inventory_adjustment", Decimal("500.01")).approver_role == "supervisor"
    assert approval_needed("refund", Decimal("250.00")) is None
    assert approval_needed("refund", Decimal("250.01")).approver_role == "finance"
    assert approval_needed("price_change", Decimal("0.01")).approver_role == "admin"
    assert approval_needed("rush_order", None).approver_role == "supervisor"


def test_rules_an_admin_saved_replace_the_defaults_and_the_highest_threshold_passed_wins(db):
    database.session.add_all([
        ApprovalRule(kind="purchase_order", threshold=Decimal("1000"), approver_role="finance"),
        ApprovalRule(kind="purchase_order", threshold=Decimal("20000"), approver_role="admin"),
    ])
    database.session.commit()
    assert approval_needed("purchase_order", Decimal("999")) is None
    assert approval_needed("purchase_order", Decimal("1500")).approver_role == "finance"
    assert approval_needed("purchase_order", Decimal("25000")).approver_role == "admin"


def test_an_inactive_saved_rule_means_no_approval_for_that_kind(db):
    database.session.add(ApprovalRule(kind="refund", threshold=Decimal("0"), approver_role="finance", active=False))
    database.session.commit()
    assert approval_needed("refund", Decimal("10000")) is None


def test_a_request_waits_for_the_rules_role_and_records_an_event(db, make_user):
    asker = make_user("returns", "sam")
    request = open_request(asker)
    assert (request.status, request.approver_role, request.amount) == ("pending", "finance", Decimal("300.00"))
    types = database.session.scalars(select(Event.type).where(Event.subject_type == "approval")).all()
    assert types == ["approval.requested"]


def test_no_request_is_opened_when_no_rule_applies(db, make_user):
    asker = make_user("returns", "sam")
    with pytest.raises(ValidationError):
        request_approval("refund", "refund", "RF-1", Decimal("20.00"), asker.id, "small")


def test_a_subject_has_one_pending_request_at_a_time(db, make_user):
    asker = make_user("returns", "sam")
    open_request(asker)
    with pytest.raises(Conflict):
        open_request(asker)


def test_nobody_approves_their_own_request_not_even_an_admin(db, make_user, recorded):
    admin = make_user("admin", "alex")
    request = open_request(admin)
    with pytest.raises(PermissionDenied, match="own request"):
        decide_approval(request.id, admin.id, True, "fine")
    assert database.session.get(ApprovalRequest, request.id).status == "pending"
    assert recorded == []


def test_only_the_approver_role_or_an_admin_may_decide(db, make_user, recorded):
    request = open_request(make_user("returns", "sam"))
    with pytest.raises(PermissionDenied, match="finance or admin"):
        decide_approval(request.id, make_user("supervisor", "grace").id, True)
    decided = decide_approval(request.id, make_user("admin", "alex").id, True, "checked the photos")
    assert decided.status == "approved" and decided.note == "checked the photos"
    assert recorded == [("approved", request.id)]


def test_approval_runs_the_kinds_handler_in_the_same_transaction(db, make_user, recorded):
    request = open_request(make_user("returns", "sam"))
    finance = make_user("finance", "hannah")
    decided = decide_approval(request.id, finance.id, True)
    assert (decided.status, decided.decided_by_id) == ("approved", finance.id) and decided.decided_at is not None
    assert recorded == [("approved", request.id)]
    types = database.session.scalars(select(Event.type).where(Event.subject_type == "approval")
                                     .order_by(Event.id)).all()
    assert types == ["approval.requested", "approval.approved"]


def test_a_rejection_needs_a_reason_and_runs_the_rejection_handler(db, make_user, recorded):
    request = open_request(make_user("returns", "sam"))
    finance = make_user("finance", "hannah")
    with pytest.raises(ValidationError):
        decide_approval(request.id, finance.id, False, "  ")
    decided = decide_approval(request.id, finance.id, False, "outside the returns window")
    assert decided.status == "rejected" and recorded == [("rejected", request.id)]


def test_a_decided_request_cannot_be_decided_again(db, make_user, recorded):
    request = open_request(make_user("returns", "sam"))
    finance = make_user("finance", "hannah")
    decide_approval(request.id, finance.id, True)
    with pytest.raises(Conflict, match="already approved"):
        decide_approval(request.id, finance.id, False, "changed my mind")


def test_a_failing_handler_leaves_the_request_pending(db, make_user, monkeypatch):
    def broken(request):
        raise Conflict("the refund was already paid")
    monkeypatch.setitem(approvals.APPROVED_HANDLERS, "refund", broken)
    request = open_request(make_user("returns", "sam"))
    with pytest.raises(Conflict):
        decide_approval(request.id, make_user("finance", "hannah").id, True)
    assert database.session.get(ApprovalRequest, request.id).status == "pending"


def test_the_inbox_shows_a_role_its_pending_requests_and_an_admin_all(db, make_user):
    asker = make_user("returns", "sam")
    open_request(asker)
    request_approval("rush_order", "order", "SO-1", None, asker.id, "VIP customer", summary="Rush SO-1")
    database.session.commit()
    finance, supervisor, admin = make_user("finance", "hannah"), make_user("supervisor", "grace"), make_user("admin", "alex")
    assert [r.kind for r in approvals.inbox_for(finance).items] == ["refund"]
    assert [r.kind for r in approvals.inbox_for(supervisor).items] == ["rush_order"]
    assert [r.kind for r in approvals.inbox_for(admin).items] == ["refund", "rush_order"]
    assert approvals.requests_by(asker.id).total == 2
