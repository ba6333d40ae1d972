"""Vendor claims over the API: the list with the screen's filters, sending claims to the supplier and settling them.

Claims are named by their numbers (VC-000123), as the screen, the CSV export and the events show them.
"""
from __future__ import annotations

import re

from flask import g, request
from sqlalchemy import select

from app.api import api, error, json_body, list_answer, roles
from app.api.openapi import documented
from app.domain.errors import NotFound, ValidationError
from app.domain.roles import Role
from app.extensions import db
from app.models.returns import VendorClaim
from app.services import queries, vendor_claim_queries, vendor_claims
from app.services.vendor_claims import MAX_CLAIMS_PER_SENDING, STATUSES

CLAIM_ROLES = (Role.ADMIN, Role.RETURNS, Role.PROCUREMENT, Role.FINANCE)
_MONEY = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$"}
_TIME = {"type": ["string", "null"], "format": "date-time"}
CLAIM_ITEM = {"type": "object", "required": ["id", "number", "status", "rma", "supplier", "sku", "qty", "claimed"],
              "properties": {
                  "id": {"type": "integer"}, "number": {"type": "string"},
                  "status": {"type": "string", "enum": list(STATUSES)}, "rma": {"type": "string"},
                  "rma_id": {"type": "integer"}, "supplier": {"type": "string"}, "supplier_name": {"type": "string"},
                  "sku": {"type": "string"}, "po_number": {"type": ["string", "null"]}, "qty": {"type": "integer"},
                  "unit_cost": {"type": "string"}, "claimed": _MONEY, "defect": {"type": "string"},
                  "opened_at": {"type": "string", "format": "date-time"}, "reference": {"type": ["string", "null"]},
                  "sent_at": _TIME, "credited": {"oneOf": [_MONEY, {"type": "null"}]},
                  "note": {"type": ["string", "null"]}, "settled_at": _TIME}}
LIST_RESPONSE = {"type": "object", "required": ["items", "page", "pages", "total"], "properties": {
    "items": {"type": "array", "items": CLAIM_ITEM}, "page": {"type": "integer"}, "pages": {"type": "integer"},
    "total": {"type": "integer"}}}
LIST_PARAMS = [
    {"name": "q", "in": "query", "schema": {"type": "string"},
     "description": "Claim, RMA, SKU, PO number or the supplier's reference."},
    {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(STATUSES)}},
    {"name": "supplier", "in": "query", "schema": {"type": "string"}, "description": "Supplier code."},
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
]


@api.get("/vendor-claims")
@roles(*CLAIM_ROLES)
@documented(query=LIST_PARAMS, response=LIST_RESPONSE)
def list_vendor_claims():
    """Vendor claims, newest first: open, sent to the supplier, or settled with its credit."""
    status = request.args.get("status", "")
    if status and status not in STATUSES:
        return error("invalid", f"status must be one of: {', '.join(STATUSES)}.", 400)
    filters = vendor_claim_queries.ClaimFilters.from_args(request.args)
    page = vendor_claim_queries.search_claims(filters, queries.page_number(request.args.get("page")))
    return list_answer(page, [vendor_claim_queries.claim_json(c) for c in page.items])


_NUMBER = re.compile(r"^[A-Za-z]{1,5}-[0-9]{1,20}$")
_CREDIT = {"type": "string", "pattern": r"^[0-9]{1,12}(\.[0-9]{1,2})?$", "maxLength": 15,
           "description": "The amount the supplier credited as a decimal string, such as \"12.50\"; \"0\" when the "
                          "supplier refused. At most what was claimed. Numbers are refused so no cent is lost."}
