"""Vendor claims over the API: the list, with the screen's filters."""
from __future__ import annotations

from flask import request

from app.api import api, error, list_answer, roles
from app.api.openapi import documented
from app.domain.roles import Role
from app.services import queries, vendor_claim_queries
from app.services.vendor_claims import STATUSES

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
