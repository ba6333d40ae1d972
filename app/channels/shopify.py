"""Shopify REST webhook payloads (orders, cancellations, refunds) mapped to capture drafts."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

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
)
from app.domain.money import ZERO, money_sum, split_in_proportion

TOPICS = {
    "orders/create": "order",
    "orders/updated": "order",
    "orders/cancelled": "cancel",
    "refunds/create": "refund",
}

CAPTURED_STATUSES = frozenset({"paid", "partially_paid", "partially_refunded", "refunded"})
NO_RESTOCK_TYPES = frozenset({"no_restock"})


def parse_order(payload: dict) -> OrderDraft:
    """An orders/create, orders/updated or orders/cancelled body (bare or wrapped in "order") as an OrderDraft."""
    order = _unwrap(payload, "order")
    lines = _lines(order)
    shipping_lines = [line for line in _shipping_lines(order) if not line.get("is_removed")]
    return OrderDraft(
        external_id=required_text_at(order.get("id"), "id"),
        number=text_or_none(order.get("name")) or text_or_none(order.get("order_number")),
        currency=currency_at(order.get("currency"), "currency"),
        placed_at=_placed_at(order),
        updated_at=optional_timestamp_at(order.get("updated_at"), "updated_at"),
        customer_name=_customer_name(order),
        customer_email=_customer_email(order),
        ship_to=_address(order.get("shipping_address"), "shipping_address", _customer_email(order)),
        billing_country=_country(object_at(order.get("billing_address"), "billing_address")),
        payment_captured=text_or_none(order.get("financial_status")) in CAPTURED_STATUSES,
        lines=lines,
        shipping=money_sum(_shipping_price(line, i) for i, line in enumerate(shipping_lines)),
        shipping_tax=money_sum(_tax(line, f"shipping_lines[{i}]") for i, line in enumerate(shipping_lines)),
        order_discount=_order_discount(order, lines, shipping_lines),
        total=money_at(order.get("total_price"), "total_price"),
        cancelled_at=optional_timestamp_at(order.get("cancelled_at"), "cancelled_at"),
        cancel_reason=text_or_none(order.get("cancel_reason")),
        note=text_or_none(order.get("note")),
        raw_status=text_or_none(order.get("financial_status")),
        prices_include_tax=order.get("taxes_included") is True,
    )


def parse_cancellation(payload: dict) -> CancellationDraft:
    """An orders/cancelled body as a CancellationDraft; it must say when the order was cancelled."""
    order = _unwrap(payload, "order")
    cancelled_at = optional_timestamp_at(order.get("cancelled_at"), "cancelled_at")
    if cancelled_at is None:
        raise MappingError("cancelled_at", "cancelled_at is missing: the order is not cancelled")
    return CancellationDraft(
        external_id=required_text_at(order.get("id"), "id"),
        cancelled_at=cancelled_at,
        reason=text_or_none(order.get("cancel_reason")),
    )


def parse_refund(payload: dict) -> RefundDraft:
    """A refunds/create body (bare or wrapped in "refund") as a RefundDraft."""
    refund = _unwrap(payload, "refund")
    return RefundDraft(
        external_id=required_text_at(refund.get("id"), "id"),
        order_external_id=required_text_at(refund.get("order_id"), "order_id"),
        created_at=timestamp_at(refund.get("created_at") or refund.get("processed_at"), "created_at"),
        lines=tuple(
            _refund_line(item, f"refund_line_items[{i}]", refund.get("restock"))
            for i, item in enumerate(list_at(refund.get("refund_line_items"), "refund_line_items"))
        ),
        amount=_refunded_money(refund),
        shipping_refund=_shipping_refund(refund),
        note=text_or_none(refund.get("note")),
    )


def _unwrap(payload: object, key: str) -> dict:
    # Webhooks send the resource bare; the REST API and its fixtures wrap it as {"order": {...}}.
    body = object_at(payload, "body")
    inner = body.get(key)
    return inner if isinstance(inner, dict) and "id" not in body else body


def _placed_at(order: dict) -> datetime:
    key = "processed_at" if order.get("processed_at") else "created_at"
    return timestamp_at(order.get(key), key)


def _customer_name(order: dict) -> str | None:
    customer = object_at(order.get("customer"), "customer")
    full_name = " ".join(filter(None, (text_or_none(customer.get(k)) for k in ("first_name", "last_name"))))
    billing = object_at(order.get("billing_address"), "billing_address")
    shipping = object_at(order.get("shipping_address"), "shipping_address")
    return full_name or _person_name(billing) or _person_name(shipping)


def _customer_email(order: dict) -> str | None:
    customer = object_at(order.get("customer"), "customer")
    return (
        text_or_none(order.get("email"))
        or text_or_none(order.get("contact_email"))
        or text_or_none(customer.get("email"))
    )


def _person_name(address: dict) -> str | None:
    given = " ".join(filter(None, (text_or_none(address.get(k)) for k in ("first_name", "last_name"))))
    return text_or_none(address.get("name")) or given or text_or_none(address.get("company"))


def _country(address: dict) -> str | None:
    code = text_or_none(address.get("country_code"))
    return code.upper() if code else text_or_none(address.get("country"))


def _address(value: object, field: str, email: str | None) -> Address:
    address = object_at(value, field)
    return Address(
        name=_person_name(address),
        address1=text_or_none(address.get("address1")),
        address2=text_or_none(address.get("address2")),
        city=text_or_none(address.get("city")),
        region=text_or_none(address.get("province_code")) or text_or_none(address.get("province")),
        postcode=text_or_none(address.get("zip")),
        country=_country(address),
        phone=text_or_none(address.get("phone")),
        email=email,
    )


def _lines(order: dict) -> tuple[LineDraft, ...]:
    items = list_at(order.get("line_items"), "line_items")
    if not items:
        raise MappingError("line_items", "line_items is empty: an order needs at least one line")
    lines = tuple(_line(object_at(item, f"line_items[{i}]"), f"line_items[{i}]") for i, item in enumerate(items))
    if any("tax_lines" in item for item in items):
        return lines
    return _spread_order_tax(order, lines)


def _line(item: dict, path: str) -> LineDraft:
    quantity = quantity_at(item.get("quantity"), f"{path}.quantity")
    return LineDraft(
        sku=required_text_at(item.get("sku"), f"{path}.sku"),
        qty=quantity,
        unit_price=money_at(item.get("price"), f"{path}.price"),
        discount=_line_discount(item, path),
        tax=_tax(item, path),
        title=text_or_none(item.get("name")) or text_or_none(item.get("title")),
        external_line_id=text_or_none(item.get("id")),
    )


def _line_discount(item: dict, path: str) -> Decimal:
    # discount_allocations are the itemised truth; total_discount is the older, deprecated field
    # (the 2025-07 sample even has total_discount 0.00 beside allocations of 3.33).
    if "discount_allocations" in item:
        return _allocated(item, path)
    return optional_money_at(item.get("total_discount"), f"{path}.total_discount")


def _allocated(item: dict, path: str) -> Decimal:
    allocations = list_at(item.get("discount_allocations"), f"{path}.discount_allocations")
    return money_sum(_amount_at(a, "amount", f"{path}.discount_allocations[{i}]") for i, a in enumerate(allocations))


def _amount_at(value: object, key: str, path: str) -> Decimal:
    return money_at(object_at(value, path).get(key), f"{path}.{key}")


def _tax(item: dict, path: str) -> Decimal:
    tax_lines = list_at(item.get("tax_lines"), f"{path}.tax_lines")
    return money_sum(_amount_at(t, "price", f"{path}.tax_lines[{i}]") for i, t in enumerate(tax_lines))


def _shipping_lines(order: dict) -> list[dict]:
    lines = list_at(order.get("shipping_lines"), "shipping_lines")
    return [object_at(line, f"shipping_lines[{i}]") for i, line in enumerate(lines)]


def _shipping_price(line: dict, index: int) -> Decimal:
    return money_at(line.get("price"), f"shipping_lines[{index}].price")


def _order_discount(order: dict, lines: tuple[LineDraft, ...], shipping_lines: list[dict]) -> Decimal:
    shipping_discount = money_sum(_allocated(line, f"shipping_lines[{i}]") for i, line in enumerate(shipping_lines))
    stated = optional_money_at(order.get("total_discounts"), "total_discounts")
    # Old payloads have no allocations: whatever total_discounts does not put on lines is order-wide.
    unallocated = stated - money_sum(line.discount for line in lines) - shipping_discount
    return shipping_discount + max(unallocated, ZERO)


def _spread_order_tax(order: dict, lines: tuple[LineDraft, ...]) -> tuple[LineDraft, ...]:
    # Payloads older than per-line tax_lines state tax only on the order; Keel keeps tax on lines,
    # so it is shared out in proportion to each line's net amount, to the cent.
    shipping_tax = money_sum(_tax(line, f"shipping_lines[{i}]") for i, line in enumerate(_shipping_lines(order)))
    order_tax = _tax(order, "order") - shipping_tax
    if order_tax <= 0:
        return lines
    shares = split_in_proportion(order_tax, [line.net_amount() for line in lines])
    return tuple(_with_tax(line, share) for line, share in zip(lines, shares))


def _with_tax(line: LineDraft, tax: Decimal) -> LineDraft:
    return LineDraft(line.sku, line.qty, line.unit_price, line.discount, tax, line.title, line.external_line_id)


def _refund_line(value: object, path: str, refund_restocks: object) -> RefundLineDraft:
    item = object_at(value, path)
    line_item = object_at(item.get("line_item"), f"{path}.line_item")
    quantity = quantity_at(item.get("quantity"), f"{path}.quantity", minimum=0)
    line_id = text_or_none(item.get("line_item_id")) or text_or_none(line_item.get("id"))
    sku = text_or_none(line_item.get("sku"))
    if sku is None and line_id is None:
        raise MappingError(f"{path}.line_item.sku", f"{path}.line_item.sku is missing and so is line_item_id")
    return RefundLineDraft(
        sku=sku,
        qty=quantity,
        amount=_refund_line_amount(item, line_item, quantity, path),
        restock=_restocks(item, refund_restocks),
        external_line_id=line_id,
    )


def _refund_line_amount(item: dict, line_item: dict, quantity: int, path: str) -> Decimal:
    if item.get("subtotal") is not None:
        subtotal = money_at(item.get("subtotal"), f"{path}.subtotal")
        return subtotal + optional_money_at(item.get("total_tax"), f"{path}.total_tax")
    return _share_of_line(line_item, quantity, f"{path}.line_item")


def _share_of_line(line_item: dict, quantity: int, path: str) -> Decimal:
    # Older refunds carry no subtotal: the refunded share of the original line, tax included.
    ordered = quantity_at(line_item.get("quantity"), f"{path}.quantity")
    price = money_at(line_item.get("price"), f"{path}.price")
    line_amount = ordered * price - _line_discount(line_item, path) + _tax(line_item, path)
    return money_at(line_amount * quantity / ordered, path)


def _restocks(item: dict, refund_restocks: object) -> bool:
    restock_type = text_or_none(item.get("restock_type"))
    if restock_type is None:
        return refund_restocks is True
    return restock_type not in NO_RESTOCK_TYPES


def _refunded_money(refund: dict) -> Decimal:
    transactions = [
        object_at(t, f"transactions[{i}]") for i, t in enumerate(list_at(refund.get("transactions"), "transactions"))
    ]
    return money_sum(
        money_at(t.get("amount"), f"transactions[{i}].amount")
        for i, t in enumerate(transactions)
        if t.get("kind") == "refund" and t.get("status", "success") == "success"
    )


def _shipping_refund(refund: dict) -> Decimal:
    adjustments = [
        object_at(a, f"order_adjustments[{i}]")
        for i, a in enumerate(list_at(refund.get("order_adjustments"), "order_adjustments"))
    ]
    # Shopify states a shipping refund as a negative adjustment; Keel keeps refunds positive.
    return ZERO - money_sum(
        money_at(a.get("amount"), f"order_adjustments[{i}].amount")
        + optional_money_at(a.get("tax_amount"), f"order_adjustments[{i}].tax_amount")
        for i, a in enumerate(adjustments)
        if a.get("kind") == "shipping_refund"
    )
