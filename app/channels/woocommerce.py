"""WooCommerce REST v3 order and refund payloads, and its webhook ping, mapped to capture drafts."""
from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_CEILING, Decimal

from app.domain.capture import (
    Address,
    CancellationDraft,
    LineDraft,
    MappingError,
    OrderDraft,
    RefundDraft,
    RefundLineDraft,
    currency_at,
    list_at,
    money_at,
    object_at,
    optional_money_at,
    optional_timestamp_at,
    quantity_at,
    required_text_at,
    text_or_none,
    timestamp_at,
    whole_number_at,
)
from app.domain.money import CENT, ZERO, money_sum

# WooCommerce has no refund topic: an order.updated delivery lists the order's refunds (listed_refunds,
# amounts only); the full refund, with its lines, is what GET /orders/<id>/refunds answers (parse_refund).
TOPICS = {
    "order.created": "order",
    "order.updated": "order",
    "order.restored": "order",
    "order.deleted": "cancel",
}

CAPTURED_STATUSES = frozenset({"processing", "completed", "refunded"})
CANCELLED_STATUSES = frozenset({"cancelled", "trash"})
SIGNATURE_HEADER = "X-WC-Webhook-Signature"
_PING_BODY = re.compile(rb"webhook_id=\d+")


def parse_order(payload: dict) -> OrderDraft:
    """An order.created, order.updated or order.restored body as an OrderDraft."""
    order = object_at(payload, "body")
    status = text_or_none(order.get("status"))
    modified_at = _modified(order)
    billing = object_at(order.get("billing"), "billing")
    shipping_lines = _objects(order, "shipping_lines")
    return OrderDraft(
        external_id=required_text_at(order.get("id"), "id"),
        number=text_or_none(order.get("number")),
        currency=currency_at(order.get("currency"), "currency"),
        placed_at=timestamp_at(order.get("date_created_gmt"), "date_created_gmt", naive_is_utc=True),
        updated_at=modified_at,
        customer_name=_person_name(billing) or _person_name(object_at(order.get("shipping"), "shipping")),
        customer_email=text_or_none(billing.get("email")),
        ship_to=_ship_to(order, text_or_none(billing.get("email"))),
        billing_country=_country(billing),
        payment_captured=status in CAPTURED_STATUSES,
        lines=_lines(order),
        shipping=_sum_of(shipping_lines, "total", "shipping_lines"),
        shipping_tax=_sum_of(shipping_lines, "total_tax", "shipping_lines"),
        # WooCommerce applies coupons to line totals (discount_total is their sum): none is left over.
        order_discount=ZERO,
        total=money_at(order.get("total"), "total"),
        cancelled_at=modified_at if status in CANCELLED_STATUSES else None,
        cancel_reason=status if status in CANCELLED_STATUSES else None,
        note=text_or_none(order.get("customer_note")),
        raw_status=status,
        # Line and shipping totals are net of tax even when the store enters prices with tax.
        prices_include_tax=False,
        fees=_fees(order),
    )


def parse_cancellation(payload: dict) -> CancellationDraft:
    """An order.deleted body ({"id": N}, or a whole order) as a CancellationDraft."""
    order = object_at(payload, "body")
    return CancellationDraft(
        external_id=required_text_at(order.get("id"), "id"),
        cancelled_at=_modified(order),
        reason="deleted",
    )


def parse_refund(payload: dict, order_external_id: str | None = None) -> RefundDraft:
    """One refund from GET /orders/<id>/refunds as a RefundDraft; the order id defaults to its "up" link."""
    refund = object_at(payload, "body")
    return RefundDraft(
        external_id=required_text_at(refund.get("id"), "id"),
        order_external_id=order_external_id or _order_id_from_links(refund),
        created_at=timestamp_at(refund.get("date_created_gmt"), "date_created_gmt", naive_is_utc=True),
        lines=tuple(_refund_line(item, f"line_items[{i}]") for i, item in enumerate(_objects(refund, "line_items"))),
        amount=abs(money_at(refund.get("amount"), "amount")),
        shipping_refund=_refunded_shipping(refund),
        reason=text_or_none(refund.get("reason")),
    )


def listed_refunds(payload: dict) -> list[RefundDraft]:
    """The refunds an order body lists, as drafts without lines: the body gives each refund's id, reason and
    (negative) total, not which lines it was for. Dated when the order was last modified."""
    order = object_at(payload, "body")
    order_id = required_text_at(order.get("id"), "id")
    when = _modified(order) or timestamp_at(order.get("date_created_gmt"), "date_created_gmt", naive_is_utc=True)
    return [RefundDraft(external_id=required_text_at(refund.get("id"), f"refunds[{i}].id"), order_external_id=order_id,
                        created_at=when, lines=(), amount=abs(money_at(refund.get("total"), f"refunds[{i}].total")),
                        reason=text_or_none(refund.get("reason")) or text_or_none(refund.get("refund")))
            for i, refund in enumerate(_objects(order, "refunds"))]


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """True for the unsigned `webhook_id=N` form post WooCommerce sends when a webhook is saved."""
    return not _header(headers, SIGNATURE_HEADER) and _PING_BODY.fullmatch(body.strip()) is not None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def _objects(resource: dict, key: str) -> list[dict]:
    return [object_at(item, f"{key}[{i}]") for i, item in enumerate(list_at(resource.get(key), key))]


