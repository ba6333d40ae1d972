"""The JSON body of POST /api/v1/orders: its JSON Schema and its mapping to an OrderDraft."""
from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timezone
from decimal import Decimal

from app.domain.capture import Address, LineDraft, MappingError, OrderDraft, timestamp_at
from app.domain.money import ZERO, is_currency_code, to_currency, to_money

MAX_TEXT = 200
MAX_LINES = 1000
MAX_QTY = 1_000_000
MAX_PRIORITY = 10
MAX_SLA_DAYS = 365
MAX_AMOUNT = Decimal("999999999999.99")



def _whole_text(pattern: str) -> str:
    # Python's "$" (used by jsonschema) also matches before a final newline; ECMA's does not.
    return f"^{pattern}$(?!\n)"


_MONEY_TEXT = _whole_text(r"[0-9]{1,12}(\.[0-9]{1,6})?")
_COUNTRY = _whole_text("[A-Za-z]{2}")
_CURRENCY = _whole_text("[A-Z]{3}")
_TIMESTAMP = _whole_text(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})")

_REQUIRED_TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT, "pattern": r"\S"}
_OPTIONAL_TEXT = {"type": ["string", "null"], "maxLength": MAX_TEXT}
_MONEY = {
    "description": "An amount of money, at least 0: a decimal string (preferred) or a number; rounded half-up to the cent.",
    "anyOf": [
        {"type": "string", "pattern": _MONEY_TEXT},
        {"type": "number", "minimum": 0, "maximum": float(MAX_AMOUNT)},
    ],
}
_OPTIONAL_MONEY = {"anyOf": [*_MONEY["anyOf"], {"type": "null"}], "description": _MONEY["description"]}

LINE_SCHEMA = {
    "type": "object",
    "required": ["sku", "qty", "unit_price"],
    "properties": {
        "sku": _REQUIRED_TEXT,
        "qty": {"type": "integer", "minimum": 1, "maximum": MAX_QTY},
        "unit_price": _MONEY,
        "discount": {**_OPTIONAL_MONEY, "description": "Discount on the whole line, not per unit."},
        "tax": {**_OPTIONAL_MONEY, "description": "Tax on the whole line, not per unit."},
        "title": _OPTIONAL_TEXT,
    },
}

SHIP_TO_SCHEMA = {
    "type": "object",
    "required": ["name", "address1", "city", "postcode", "country"],
    "properties": {
        "name": _REQUIRED_TEXT,
        "address1": _REQUIRED_TEXT,
        "address2": _OPTIONAL_TEXT,
        "city": _REQUIRED_TEXT,
        "region": _OPTIONAL_TEXT,
        "postcode": {"type": "string", "maxLength": MAX_TEXT, "description": "Blank only where the country has none."},
        "country": {"type": "string", "pattern": _COUNTRY, "description": "ISO 3166-1 alpha-2 code."},
        "phone": _OPTIONAL_TEXT,
        "email": _OPTIONAL_TEXT,
    },
}

ORDER_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Order capture",
    "description": "POST /orders. Unknown keys are ignored. The same channel and external_id again returns the same order.",
    "type": "object",
    "required": ["channel", "external_id", "lines", "ship_to"],
    "properties": {
        "channel": {**_REQUIRED_TEXT, "description": "Sales channel code."},
        "external_id": {**_REQUIRED_TEXT, "description": "The order's id in the channel; makes capture idempotent."},
        "number": _OPTIONAL_TEXT,
        "lines": {"type": "array", "minItems": 1, "maxItems": MAX_LINES, "items": LINE_SCHEMA},
        "ship_to": SHIP_TO_SCHEMA,
        "priority": {"type": "integer", "minimum": 1, "maximum": MAX_PRIORITY, "default": 1},
        "sla_days": {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_SLA_DAYS},
        "currency": {"type": ["string", "null"], "pattern": _CURRENCY, "description": "ISO 4217; the channel's when absent."},
        "placed_at": {"type": ["string", "null"], "format": "date-time", "pattern": _TIMESTAMP},
        "customer_name": _OPTIONAL_TEXT,
        "customer_email": _OPTIONAL_TEXT,
        "billing_country": {"type": ["string", "null"], "pattern": _COUNTRY},
        "payment_captured": {"type": "boolean", "default": True},
        "shipping": _OPTIONAL_MONEY,
        "shipping_tax": _OPTIONAL_MONEY,
        "note": _OPTIONAL_TEXT,
    },
}


