"""Returns over the API: open an RMA, list and read them, receive, inspect, refund and decide refunds."""
from __future__ import annotations

from flask import g, request

from app.api import api, json_body, list_answer, roles, status_arg_refusal
from app.api.openapi import documented
from app.domain.errors import NotFound, ValidationError
from app.domain.returns import Disposition, ReturnReason, RmaStatus
from app.domain.roles import Role
from app.services import queries, return_queries, returns

RETURN_ROLES = (Role.ADMIN, Role.RETURNS, Role.RETAIL)
APPROVER_ROLES = (Role.ADMIN, Role.FINANCE)
READ_ROLES = (Role.ADMIN, Role.RETURNS, Role.RETAIL, Role.FINANCE)

_MONEY = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$"}
OPEN_SCHEMA = {
    "type": "object", "required": ["order", "lines"],
    "properties": {
        "order": {"oneOf": [{"type": "string"}, {"type": "integer"}],
                  "description": "The order's number (SO-000123), the channel's number, external id, or Keel id."},
        "lines": {"type": "array", "minItems": 1, "maxItems": returns.MAX_LINES, "items": {
            "type": "object", "required": ["sku", "qty", "reason"],
            "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1},
                           "reason": {"type": "string", "enum": [r.value for r in ReturnReason]},
                           "note": {"type": "string", "maxLength": 300}}}},
        "note": {"type": "string", "maxLength": 1000},
    },
}
RECEIVE_SCHEMA = {
    "type": "object", "required": ["lines"],
    "properties": {"lines": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["sku", "qty"],
        "properties": {"sku": {"type": "string", "description": "SKU code or GTIN"},
                       "qty": {"type": "integer", "minimum": 1}}}},
        "note": {"type": "string", "maxLength": 300}},
}
INSPECT_SCHEMA = {
    "type": "object", "required": ["lines"],
    "properties": {"lines": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["sku", "disposition"],
        "properties": {"sku": {"type": "string"}, "disposition": {"type": "string", "enum": [d.value for d in Disposition]},
                       "grade": {"type": "string", "enum": ["A", "B", "C", "D"]}, "defect": {"type": "string"},
                       "qty": {"type": "integer", "minimum": 1}, "bin": {"type": "string"}}}}},
}
REFUND_SCHEMA = {
    "type": "object",
    "properties": {"restocking_fee": _MONEY, "shipping": _MONEY, "override_reason": {"type": "string", "maxLength": 300},
                   "amounts": {"type": "object", "description": "RMA line id to refunded amount, tax included",
                               "additionalProperties": _MONEY}},
}
DECIDE_SCHEMA = {"type": "object", "required": ["approve"],
                 "properties": {"approve": {"type": "boolean"}, "note": {"type": "string", "maxLength": 500}}}
PAY_SCHEMA = {"type": "object", "required": ["reference"], "properties": {"reference": {"type": "string", "maxLength": 100}}}
RMA_RESPONSE = {"type": "object", "required": ["id", "number", "status", "order", "lines"], "properties": {
    "id": {"type": "integer"}, "number": {"type": "string"}, "status": {"type": "string", "enum": [s.value for s in RmaStatus]},
    "order": {"type": "string"}, "channel": {"type": "string"}, "lines": {"type": "array", "items": {"type": "object"}},
    "refunds": {"type": "array", "items": {"type": "object"}}, "timeline": {"type": "array", "items": {"type": "object"}}}}
REFUND_RESPONSE = {"type": "object", "required": ["id", "number", "status", "total"], "properties": {
    "id": {"type": "integer"}, "number": {"type": "string"}, "status": {"type": "string"}, "total": _MONEY}}
LIST_PARAMS = [
    {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "RMA, order, customer or tracking number."},
    {"name": "status", "in": "query", "schema": {"type": "string", "enum": [s.value for s in RmaStatus] + ["open"]}},
    {"name": "channel", "in": "query", "schema": {"type": "string"}},
    {"name": "reason", "in": "query", "schema": {"type": "string", "enum": [r.value for r in ReturnReason]}},
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
]


def _rma_answer(rma, status: int = 200):
    return return_queries.rma_json(rma, detail=True), status


def _text(body: dict, key: str, limit: int) -> str:
    value = body.get(key, "")
    if not isinstance(value, str):
        raise ValidationError(f"{key} must be text.", field=key)
    return value.strip()[:limit]


@api.post("/returns")
@roles(*RETURN_ROLES)
@documented(body=OPEN_SCHEMA, response=RMA_RESPONSE)
def open_return():
    """Authorise the return of shipped units of an order: 201 with the RMA."""
    body = json_body()
    if "order" not in body:
        raise ValidationError("Name the order (number or id).", field="order")
    rma = returns.open_rma(body["order"], body.get("lines"), user_id=g.api_user.id, source="api",
                           note=_text(body, "note", 1000))
    return _rma_answer(rma, 201)


