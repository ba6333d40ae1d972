"""Orders from a CSV file, one row per order line, with every bad row reported by its number."""
from __future__ import annotations

import csv
import dataclasses
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

from app.domain.capture import Address, LineDraft, OrderDraft
from app.domain.money import ZERO, to_currency, to_money

REQUIRED_COLUMNS = (
    "channel", "external_id", "sku", "qty", "unit_price",
    "ship_name", "address1", "city", "postcode", "country",
)
OPTIONAL_COLUMNS = ("address2", "region", "email", "priority", "sla_days")
MAX_ROWS = 10_000
MAX_TEXT = 200
MAX_QTY = 1_000_000
MAX_PRIORITY = 10
MAX_SLA_DAYS = 365
HEADER_ROW = 1

_WHOLE_NUMBER = re.compile(r"[0-9]+")
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_SAME_FOR_WHOLE_ORDER = {"ship_to": "the ship-to address", "priority": "priority", "sla_days": "sla_days"}


@dataclass(frozen=True)
class RowError:
    """A problem on one row of the file; row 1 is the header, as a spreadsheet numbers them."""

    row_number: int
    field: str | None
    message: str


@dataclass
class CsvParse:
    """Order drafts by channel code, and every problem found; an order with a bad row is left out whole."""

    drafts: dict[str, list[OrderDraft]] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file had no problem at all."""
        return not self.errors

    def order_count(self) -> int:
        """How many orders were read without problems."""
        return sum(len(drafts) for drafts in self.drafts.values())


@dataclass(frozen=True)
class _Row:
    number: int
    channel: str | None
    external_id: str | None
    ship_to: Address
    priority: int
    sla_days: int | None
    line: LineDraft | None  # None: the row is bad, and so its whole order is left out


def parse_orders_csv(text: str, default_currency: str, *, received_at: datetime | None = None) -> CsvParse:
    """The orders in a CSV text grouped by channel, with a RowError for each bad row rather than just the first."""
    currency = to_currency(default_currency)
    result = CsvParse()
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    columns = _read_header(reader, result.errors)
    if columns is None:
        return result
    rows = _read_rows(reader, columns, result.errors)
    if rows is None:
        return result
    placed_at = received_at or datetime.now(timezone.utc)
    for order_rows in _group_by_order(rows).values():
        if any(row.line is None for row in order_rows):
            continue
        draft = _order(order_rows, currency, placed_at, result.errors)
        if draft is not None:
            result.drafts.setdefault(order_rows[0].channel, []).append(draft)
    result.errors.sort(key=lambda error: error.row_number)
    return result


def _read_header(reader, errors: list[RowError]) -> list[str] | None:
    try:
        header = next(reader, None)
    except csv.Error as error:
        errors.append(RowError(HEADER_ROW, None, f"the header cannot be read: {error}"))
        return None
    if header is None or not any(cell.strip() for cell in header):
        errors.append(RowError(HEADER_ROW, None, "the file is empty: the first row must name the columns"))
        return None
    columns = [cell.strip().lower() for cell in header]
    errors.extend(_header_errors(columns))
    return None if errors else columns


def _header_errors(columns: list[str]) -> list[RowError]:
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    unknown = [RowError(HEADER_ROW, c or None, f"unknown column {c!r}") for c in columns if c not in known]
    repeated = [RowError(HEADER_ROW, c, f"column {c!r} appears more than once") for c in known if columns.count(c) > 1]
    missing = [RowError(HEADER_ROW, c, f"required column {c!r} is missing") for c in REQUIRED_COLUMNS if c not in columns]
    return unknown + repeated + missing


def _read_rows(reader, columns: list[str], errors: list[RowError]) -> list[_Row] | None:
    # Bad rows stay in the list as stand-ins so that their orders are left out whole.
    rows: list[_Row] = []
    data_rows = 0
    row_number = HEADER_ROW
    try:
        for row_number, cells in enumerate(reader, start=HEADER_ROW + 1):
            if not any(cell.strip() for cell in cells):
                continue
            data_rows += 1
            if data_rows > MAX_ROWS:
                message = f"the file has more than {MAX_ROWS:,} rows; split it into smaller files"
                errors.append(RowError(row_number, None, message))
                return None
            rows.append(_row(row_number, columns, cells, errors))
    except csv.Error as error:
        errors.append(RowError(row_number + 1, None, f"the row cannot be read, so nothing was imported: {error}"))
        return None
    return rows


def _row(number: int, columns: list[str], cells: list[str], errors: list[RowError]) -> _Row:
    values = dict(zip(columns, (cell.strip() for cell in cells)))
    cell = _CellReader(number, values)
    if len(cells) > len(columns):
        cell.fail(None, f"the row has {len(cells)} cells but the header names {len(columns)} columns")
    row = _Row(
        number=number,
        channel=cell.text("channel", required=True),
        external_id=cell.text("external_id", required=True),
        ship_to=_ship_to(cell),
        priority=cell.whole("priority", 1, MAX_PRIORITY, default=1),
        sla_days=cell.whole("sla_days", 0, MAX_SLA_DAYS, default=None),
        line=LineDraft(
            sku=cell.text("sku", required=True),
            qty=cell.whole("qty", 1, MAX_QTY, default=None),
            unit_price=cell.money("unit_price"),
        ),
    )
    errors.extend(cell.errors)
    return dataclasses.replace(row, line=None) if cell.errors else row


def _ship_to(cell: _CellReader) -> Address:
    return Address(
        name=cell.text("ship_name", required=True),
        address1=cell.text("address1", required=True),
        address2=cell.text("address2"),
        city=cell.text("city", required=True),
        region=cell.text("region"),
        postcode=cell.text("postcode"),
        country=cell.country("country"),
        email=cell.text("email"),
    )


class _CellReader:
    """Reads one row's cells, keeping every problem instead of stopping at the first."""

    def __init__(self, row_number: int, values: dict[str, str]):
        self.row_number = row_number
        self.values = values
        self.errors: list[RowError] = []

    def fail(self, column: str | None, message: str) -> None:
        self.errors.append(RowError(self.row_number, column, message))

    def text(self, column: str, *, required: bool = False) -> str | None:
        value = self.values.get(column, "")
        if len(value) > MAX_TEXT:
            self.fail(column, f"{column} is longer than {MAX_TEXT} characters")
        elif required and not value:
            self.fail(column, f"{column} is blank")
        return value or None

    def whole(self, column: str, minimum: int, maximum: int, *, default: int | None) -> int | None:
        value = self.values.get(column, "")
        if not value and default is not None:
            return default
        if not value and column not in REQUIRED_COLUMNS:
            return None
        if not _WHOLE_NUMBER.fullmatch(value) or not minimum <= int(value) <= maximum:
            self.fail(column, f"{column} must be a whole number from {minimum} to {maximum}, not {value!r}")
            return None
        return int(value)

    def money(self, column: str) -> Decimal:
        value = self.values.get(column, "")
        try:
            amount = to_money(value)
        except ValueError:
            self.fail(column, f"{column} must be an amount like 12.50, not {value!r}")
            return ZERO
        if amount < 0:
            self.fail(column, f"{column} must not be negative, not {value!r}")
        return amount

    def country(self, column: str) -> str | None:
        value = self.values.get(column, "")
        if not _COUNTRY.fullmatch(value):
            self.fail(column, f"{column} must be a two-letter country code like US, not {value!r}")
            return None
        return value.upper()