def parse_api_order(body: object, default_currency: str, *, received_at: datetime | None = None) -> tuple[str, OrderDraft]:
    """The channel code and OrderDraft of a POST /orders body; MappingError names the first bad field by its JSON path."""
    order = _object(body, "body")
    channel = _required_text(order, "channel", "")
    external_id = _required_text(order, "external_id", "")
    lines = _lines(order)
    draft = OrderDraft(
        external_id=external_id,
        number=_optional_text(order, "number", ""),
        currency=_currency(order, default_currency),
        placed_at=_placed_at(order, received_at),
        updated_at=None,
        customer_name=_optional_text(order, "customer_name", ""),
        customer_email=_optional_text(order, "customer_email", ""),
        ship_to=_ship_to(order),
        billing_country=_optional_country(order, "billing_country", ""),
        payment_captured=_boolean(order, "payment_captured", "", default=True),
        lines=lines,
        shipping=_money(order, "shipping", "", required=False),
        shipping_tax=_money(order, "shipping_tax", "", required=False),
        order_discount=ZERO,
        total=ZERO,
        priority=_whole(order, "priority", "", 1, MAX_PRIORITY, default=1),
        sla_days=_whole(order, "sla_days", "", 0, MAX_SLA_DAYS, default=None),
        note=_optional_text(order, "note", ""),
    )
    return channel, dataclasses.replace(draft, total=draft.computed_total())


