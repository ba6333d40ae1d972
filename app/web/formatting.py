"""How Keel shows numbers, money and times to people."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app

CURRENCY_SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€", "CAD": "CA$", "AUD": "A$"}


def money(value, currency: str | None = None) -> str:
    if value is None:
        return "—"
    currency = currency or current_app.config["KEEL_CURRENCY"]
    amount = Decimal(value).quantize(Decimal("0.01"))
    symbol = CURRENCY_SYMBOLS.get(currency)
    sign = "−" if amount < 0 else ""
    text = f"{abs(amount):,.2f}"
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


def number(value, places: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{places}f}"


def local_time(value: datetime | None, fmt: str = "%d %b %Y %H:%M", tz: str | None = None) -> str:
    if value is None:
        return "—"
    zone = ZoneInfo(tz or current_app.config["KEEL_TIMEZONE"])
    return value.astimezone(zone).strftime(fmt)


def local_date(value: datetime | None) -> str:
    return local_time(value, "%d %b %Y")


def percent(value, places: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{places}f}%"


def label(value: str | None) -> str:
    return (value or "").replace("_", " ").capitalize()


FILTERS = {"money": money, "number": number, "localtime": local_time, "localdate": local_date,
           "percent": percent, "label": label}
from app.web import charts  # noqa: E402

GLOBALS = {"charts": charts}