def _group_by_order(rows: list[_Row]) -> dict[tuple[str | None, str | None], list[_Row]]:
    orders: dict[tuple[str | None, str | None], list[_Row]] = {}
    for row in rows:
        orders.setdefault((row.channel, row.external_id), []).append(row)
    return orders


def _order(rows: list[_Row], currency: str, placed_at: datetime, errors: list[RowError]) -> OrderDraft | None:
    first = rows[0]
    conflicts = [
        RowError(row.number, name, f"{words} differs from row {first.number} of the same order {first.external_id!r}")
        for row in rows[1:]
        for name, words in _SAME_FOR_WHOLE_ORDER.items()
        if getattr(row, name) != getattr(first, name)
    ]
    if conflicts:
        errors.extend(conflicts)
        return None
    draft = OrderDraft(
        external_id=first.external_id,
        number=None,
        currency=currency,
        placed_at=placed_at,
        updated_at=None,
        customer_name=first.ship_to.name,
        customer_email=first.ship_to.email,
        ship_to=first.ship_to,
        billing_country=None,
        payment_captured=True,
        lines=tuple(row.line for row in rows),
        shipping=ZERO,
        shipping_tax=ZERO,
        order_discount=ZERO,
        total=ZERO,
        priority=first.priority,
        sla_days=first.sla_days,
    )
    return dataclasses.replace(draft, total=draft.computed_total())
