"""What a channel sent, in Keel's words: order, refund and cancellation drafts before they are stored."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from .money import ZERO, is_currency_code, round_to_cent, to_money

MAX_QUANTITY = 1_000_000

# Countries whose addresses have no postcode, so a blank one does not hold the order.
POSTCODE_OPTIONAL_COUNTRIES = frozenset(
    {"AE", "AG", "AO", "AW", "BF", "BI", "BJ", "BO", "BS", "BW", "BZ", "CD", "CF", "CG", "CI",
     "CK", "CM", "DJ", "DM", "ER", "FJ", "GD", "GH", "GM", "GQ", "GY", "HK", "JM", "KI", "KM",
     "KN", "KP", "LC", "ML", "MO", "MR", "MS", "MW", "NR", "NU", "QA", "RW", "SB", "SC", "SL",
     "SO", "SR", "ST", "SY", "TD", "TG", "TK", "TL", "TO", "TT", "TV", "UG", "VU", "YE", "ZW"}
)
# Carriers refuse labels for these countries without a state or province.
REGION_REQUIRED_COUNTRIES = frozenset({"US", "CA", "AU"})


class MappingError(Exception):
    """A payload that cannot become a draft; `field` is where, `reason` says why in words."""

    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Address:
    """A postal address as the channel gave it; blanks are None."""

    name: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    region: str | None = None
    postcode: str | None = None
    country: str | None = None
    phone: str | None = None
    email: str | None = None

    def missing_fields(self) -> tuple[str, ...]:
        """Fields a carrier needs that are blank: a non-empty answer puts the order on an address hold."""
        required = ["name", "address1", "city", "country"]
        country = (self.country or "").strip().upper()
        if country not in POSTCODE_OPTIONAL_COUNTRIES:
            required.insert(3, "postcode")
        if country in REGION_REQUIRED_COUNTRIES:
            required.insert(3, "region")
        return tuple(field for field in required if not (getattr(self, field) or "").strip())


@dataclass(frozen=True)
class LineDraft:
    """One order line: discount and tax are totals for the whole line, not per unit."""

    sku: str
    qty: int
    unit_price: Decimal
    discount: Decimal = ZERO
    tax: Decimal = ZERO
    title: str | None = None
    external_line_id: str | None = None

    def net_amount(self) -> Decimal:
        """Quantity times unit price, less the line's discount."""
        return round_to_cent(self.qty * self.unit_price - self.discount)


@dataclass(frozen=True)
class OrderDraft:
    """An order as a channel states it, ready for capture.

    When `prices_include_tax` is true (Shopify's taxes_included), unit prices and shipping
    already contain the tax; `tax` and `shipping_tax` then say how much of them is tax and
    are not added again. `fees` are signed surcharges that are neither lines nor shipping,
    tax included (WooCommerce fee lines).
    """

    external_id: str
    number: str | None
    currency: str
    placed_at: datetime
    updated_at: datetime | None
    customer_name: str | None
    customer_email: str | None
    ship_to: Address
    billing_country: str | None
    payment_captured: bool
    lines: tuple[LineDraft, ...]
    shipping: Decimal
    shipping_tax: Decimal
    order_discount: Decimal
    total: Decimal
    priority: int = 1
    sla_days: int | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    note: str | None = None
    raw_status: str | None = None
    prices_include_tax: bool = False
    fees: Decimal = ZERO

    def computed_total(self) -> Decimal:
        """Lines less their discounts, plus tax, shipping and fees, less the order discount."""
        goods = sum((line.net_amount() for line in self.lines), ZERO)
        return round_to_cent(goods + self._added_tax() + self.shipping + self.fees - self.order_discount)

    def reconciles(self) -> bool:
        """True when the computed total equals the total the channel stated, to the cent."""
        return self.computed_total() == round_to_cent(self.total)

    def _added_tax(self) -> Decimal:
        if self.prices_include_tax:
            return ZERO
        return sum((line.tax for line in self.lines), ZERO) + self.shipping_tax


