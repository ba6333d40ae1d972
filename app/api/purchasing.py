"""Purchase orders over the API: draft, read, send, shipment notices and receipts."""
from __future__ import annotations

from datetime import date

from flask import g, request
from jsonschema import Draft202012Validator
from sqlalchemy import select

from app.api import api, json_body, list_answer, roles
from app.api.openapi import documented
from app.domain.errors import NotFound, ValidationError
from app.domain.roles import Role
from app.extensions import db
from app.models import Supplier, Warehouse
from app.models.purchasing import PurchaseOrder, Receipt
from app.services import purchasing, purchasing_queries, queries

PO_ROLES = (Role.ADMIN, Role.PROCUREMENT)
RECEIVE_ROLES = (Role.ADMIN, Role.PROCUREMENT, Role.WAREHOUSE, Role.SUPERVISOR)
READ_ROLES = (Role.ADMIN, Role.PROCUREMENT, Role.WAREHOUSE, Role.SUPERVISOR, Role.FINANCE)
MAX_LINES = purchasing.MAX_LINES
MAX_QTY = 1_000_000

_TEXT = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"\S"}
_COST = {"description": "A unit cost of at least 0 in the supplier's currency, up to 4 decimals: a decimal string "
                        "(preferred) or a number.",
         "anyOf": [{"type": "string", "pattern": r"^[0-9]{1,9}(\.[0-9]{1,4})?$(?!\n)"},
                   {"type": "number", "minimum": 0, "maximum": 999999999}]}
_QTY = {"type": "integer", "minimum": 1, "maximum": MAX_QTY}
_DATE = {"type": "string", "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$(?!\n)"}
_MONEY = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$"}

DRAFT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Purchase order draft",
    "description": "POST /purchase-orders. A unit cost left out is the supplier's agreed catalogue cost.",
    "type": "object",
    "required": ["supplier", "warehouse", "lines"],
    "properties": {
        "supplier": {**_TEXT, "description": "Supplier code."},
        "warehouse": {**_TEXT, "description": "Warehouse code to deliver to."},
        "lines": {"type": "array", "minItems": 1, "maxItems": MAX_LINES, "items": {
            "type": "object", "required": ["sku", "qty"],
            "properties": {"sku": _TEXT, "qty": _QTY, "unit_cost": _COST}}},
        "note": {"type": "string", "maxLength": 1000},
    },
}
RECEIVE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Receipt",
    "description": "POST /purchase-orders/{id}/receive. Partial deliveries are fine; quarantined units are held for "
                   "inspection, the rest become available and fill backorders first.",
    "type": "object",
    "required": ["lines"],
    "properties": {
        "lines": {"type": "array", "minItems": 1, "maxItems": MAX_LINES, "items": {
            "type": "object", "required": ["sku", "qty"],
            "properties": {"sku": _TEXT, "qty": _QTY, "quarantine": {"type": "boolean", "default": False},
                           "unit_cost": {**_COST, "description": "The cost on the delivery note, when it differs."}}}},
        "note": {"type": "string", "maxLength": 500},
    },
}
SHIPMENT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Shipment notice",
    "description": "POST /purchase-orders/{id}/shipments: the supplier has shipped; the units are in transit.",
    "type": "object",
    "required": ["expected_date", "lines"],
    "properties": {
        "expected_date": _DATE,
        "reference": {"type": "string", "maxLength": 60}, "carrier": {"type": "string", "maxLength": 60},
        "tracking": {"type": "string", "maxLength": 80},
        "lines": {"type": "array", "minItems": 1, "maxItems": MAX_LINES, "items": {
            "type": "object", "required": ["sku", "qty"], "properties": {"sku": _TEXT, "qty": _QTY}}},
    },
}
EMPTY_SCHEMA = {"type": "object", "description": "No body is needed."}

LINE_JSON = {"type": "object", "properties": {
    "line_no": {"type": "integer"}, "sku": {"type": "string"}, "supplier_code": {"type": "string"},
    "qty_ordered": {"type": "integer"}, "unit_cost": {"type": "string"}, "qty_in_transit": {"type": "integer"},
    "qty_received": {"type": "integer"}, "qty_quarantined": {"type": "integer"}, "qty_put_away": {"type": "integer"},
    "qty_open": {"type": "integer"}}}
RECEIPT_JSON = {"type": "object", "properties": {
    "number": {"type": "string"}, "received_at": {"type": "string", "format": "date-time"},
    "lines": {"type": "array", "items": {"type": "object", "properties": {
        "sku": {"type": "string"}, "qty": {"type": "integer"}, "quarantined": {"type": "boolean"},
        "unit_cost": {"type": "string"}}}}}}
