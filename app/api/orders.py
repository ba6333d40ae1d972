"""Orders over the API: capture, search, read, cancel."""
from __future__ import annotations

from flask import g, request

from app.api import api, catalog, error, list_answer, roles, status_arg_refusal
from app.api.openapi import documented
from app.channels.api_order import ORDER_SCHEMA
from app.domain.errors import NotFound
from app.domain.orders import OrderStatus
from app.domain.roles import Role
from app.services import order_queries, queries
from app.services.intake import capture_api_order
from app.services.orders import cancel_order as cancel

MAX_BODY_BYTES = 1_000_000
ORDER_ROLES = (Role.ADMIN, Role.RETAIL)
READ_ROLES = (Role.ADMIN, Role.RETAIL, Role.SUPERVISOR, Role.FINANCE, Role.RETURNS)

_MONEY = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$"}
ORDER_SUMMARY = {
    "type": "object",
    "required": ["id", "number", "channel", "external_id", "status", "total", "currency", "placed_at"],
    "properties": {
        "id": {"type": "integer"}, "number": {"type": "string"}, "channel": {"type": "string"},
        "external_id": {"type": "string"}, "channel_number": {"type": ["string", "null"]},
        "status": {"type": "string", "enum": [s.value for s in OrderStatus]},
        "priority": {"type": "integer"}, "sla_days": {"type": "integer"},
        "promised_ship_date": {"type": "string", "format": "date"}, "placed_at": {"type": "string", "format": "date-time"},
        "currency": {"type": "string"}, "total": _MONEY, "customer_name": {"type": "string"},
        "customer_email": {"type": "string"}, "units": {"type": "integer"},
    },
}
ORDER_DETAIL = {
    **ORDER_SUMMARY,
    "required": [*ORDER_SUMMARY["required"], "lines", "shipments"],
    "properties": {
        **ORDER_SUMMARY["properties"],
        "lines": {"type": "array", "items": {"type": "object", "properties": {
            "line_no": {"type": "integer"}, "sku": {"type": "string"}, "title": {"type": "string"},
            "qty": {"type": "integer"}, "unit_price": _MONEY, "discount": _MONEY, "tax": _MONEY,
            "qty_allocated": {"type": "integer"}, "qty_shipped": {"type": "integer"},
            "qty_backordered": {"type": "integer"}}}},
        "ship_to": {"type": "object"},
        "shipping": _MONEY, "shipping_tax": _MONEY, "order_discount": _MONEY, "fees": _MONEY,
        "holds": {"type": "array", "items": {"type": "object", "properties": {
            "kind": {"type": "string"}, "reason": {"type": "string"}, "open": {"type": "boolean"}}}},
        "shipments": {"type": "array", "items": {"type": "object", "properties": {
            "number": {"type": "string"}, "status": {"type": "string"}, "warehouse": {"type": "string"},
            "warehouse_name": {"type": "string"}, "lines": {"type": "array", "items": {"type": "object"}}}}},
        "cancel_reason": {"type": ["string", "null"]},
    },
}
ORDER_LIST = {"type": "object", "required": ["items", "page", "pages", "total"],
              "properties": {"items": {"type": "array", "items": ORDER_SUMMARY}, "page": {"type": "integer"},
                             "pages": {"type": "integer"}, "total": {"type": "integer"}}}
CANCEL_SCHEMA = {"type": "object", "properties": {"reason": {"type": "string", "maxLength": 300}},
                 "description": "Optional; an empty body cancels with the reason 'cancelled through the API'."}
SEARCH_PARAMS = [
    {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 100},
     "description": "Order number, external id, customer name or email, or a SKU code on one of its lines."},
    {"name": "status", "in": "query", "schema": {"type": "string", "enum": [s.value for s in OrderStatus] + ["open"]}},
    {"name": "channel", "in": "query", "schema": {"type": "string"}, "description": "Channel code."},
    {"name": "warehouse", "in": "query", "schema": {"type": "string"}, "description": "Warehouse code of a shipment."},
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}, "description": "Placed on or after."},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}, "description": "Placed on or before."},
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
]


CHANNEL_LIST = {"type": "object", "required": ["items", "page", "pages", "total"], "properties": {
    "items": {"type": "array", "items": {"type": "object", "required": ["code", "name", "type"], "properties": {
        "code": {"type": "string"}, "name": {"type": "string"},
        "type": {"type": "string", "enum": ["web", "shopify", "woocommerce", "marketplace", "wholesale", "store"]},
        "currency": {"type": "string"}, "safety_buffer": {"type": "integer"}, "active": {"type": "boolean"},
        "warehouses": {"type": "array", "items": {"type": "string"}, "description": "Warehouse codes, best first."}}}},
    "page": {"type": "integer"}, "pages": {"type": "integer"}, "total": {"type": "integer"}}}
# GET /channels is served with the catalogue; the channels it lists are the ones orders arrive through.
documented(response=CHANNEL_LIST)(catalog.list_channels)


@api.post("/orders")
@roles(*ORDER_ROLES)
@documented(body=ORDER_SCHEMA, response=ORDER_DETAIL)
def create_order():
    """Capture an order; the same channel and external_id again answers 200 with the same order."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return error("too_large", f"Bodies over {MAX_BODY_BYTES} bytes are refused.", 413)
    captured = capture_api_order(request.get_data(cache=False), user_id=g.api_user.id)
    return order_queries.order_api_json(captured.order), 201 if captured.created else 200


@api.get("/orders")
@roles(*READ_ROLES)
@documented(query=SEARCH_PARAMS, response=ORDER_LIST)
def list_orders():
    """Search orders by number, external id, customer or SKU, newest first."""
    if refusal := status_arg_refusal(OrderStatus):
        return refusal
    filters = order_queries.InboxFilters.from_args(request.args)
    page = order_queries.search_orders(filters, queries.page_number(request.args.get("page")))
    return list_answer(page, [order_queries.order_summary_json(o) for o in page.items])


@api.get("/orders/<int:order_id>")
@roles(*READ_ROLES)
@documented(response=ORDER_DETAIL)
def get_order(order_id: int):
    """The order with its lines, status, holds, and shipments with their warehouses and bins."""
    order = order_queries.order_detail(order_id)
    if order is None:
        raise NotFound(f"No order with id {order_id}.")
    return order_queries.order_api_json(order)


@api.post("/orders/<int:order_id>/cancel")
@roles(*ORDER_ROLES)
@documented(body=CANCEL_SCHEMA, response=ORDER_DETAIL)
def cancel_order(order_id: int):
    """Cancel before shipping; allocated stock goes back to available."""
    body = request.get_json(silent=True) if request.get_data(cache=True) else {}
    if not isinstance(body, dict):
        return error("invalid", "The body must be a JSON object, or empty.", 400)
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 300:
        return error("invalid", "reason must be text of up to 300 characters.", 422, fields={"reason": "Up to 300 characters of text."})
    order = cancel(order_id, reason=reason.strip() or "cancelled through the API", user_id=g.api_user.id)
    return order_queries.order_api_json(order_queries.order_detail(order.id))