@dataclass(frozen=True)
class RefundLineDraft:
    """One refunded line: sku or the channel's line id finds the order line; amount includes its tax."""

    sku: str | None
    qty: int
    amount: Decimal
    restock: bool
    external_line_id: str | None = None


@dataclass(frozen=True)
class RefundDraft:
    """A refund against an order: `amount` is the money returned, which channels may set apart from the lines."""

    external_id: str
    order_external_id: str
    created_at: datetime
    lines: tuple[RefundLineDraft, ...]
    amount: Decimal
    shipping_refund: Decimal = ZERO
    reason: str | None = None
    note: str | None = None

    def lines_amount(self) -> Decimal:
        """The sum of the refunded lines' amounts."""
        return round_to_cent(sum((line.amount for line in self.lines), ZERO))


@dataclass(frozen=True)
class CancellationDraft:
    """A channel said an order is cancelled; cancelled_at is None when it did not say when."""

    external_id: str
    cancelled_at: datetime | None = None
    reason: str | None = None


def money_at(value: object, field: str) -> Decimal:
    """The amount at `field`, or MappingError naming it."""
    try:
        return to_money(value)
    except ValueError as error:
        raise MappingError(field, f"{field} is not an amount: {value!r}") from error


def optional_money_at(value: object, field: str) -> Decimal:
    """Like money_at, with absent or blank meaning zero."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ZERO
    return money_at(value, field)


def whole_number_at(value: object, field: str) -> int:
    """The integer at `field` (not a bool, not a fraction), or MappingError naming it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise MappingError(field, f"{field} must be a whole number, not {value!r}")
    return value


def quantity_at(value: object, field: str, *, minimum: int = 1) -> int:
    """A unit count at `field` from `minimum` to a million, or MappingError naming it."""
    quantity = whole_number_at(value, field)
    if quantity < minimum:
        raise MappingError(field, f"{field} must be at least {minimum}, not {quantity}")
    if quantity > MAX_QUANTITY:
        raise MappingError(field, f"{field} is implausibly large: {quantity}")
    return quantity


def timestamp_at(value: object, field: str, *, naive_is_utc: bool = False) -> datetime:
    """The ISO-8601 moment at `field` as an aware datetime; naive text is UTC only when the channel says so."""
    if not isinstance(value, str) or not value.strip():
        raise MappingError(field, f"{field} is missing" if value in (None, "") else f"{field} is not a date: {value!r}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise MappingError(field, f"{field} is not a date: {value!r}") from error
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise MappingError(field, f"{field} has no time zone: {value!r}")
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def optional_timestamp_at(value: object, field: str, *, naive_is_utc: bool = False) -> datetime | None:
    """Like timestamp_at, with absent or blank meaning None."""
    if value is None or value == "":
        return None
    return timestamp_at(value, field, naive_is_utc=naive_is_utc)


def text_or_none(value: object) -> str | None:
    """Stripped text, with None and blank as None; numbers (channel ids) become their text."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return str(value)
    if not isinstance(value, str):
        return None
    return value.strip() or None


def required_text_at(value: object, field: str) -> str:
    """The text (or channel id) at `field`, or MappingError saying it is missing."""
    text = text_or_none(value)
    if text is None:
        raise MappingError(field, f"{field} is missing")
    return text


def currency_at(value: object, field: str) -> str:
    """The three-letter currency code at `field`, or MappingError naming it."""
    if not is_currency_code(value):
        raise MappingError(field, f"{field} is not a currency code: {value!r}")
    return value


def object_at(value: object, field: str) -> dict:
    """The JSON object at `field`: absent is an empty object, anything else that is not one is an error."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MappingError(field, f"{field} must be an object, not {type(value).__name__}")
    return value


def list_at(value: object, field: str) -> list:
    """The JSON array at `field`: absent is empty, anything else that is not an array is an error."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MappingError(field, f"{field} must be a list, not {type(value).__name__}")
    return value