PO_JSON = {"type": "object", "required": ["id", "number", "status", "supplier", "warehouse", "currency", "total", "lines"],
           "properties": {
               "id": {"type": "integer"}, "number": {"type": "string"},
               "status": {"type": "string", "enum": list(purchasing.PO_STATUSES)},
               "supplier": {"type": "string"}, "supplier_name": {"type": "string"}, "warehouse": {"type": "string"},
               "currency": {"type": "string"}, "total": _MONEY,
               "expected_date": {"type": ["string", "null"], "format": "date"},
               "created_at": {"type": "string", "format": "date-time"},
               "sent_at": {"type": ["string", "null"], "format": "date-time"},
               "source": {"type": "string"}, "note": {"type": "string"},
               "lines": {"type": "array", "items": LINE_JSON}, "receipts": {"type": "array", "items": RECEIPT_JSON}}}
PO_LIST = {"type": "object", "required": ["items", "page", "pages", "total"],
           "properties": {"items": {"type": "array", "items": PO_JSON}, "page": {"type": "integer"},
                          "pages": {"type": "integer"}, "total": {"type": "integer"}}}
RECEIVED_JSON = {"type": "object", "required": ["receipt", "purchase_order"],
                 "properties": {"receipt": RECEIPT_JSON, "purchase_order": PO_JSON}}
LIST_PARAMS = [
    {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 100},
     "description": "PO number, supplier name or code, supplier reference, or a SKU code on one of its lines."},
    {"name": "status", "in": "query", "schema": {"type": "string", "enum": [*purchasing.PO_STATUSES, "open"]}},
    {"name": "supplier", "in": "query", "schema": {"type": "string"}, "description": "Supplier code."},
    {"name": "warehouse", "in": "query", "schema": {"type": "string"}, "description": "Warehouse code."},
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
]


def _validated(schema: dict) -> dict:
    """The JSON body when it fits the schema; otherwise every misfit, named by its path."""
    body = json_body()
    problems = {}
    for problem in Draft202012Validator(schema).iter_errors(body):
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem.absolute_path)
        if problem.validator == "required" and isinstance(problem.instance, dict):
            for name in problem.validator_value:
                if name not in problem.instance:
                    problems.setdefault(f"{path}.{name}".lstrip("."), f"{name} is missing")
        else:
            problems.setdefault(path.lstrip(".") or "body", problem.message[:200])
    if problems:
        raise ValidationError("The body does not fit the schema.", errors=problems)
    return body


def _skus(lines: list[dict]) -> list[int]:
    found = purchasing.skus_by_code({line["sku"] for line in lines})
    missing = {f"lines[{i}].sku": f"Unknown SKU '{line['sku']}'." for i, line in enumerate(lines)
               if line["sku"] not in found}
    if missing:
        raise ValidationError("Some SKUs are unknown.", errors=missing)
    return [found[line["sku"]].id for line in lines]


def _cost(line: dict, index: int):
    return purchasing.parse_unit_cost(line.get("unit_cost"), f"lines[{index}].unit_cost")


def po_json(po: PurchaseOrder) -> dict:
    return {
        "id": po.id, "number": po.number, "status": po.status, "supplier": po.supplier.code,
        "supplier_name": po.supplier.name, "warehouse": po.warehouse.code, "currency": po.currency,
        "total": str(po.total), "expected_date": po.expected_date.isoformat() if po.expected_date else None,
        "created_at": po.created_at.isoformat(), "sent_at": po.sent_at.isoformat() if po.sent_at else None,
        "source": po.source, "note": po.note,
        "lines": [{"line_no": line.line_no, "sku": line.sku.code, "supplier_code": line.supplier_code,
                   "qty_ordered": line.qty_ordered, "unit_cost": str(line.unit_cost.normalize()),
                   "qty_in_transit": line.qty_in_transit, "qty_received": line.qty_received,
                   "qty_quarantined": line.qty_quarantined, "qty_put_away": line.qty_put_away,
                   "qty_open": line.qty_open if po.status not in ("closed", "cancelled") else 0} for line in po.lines],
        "receipts": [receipt_json(receipt) for receipt in po.receipts],
    }


def receipt_json(receipt: Receipt) -> dict:
    return {"number": receipt.number, "received_at": receipt.received_at.isoformat(),
            "lines": [{"sku": line.sku.code, "qty": line.qty, "quarantined": line.quarantined,
                       "unit_cost": str(line.unit_cost.normalize())} for line in receipt.lines]}