def _path(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _object(value: object, path: str) -> dict:
    if not isinstance(value, dict):
        raise MappingError(path, f"{path} must be a JSON object")
    return value


def _required_text(obj: dict, key: str, prefix: str) -> str:
    path = _path(prefix, key)
    if obj.get(key) is None:
        raise MappingError(path, f"{path} is missing")
    text = _optional_text(obj, key, prefix)
    if text is None:
        raise MappingError(path, f"{path} is blank")
    return text


def _optional_text(obj: dict, key: str, prefix: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    path = _path(prefix, key)
    if not isinstance(value, str):
        raise MappingError(path, f"{path} must be text")
    if len(value) > MAX_TEXT:
        raise MappingError(path, f"{path} is longer than {MAX_TEXT} characters")
    return value.strip() or None


def _whole(obj: dict, key: str, prefix: str, minimum: int, maximum: int, *, default: int | None) -> int | None:
    value = obj.get(key)
    if value is None and (key not in obj or default is None):
        return default
    path = _path(prefix, key)
    # JSON Schema counts 2.0 as an integer, so the parser does too.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MappingError(path, f"{path} must be a whole number")
    if not minimum <= value <= maximum:
        raise MappingError(path, f"{path} must be between {minimum} and {maximum}, not {value}")
    return value


def _boolean(obj: dict, key: str, prefix: str, *, default: bool) -> bool:
    if key not in obj:
        return default
    value = obj[key]
    if not isinstance(value, bool):
        path = _path(prefix, key)
        raise MappingError(path, f"{path} must be true or false")
    return value


def _money(obj: dict, key: str, prefix: str, *, required: bool) -> Decimal:
    value = obj.get(key)
    path = _path(prefix, key)
    if value is None:
        if required:
            raise MappingError(path, f"{path} is missing")
        return ZERO
    if isinstance(value, str) and not re.search(_MONEY_TEXT, value):
        raise MappingError(path, f"{path} must be an amount of at least 0, like \"12.50\", not {value!r}")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MappingError(path, f"{path} must be an amount, like \"12.50\"")
    return _bounded_money(value, path)


def _bounded_money(value: str | int | float, path: str) -> Decimal:
    try:
        exact = Decimal(value if isinstance(value, str | int) else repr(value))
    except (ValueError, ArithmeticError) as error:
        raise MappingError(path, f"{path} is not an amount: {value!r}") from error
    if not exact.is_finite():
        raise MappingError(path, f"{path} is not an amount: {value!r}")
    # Checked before rounding, as the schema does: -0.001 is negative even though it rounds to 0.00.
    if exact < 0:
        raise MappingError(path, f"{path} must not be negative")
    if not isinstance(value, str) and exact > MAX_AMOUNT:
        raise MappingError(path, f"{path} is larger than {MAX_AMOUNT}")
    return to_money(exact)


def _currency(order: dict, default_currency: str) -> str:
    value = order.get("currency")
    if value is None:
        return to_currency(default_currency)
    if not is_currency_code(value):
        raise MappingError("currency", "currency must be three capital letters, like USD")
    return value


def _placed_at(order: dict, received_at: datetime | None) -> datetime:
    value = order.get("placed_at")
    if value is None:
        return received_at or datetime.now(timezone.utc)
    if not isinstance(value, str) or not re.search(_TIMESTAMP, value):
        raise MappingError("placed_at", "placed_at must be a date and time with its offset, like 2025-01-31T09:30:00Z")
    return timestamp_at(value, "placed_at")


def _optional_country(obj: dict, key: str, prefix: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    path = _path(prefix, key)
    if not isinstance(value, str) or not re.search(_COUNTRY, value):
        raise MappingError(path, f"{path} must be a two-letter country code, like US")
    return value.upper()


def _ship_to(order: dict) -> Address:
    if order.get("ship_to") is None:
        raise MappingError("ship_to", "ship_to is missing")
    ship_to = _object(order["ship_to"], "ship_to")
    prefix = "ship_to"
    country = _optional_country(ship_to, "country", prefix)
    if country is None:
        raise MappingError("ship_to.country", "ship_to.country is missing")
    if ship_to.get("postcode") is None:
        raise MappingError("ship_to.postcode", "ship_to.postcode is missing")
    return Address(
        name=_required_text(ship_to, "name", prefix),
        address1=_required_text(ship_to, "address1", prefix),
        address2=_optional_text(ship_to, "address2", prefix),
        city=_required_text(ship_to, "city", prefix),
        region=_optional_text(ship_to, "region", prefix),
        postcode=_optional_text(ship_to, "postcode", prefix),
        country=country,
        phone=_optional_text(ship_to, "phone", prefix),
        email=_optional_text(ship_to, "email", prefix),
    )


def _lines(order: dict) -> tuple[LineDraft, ...]:
    lines = order.get("lines")
    if lines is None:
        raise MappingError("lines", "lines is missing")
    if not isinstance(lines, list):
        raise MappingError("lines", "lines must be a list")
    if not 1 <= len(lines) <= MAX_LINES:
        raise MappingError("lines", f"lines must hold between 1 and {MAX_LINES} lines, not {len(lines)}")
    return tuple(_line(_object(line, f"lines[{i}]"), f"lines[{i}]") for i, line in enumerate(lines))


def _line(line: dict, prefix: str) -> LineDraft:
    qty_path = _path(prefix, "qty")
    if line.get("qty") is None:
        raise MappingError(qty_path, f"{qty_path} is missing")
    return LineDraft(
        sku=_required_text(line, "sku", prefix),
        qty=_whole(line, "qty", prefix, 1, MAX_QTY, default=None),
        unit_price=_money(line, "unit_price", prefix, required=True),
        discount=_money(line, "discount", prefix, required=False),
        tax=_money(line, "tax", prefix, required=False),
        title=_optional_text(line, "title", prefix),
    )