SEND_SCHEMA = {
    "type": "object", "required": ["claims", "reference"],
    "properties": {
        "claims": {"type": "array", "minItems": 1, "maxItems": MAX_CLAIMS_PER_SENDING,
                   "items": {"type": "string", "pattern": _NUMBER.pattern},
                   "description": "Numbers of open claims for one supplier, such as \"VC-000123\"."},
        "reference": {"type": "string", "minLength": 1, "maxLength": 60, "pattern": r"\S",
                      "description": "The supplier's RMA or claim reference the units go back under."},
    },
}
SETTLE_SCHEMA = {
    "type": "object", "required": ["credited"],
    "properties": {"credited": _CREDIT,
                   "note": {"type": "string", "maxLength": 500,
                            "description": "Why the supplier credited less than was claimed (required then)."}},
}
SENT_RESPONSE = {"type": "object", "required": ["items"],
                 "properties": {"items": {"type": "array", "items": CLAIM_ITEM}}}


@api.post("/vendor-claims/send")
@roles(*CLAIM_ROLES)
@documented(body=SEND_SCHEMA, response=SENT_RESPONSE)
def send_vendor_claims():
    """Send open claims of one supplier back under the supplier's reference: 200 with the sent claims."""
    body = json_body()
    ids = _claim_ids(body.get("claims"))
    sent = vendor_claims.send_vendor_claims(ids, reference=_text(body, "reference"), user_id=g.api_user.id)
    return {"items": [vendor_claim_queries.claim_json(c) for c in sent]}


@api.post("/vendor-claims/<number>/settle")
@roles(*CLAIM_ROLES)
@documented(body=SETTLE_SCHEMA, response=CLAIM_ITEM)
def settle_vendor_claim(number: str):
    """Settle a sent claim with what the supplier credited, posted to the books: 200 with the claim."""
    claim_id = _claim_id(number)
    body = json_body()
    credited = body.get("credited")
    if not isinstance(credited, str) or len(credited) > 30:
        raise ValidationError('credited is a decimal string, such as "12.50" ("0" if the supplier refused).',
                              field="credited")
    claim = vendor_claims.settle_vendor_claim(claim_id, credited=credited, note=_text(body, "note"),
                                              user_id=g.api_user.id)
    return vendor_claim_queries.claim_json(claim)


def _claim_id(number: str) -> int:
    """The id of the claim with this number, or NotFound."""
    found = _ids_by_number([number]) if _NUMBER.fullmatch(number) else {}
    if not found:
        raise NotFound(f"No vendor claim {number[:40]!r}.")
    return next(iter(found.values()))


def _claim_ids(numbers: object) -> list[int]:
    """The ids of the named claims; ValidationError when the list is malformed, NotFound naming any unknown."""
    if not isinstance(numbers, list) or not numbers:
        raise ValidationError('claims is a list of claim numbers, such as ["VC-000123"].', field="claims")
    if len(numbers) > MAX_CLAIMS_PER_SENDING:
        raise ValidationError(f"Send at most {MAX_CLAIMS_PER_SENDING} claims at once.", field="claims")
    if not all(isinstance(n, str) and _NUMBER.fullmatch(n.strip()) for n in numbers):
        raise ValidationError('Claims are named by their numbers, such as "VC-000123".', field="claims")
    wanted = list(dict.fromkeys(n.strip().upper() for n in numbers))
    found = _ids_by_number(wanted)
    unknown = [n for n in wanted if n not in found]
    if unknown:
        more = " …" if len(unknown) > 10 else ""
        raise NotFound(f"No vendor claim {', '.join(unknown[:10])}{more}.", field="claims")
    return [found[n] for n in wanted]


def _ids_by_number(numbers: list[str]) -> dict[str, int]:
    wanted = [n.strip().upper() for n in numbers]
    stmt = select(VendorClaim.number, VendorClaim.id).where(VendorClaim.number.in_(wanted))
    return dict(db.session.execute(stmt).all())


def _text(body: dict, key: str) -> str:
    """A text field of the body (absent is empty; the service says when it may not be); anything else is refused."""
    value = body.get(key, "")
    if not isinstance(value, str):
        raise ValidationError(f"{key} must be text.", field=key)
    return value