def _amount(resource: dict, key: str, path: str) -> Decimal:
    return optional_money_at(resource.get(key), f"{path}.{key}")


def _sum_of(resources: list[dict], key: str, path: str) -> Decimal:
    return money_sum(_amount(resource, key, f"{path}[{i}]") for i, resource in enumerate(resources))


def _person_name(address: dict) -> str | None:
    given = " ".join(filter(None, (text_or_none(address.get(k)) for k in ("first_name", "last_name"))))
    return given or text_or_none(address.get("company"))


def _country(address: dict) -> str | None:
    country = text_or_none(address.get("country"))
    return country.upper() if country else None


def _ship_to(order: dict, email: str | None) -> Address:
    shipping = object_at(order.get("shipping"), "shipping")
    billing = object_at(order.get("billing"), "billing")
    return Address(
        name=_person_name(shipping),
        address1=text_or_none(shipping.get("address_1")),
        address2=text_or_none(shipping.get("address_2")),
        city=text_or_none(shipping.get("city")),
        region=text_or_none(shipping.get("state")),
        postcode=text_or_none(shipping.get("postcode")),
        country=_country(shipping),
        phone=text_or_none(shipping.get("phone")) or text_or_none(billing.get("phone")),
        email=email,
    )


def _lines(order: dict) -> tuple[LineDraft, ...]:
    items = _objects(order, "line_items")
    if not items:
        raise MappingError("line_items", "line_items is empty: an order needs at least one line")
    return tuple(_line(item, f"line_items[{i}]") for i, item in enumerate(items))


def _line(item: dict, path: str) -> LineDraft:
    quantity = quantity_at(item.get("quantity"), f"{path}.quantity")
    total = money_at(item.get("total"), f"{path}.total")
    subtotal = money_at(item.get("subtotal", item.get("total")), f"{path}.subtotal")
    unit_price = unit_price_of(subtotal, quantity)
    return LineDraft(
        sku=required_text_at(item.get("sku"), f"{path}.sku"),
        qty=quantity,
        unit_price=unit_price,
        discount=unit_price * quantity - total,
        tax=_amount(item, "total_tax", path),
        title=_title(item),
        external_line_id=text_or_none(item.get("id")),
    )


def unit_price_of(line_subtotal: Decimal, quantity: int) -> Decimal:
    """The unit price behind a line subtotal, rounded up to the cent so that rounding shows as a discount, never a surcharge."""
    return (line_subtotal / quantity).quantize(CENT, rounding=ROUND_CEILING)


def _title(item: dict) -> str | None:
    name = text_or_none(item.get("name"))
    return html.unescape(name) if name else None


def _fees(order: dict) -> Decimal:
    fees = _objects(order, "fee_lines")
    return _sum_of(fees, "total", "fee_lines") + _sum_of(fees, "total_tax", "fee_lines")


def _order_id_from_links(refund: dict) -> str:
    links = object_at(refund.get("_links"), "_links")
    for link in list_at(links.get("up"), "_links.up"):
        match = re.search(r"/orders/(\d+)/?$", str(object_at(link, "_links.up").get("href", "")))
        if match:
            return match.group(1)
    raise MappingError("order_id", "order_id is missing: the refund names no order and none was given")


def _refunded_shipping(refund: dict) -> Decimal:
    shipping_lines = _objects(refund, "shipping_lines")
    return abs(_sum_of(shipping_lines, "total", "shipping_lines") + _sum_of(shipping_lines, "total_tax", "shipping_lines"))


def _refund_line(item: dict, path: str) -> RefundLineDraft:
    # WooCommerce states refunded quantities and totals as negative numbers.
    quantity_path = f"{path}.quantity"
    quantity = quantity_at(abs(whole_number_at(item.get("quantity"), quantity_path)), quantity_path, minimum=0)
    refunded_line_id = _refunded_item_id(item) or text_or_none(item.get("id"))
    sku = text_or_none(item.get("sku"))
    if sku is None and refunded_line_id is None:
        raise MappingError(f"{path}.sku", f"{path}.sku is missing and so is the refunded line's id")
    return RefundLineDraft(
        sku=sku,
        qty=quantity,
        amount=abs(_amount(item, "total", path) + _amount(item, "total_tax", path)),
        # The REST resource does not record whether stock went back; restocking is a person's call in Keel.
        restock=False,
        external_line_id=refunded_line_id,
    )


def _refunded_item_id(item: dict) -> str | None:
    meta = list_at(item.get("meta_data"), "meta_data")
    return next(
        (text_or_none(m.get("value")) for m in meta if isinstance(m, dict) and m.get("key") == "_refunded_item_id"),
        None,
    )


def _modified(order: dict) -> datetime | None:
    return optional_timestamp_at(order.get("date_modified_gmt"), "date_modified_gmt", naive_is_utc=True)