@api.post("/purchase-orders")
@roles(*PO_ROLES)
@documented(body=DRAFT_SCHEMA, response=PO_JSON)
def create_purchase_order():
    """Draft a purchase order for a supplier and warehouse; 201 with the draft."""
    body = _validated(DRAFT_SCHEMA)
    supplier, warehouse = purchasing.supplier_by_code(body["supplier"]), purchasing.warehouse_by_code(body["warehouse"])
    sku_ids = _skus(body["lines"])
    lines = [purchasing.LineInput(sku_id, int(line["qty"]), _cost(line, i))
             for i, (sku_id, line) in enumerate(zip(sku_ids, body["lines"]))]
    po = purchasing.draft_purchase_order(supplier.id, warehouse.id, lines, user_id=g.api_user.id, source="api",
                                         note=body.get("note", ""))
    return po_json(po), 201


@api.get("/purchase-orders")
@roles(*READ_ROLES)
@documented(query=LIST_PARAMS, response=PO_LIST)
def list_purchase_orders():
    """Purchase orders, newest first; search and filter by status, supplier and warehouse."""
    args = request.args
    status = args.get("status", "")
    if status and status not in (*purchasing.PO_STATUSES, "open"):
        raise ValidationError(f"Unknown status '{status[:30]}'.", field="status")
    supplier_id = _id_for(Supplier, args.get("supplier", ""))
    warehouse_id = _id_for(Warehouse, args.get("warehouse", ""))
    if supplier_id == 0 or warehouse_id == 0:
        return {"items": [], "page": 1, "pages": 1, "total": 0}
    stmt = purchasing_queries.po_search(args.get("q", "")[:100], status=status, supplier_id=supplier_id,
                                        warehouse_id=warehouse_id)
    page = queries.paginate(stmt, queries.page_number(args.get("page")), 50)
    return list_answer(page, [po_json(po) for po in page.items])


def _id_for(model, code: str) -> int | None:
    """The id of the supplier or warehouse with this code; None when no filter, 0 when none has it."""
    if not code:
        return None
    return db.session.scalar(select(model.id).where(model.code == code[:30])) or 0


@api.get("/purchase-orders/<int:po_id>")
@roles(*READ_ROLES)
@documented(response=PO_JSON)
def get_purchase_order(po_id: int):
    """One purchase order with its lines and receipts."""
    return po_json(purchasing.get_po(po_id))


@api.post("/purchase-orders/<int:po_id>/send")
@roles(*PO_ROLES)
@documented(body=EMPTY_SCHEMA, response=PO_JSON)
def send_purchase_order(po_id: int):
    """Send a draft or approved PO; over the approval threshold it waits for approval instead."""
    return po_json(purchasing.send_purchase_order(po_id, user_id=g.api_user.id))


@api.post("/purchase-orders/<int:po_id>/shipments")
@roles(*PO_ROLES)
@documented(body=SHIPMENT_SCHEMA, response=PO_JSON)
def notify_purchase_order_shipment(po_id: int):
    """Record a supplier's shipment notice: the units are in transit to the warehouse's dock."""
    po = purchasing.get_po(po_id)
    body = _validated(SHIPMENT_SCHEMA)
    sku_ids = _skus(body["lines"])
    try:
        expected = date.fromisoformat(body["expected_date"])
    except ValueError:
        raise ValidationError("Not a calendar date.", field="expected_date") from None
    purchasing.record_shipment_notice(po.id, [(sku_id, int(line["qty"])) for sku_id, line in zip(sku_ids, body["lines"])],
                                      expected_date=expected, user_id=g.api_user.id,
                                      reference=body.get("reference", ""), carrier=body.get("carrier", ""),
                                      tracking=body.get("tracking", ""))
    return po_json(purchasing.get_po(po_id)), 201


@api.post("/purchase-orders/<int:po_id>/receive")
@roles(*RECEIVE_ROLES)
@documented(body=RECEIVE_SCHEMA, response=RECEIVED_JSON)
def receive_purchase_order(po_id: int):
    """Receive units (partial allowed): available units fill backorders, quarantined ones are held."""
    purchasing.get_po(po_id)
    body = _validated(RECEIVE_SCHEMA)
    sku_ids = _skus(body["lines"])
    lines = [purchasing.ReceiveInput(sku_id, int(line["qty"]), line.get("quarantine", False), _cost(line, i))
             for i, (sku_id, line) in enumerate(zip(sku_ids, body["lines"]))]
    receipt = purchasing.receive_purchase_order(po_id, lines, user_id=g.api_user.id, note=body.get("note", ""))
    po = db.session.get(PurchaseOrder, po_id)
    if po is None:
        raise NotFound("No such purchase order.")
    return {"receipt": receipt_json(receipt), "purchase_order": po_json(po)}, 201