@api.get("/returns")
@roles(*READ_ROLES)
@documented(query=LIST_PARAMS)
def list_returns():
    """Search RMAs, newest first."""
    if refusal := status_arg_refusal(RmaStatus):
        return refusal
    filters = return_queries.RmaFilters.from_args(request.args)
    page = return_queries.search_rmas(filters, queries.page_number(request.args.get("page")))
    return list_answer(page, [return_queries.rma_json(r) for r in page.items])


@api.get("/returns/<int:rma_id>")
@roles(*READ_ROLES)
@documented(response=RMA_RESPONSE)
def get_return(rma_id: int):
    """One RMA with its lines, units, refunds and timeline."""
    rma = return_queries.rma_detail(rma_id)
    if rma is None:
        raise NotFound(f"No RMA with id {rma_id}.")
    return _rma_answer(rma)


@api.post("/returns/<int:rma_id>/receive")
@roles(*RETURN_ROLES)
@documented(body=RECEIVE_SCHEMA, response=RMA_RESPONSE)
def receive_return(rma_id: int):
    """Book the parcel in at the dock: units counted per SKU; anything not authorised is kept and flagged."""
    body = json_body()
    lines = body.get("lines")
    if not isinstance(lines, list) or not lines or not all(isinstance(line, dict) for line in lines):
        raise ValidationError("lines is a list of {sku, qty}.", field="lines")
    counts: dict[str, object] = {}
    for index, line in enumerate(lines):
        sku, qty = line.get("sku"), line.get("qty")
        if not isinstance(sku, str) or not sku.strip():
            raise ValidationError("Give the SKU code or barcode.", field=f"lines[{index}].sku")
        if isinstance(qty, bool) or not isinstance(qty, int) or qty < 1:
            raise ValidationError("qty is a whole number of at least 1.", field=f"lines[{index}].qty")
        counts[sku.strip()] = counts.get(sku.strip(), 0) + qty
    rma = returns.receive_rma(rma_id, counts, user_id=g.api_user.id, note=_text(body, "note", 300))
    return _rma_answer(rma)


@api.post("/returns/<int:rma_id>/inspect")
@roles(*RETURN_ROLES)
@documented(body=INSPECT_SCHEMA, response=RMA_RESPONSE)
def inspect_return(rma_id: int):
    """Grade and dispose of received units by SKU: restock, refurbish, vendor_claim or write_off."""
    rma = returns.inspect_by_sku(rma_id, json_body().get("lines"), user_id=g.api_user.id)
    return _rma_answer(rma)


@api.post("/returns/<int:rma_id>/refund")
@roles(*RETURN_ROLES)
@documented(body=REFUND_SCHEMA, response=REFUND_RESPONSE)
def refund_return(rma_id: int):
    """Request the refund of an inspected return; over the approval limit it waits for finance."""
    body = json_body()
    amounts = body.get("amounts") or {}
    if not isinstance(amounts, dict) or not all(isinstance(k, str) and k.isdigit() for k in amounts):
        raise ValidationError("amounts maps RMA line ids to amounts.", field="amounts")
    refund = returns.request_refund(rma_id, user_id=g.api_user.id, amounts={int(k): v for k, v in amounts.items()},
                                    restocking_fee=body.get("restocking_fee"), shipping=body.get("shipping"),
                                    override_reason=_text(body, "override_reason", 300))
    return return_queries.refund_json(refund), 201


@api.post("/returns/refunds/<int:refund_id>/decide")
@roles(*APPROVER_ROLES)
@documented(body=DECIDE_SCHEMA, response=REFUND_RESPONSE)
def decide_return_refund(refund_id: int):
    """Approve or reject a refund waiting for approval; nobody decides their own request."""
    body = json_body()
    if not isinstance(body.get("approve"), bool):
        raise ValidationError("approve is true or false.", field="approve")
    refund = returns.decide_refund(refund_id, approver_id=g.api_user.id, approve=body["approve"],
                                   note=_text(body, "note", 500))
    return return_queries.refund_json(refund)


@api.post("/returns/refunds/<int:refund_id>/issue")
@roles(*RETURN_ROLES)
@documented(response=REFUND_RESPONSE)
def issue_return_refund(refund_id: int):
    """Issue an approved refund: credit note in finance, refund.issued event for the channel."""
    return return_queries.refund_json(returns.issue_refund(refund_id, user_id=g.api_user.id))


@api.post("/returns/refunds/<int:refund_id>/pay")
@roles(*RETURN_ROLES)
@documented(body=PAY_SCHEMA, response=REFUND_RESPONSE)
def pay_return_refund(refund_id: int):
    """Record that the money went back, with its payment reference; the return closes."""
    refund = returns.mark_refund_paid(refund_id, reference=_text(json_body(), "reference", 100), user_id=g.api_user.id)
    return return_queries.refund_json(refund)
