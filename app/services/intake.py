"""Everything channels and people send Keel: stored raw first, verified, then captured.

A webhook is verified against the channel's secret before anything is written, stored in its
own committed transaction, and only then parsed. What cannot be mapped waits in the exception
queue with its reason until a person retries or dismisses it; nothing received is dropped.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from app.channels import shopify, signatures, woocommerce
from app.channels.api_order import parse_api_order
from app.channels.csv_import import HEADER_ROW, RowError, parse_orders_csv
from app.domain.capture import Address, LineDraft, MappingError, OrderDraft
from app.domain.errors import Conflict, DomainError, NotFound, ValidationError
from app.domain.money import ZERO, to_money
from app.extensions import db
from app.models import Channel, Sku
from app.models.orders import InboundDelivery, Order
from app.models.types import utcnow
from app.services._uow import cancelled_by_the_database, kept_after_commit, service
from app.services.events import record_event
from app.services.orders import (Captured, channel_by_code, order_by_external_id, record_capture,
                                 record_channel_cancellation)
from app.services.returns import record_rma_from_channel_refund

log = logging.getLogger(__name__)

OPEN_EXCEPTIONS = ("exception", "failed")
REPROCESSABLE = ("received", "failed")  # a repeated delivery id is processed again only from these
STATUS_BY_OUTCOME = {"created": "processed", "updated": "processed", "cancelled": "processed",
                     "duplicate": "duplicate", "stale": "stale"}
KEPT_HEADERS = re.compile(r"^(x-shopify-|x-wc-|content-type$|user-agent$)", re.IGNORECASE)
MAX_DELIVERY_KEY = 100
MAX_ERROR = 1000
CAPTURE_ATTEMPTS = 3


class CsvRejected(ValidationError):
    """A CSV file with problems: nothing was imported; `row_errors` says where."""

    def __init__(self, row_errors: list[RowError]):
        super().__init__(f"The file has {len(row_errors)} problem{'s' if len(row_errors) != 1 else ''}; nothing was imported.",
                         errors={"file": "Fix the rows listed and upload the file again."})
        self.row_errors = row_errors


# --- channel doors --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Door:
    """How one kind of channel signs, names and shapes its webhooks."""

    signature_header: str
    topic_header: str
    delivery_header: str
    topics: dict[str, str]
    verify: Callable[[str, bytes, object], bool]
    parse_order: Callable
    parse_cancellation: Callable | None
    parse_refund: Callable | None
    listed_refunds: Callable | None = None  # refunds an order body lists, for channels with no refund topic


DOORS = {
    # Shopify's orders/cancelled body is the whole order, so it goes through capture like any update.
    "shopify": Door(signatures.SHOPIFY_HEADER, "X-Shopify-Topic", "X-Shopify-Webhook-Id",
                    {**shopify.TOPICS, "orders/cancelled": "order"}, signatures.verify_shopify,
                    shopify.parse_order, None, shopify.parse_refund),
    "woocommerce": Door(signatures.WOOCOMMERCE_HEADER, "X-WC-Webhook-Topic", "X-WC-Webhook-Delivery-ID",
                        woocommerce.TOPICS, signatures.verify_woocommerce,
                        woocommerce.parse_order, woocommerce.parse_cancellation, None, woocommerce.listed_refunds),
}


@dataclass(frozen=True)
class WebhookAnswer:
    """What the webhook endpoint tells the channel."""

    http_status: int
    status: str
    message: str
    delivery_id: int | None = None
    order_number: str | None = None

    def body(self) -> dict:
        answer = {"status": self.status, "message": self.message}
        if self.delivery_id is not None:
            answer["delivery"] = self.delivery_id
        if self.order_number:
            answer["order"] = self.order_number
        return answer


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return value.strip() if isinstance(value, str) and value.strip() else None


@service
def receive_webhook(source: str, channel_code: str, headers: Mapping[str, str], body: bytes) -> WebhookAnswer:
    """Verify, store and process one channel webhook; a bad signature writes nothing."""
    door = DOORS.get(source)
    channel = db.session.scalar(select(Channel).where(Channel.code == channel_code[:30]))
    if door is None or channel is None or not channel.active:
        return WebhookAnswer(404, "unknown_channel", f"No active {source} channel '{channel_code[:30]}'.")
    if source == "woocommerce" and woocommerce.is_ping(headers, body):
        return WebhookAnswer(200, "ping", "Webhook saved; Keel is listening.")
    if not door.verify(channel.webhook_secret, body, _header(headers, door.signature_header)):
        return WebhookAnswer(401, "bad_signature", f"{door.signature_header} does not match this body for channel {channel.code}.")
    topic, key = _header(headers, door.topic_header), _header(headers, door.delivery_header)
    if not topic or not key or len(key) > MAX_DELIVERY_KEY or len(topic) > 60:
        return WebhookAnswer(400, "missing_header", f"Send {door.topic_header} and {door.delivery_header} (up to {MAX_DELIVERY_KEY} characters).")
    delivery = _delivery_by_key(source, channel.id, key)
    if delivery is not None and delivery.status not in REPROCESSABLE:
        return _answer(delivery, duplicate=True)
    if delivery is None:
        delivery = _store(source, channel.id, topic, key, headers, body)
        if delivery.status not in REPROCESSABLE:
            return _answer(delivery, duplicate=True)
    return _answer(process_delivery(delivery.id))


def _delivery_by_key(source: str, channel_id: int, key: str) -> InboundDelivery | None:
    return db.session.scalar(select(InboundDelivery).where(
        InboundDelivery.source == source, InboundDelivery.channel_id == channel_id, InboundDelivery.delivery_id == key))


def _body_text(body: bytes | str) -> str:
    text = body if isinstance(body, str) else body.decode("utf-8", errors="replace")
    return text.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL


@service
def _store(source: str, channel_id: int | None, topic: str, key: str | None, headers: Mapping[str, str],
           body: bytes | str) -> InboundDelivery:
    """Keep the raw delivery in its own transaction, before anything tries to parse it."""
    kept = {k: str(v)[:500] for k, v in headers.items() if KEPT_HEADERS.match(k)}
    delivery = InboundDelivery(source=source, channel_id=channel_id, topic=topic[:60], delivery_id=key,
                               headers=kept, body=_body_text(body), status="received", received_at=utcnow())
    db.session.add(delivery)
    try:
        db.session.commit()
    except IntegrityError:  # the same delivery id arrived twice at once: the other request stored it
        db.session.rollback()
        existing = _delivery_by_key(source, channel_id, key) if key else None
        if existing is None:
            raise
        return existing
    return delivery


def _answer(delivery: InboundDelivery, *, duplicate: bool = False) -> WebhookAnswer:
    order_number = db.session.get(Order, delivery.order_id).number if delivery.order_id else None
    if duplicate:
        return WebhookAnswer(200, "duplicate", "This delivery was received before; nothing changed.", delivery.id, order_number)
    if delivery.status == "failed":
        return WebhookAnswer(503, "failed", "Keel could not process this delivery now; it is kept and will be processed when sent again.",
                             delivery.id)
    messages = {"processed": "Processed.", "duplicate": "Same order as before; nothing changed.",
                "stale": "Older than what Keel already has; ignored.",
                "exception": f"Stored in the exception queue: {delivery.error}"}
    return WebhookAnswer(200, delivery.status, messages.get(delivery.status, delivery.status), delivery.id, order_number)


# --- processing, retry, dismiss ---------------------------------------------------------------------------------

@service
def process_delivery(delivery_id: int, *, user_id: int | None = None) -> InboundDelivery:
    """Parse a stored delivery and apply it; on failure, record why and keep it in the exception queue."""
    delivery = db.session.get(InboundDelivery, delivery_id)
    try:
        status, order, note = _dispatch(delivery, user_id)
        _settle(delivery, status, order, note, user_id)
        db.session.commit()
    except MappingError as exc:
        _mark(delivery_id, "exception", exc.field, exc.reason)
    except DomainError as exc:
        _mark(delivery_id, "exception", exc.field or "", exc.message)
    except Exception as exc:  # any other failure is kept for a retry, never lost
        log.exception("delivery %s could not be processed", delivery_id)
        _mark(delivery_id, "failed", "", f"Keel could not process it ({type(exc).__name__}); retry, or dismiss with a note.")
    return db.session.get(InboundDelivery, delivery_id)


def _settle(delivery: InboundDelivery, status: str, order: Order | None, note: str, user_id: int | None) -> None:
    was_open = delivery.status in OPEN_EXCEPTIONS
    delivery.status, delivery.processed_at = status, utcnow()
    delivery.order_id = order.id if order is not None else delivery.order_id
    if note:
        delivery.resolution = note[:300]
    if was_open:
        delivery.resolved_at, delivery.resolved_by_id = utcnow(), user_id
        delivery.resolution = (f"Retried: {status}" + (f", order {order.number}" if order else ""))[:300]


def _mark(delivery_id: int, status: str, error_field: str, error: str) -> None:
    db.session.rollback()
    delivery = db.session.get(InboundDelivery, delivery_id)
    delivery.status, delivery.error_field, delivery.error = status, (error_field or "")[:200], error[:MAX_ERROR]
    delivery.processed_at = utcnow()
    db.session.commit()


def _dispatch(delivery: InboundDelivery, user_id: int | None) -> tuple[str, Order | None, str]:
    door = DOORS[delivery.source]
    kind = door.topics.get(delivery.topic)
    if kind is None:
        raise MappingError("topic", f"Keel does not handle the topic '{delivery.topic}'.")
    payload = _json(delivery.body)
    code = delivery.channel.code
    if kind == "order":
        captured = record_capture(code, door.parse_order(payload), source=delivery.source, user_id=user_id)
        noted = _record_listed_refunds(delivery, door, payload, captured.order, user_id)
        return STATUS_BY_OUTCOME[captured.outcome], captured.order, noted
    if kind == "cancel":
        order = record_channel_cancellation(code, door.parse_cancellation(payload), user_id=user_id)
        return "processed", order, ""
    return _record_refund(delivery, door.parse_refund(payload), user_id)


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise MappingError("body", f"The body is not JSON: {exc}") from exc


def _record_refund(delivery: InboundDelivery, refund, user_id: int | None) -> tuple[str, Order, str]:
    """Refunds are kept and shown on the order; the returns flow acts on them."""
    order = order_by_external_id(delivery.channel_id, refund.order_external_id)
    if order is None:
        raise MappingError("order_id", f"No order {refund.order_external_id} from channel {delivery.channel.code}; "
                                       "retry once the order has arrived.")
    return "processed", order, _note_refund(delivery.channel, order, refund, user_id)


def _record_listed_refunds(delivery: InboundDelivery, door: Door, payload: object, order: Order,
                           user_id: int | None) -> str:
    """Refunds an order body lists that Keel has not seen: each kept as a delivery of its own (once, by its id),
    shown on the order, and recorded like a refund from a refund topic."""
    if door.listed_refunds is None or order.id is None:
        return ""
    notes = []
    for refund in door.listed_refunds(payload):
        key = f"refund:{refund.external_id}"[:100]
        if _delivery_by_key(delivery.source, delivery.channel_id, key) is not None:
            continue
        note = _note_refund(delivery.channel, order, refund, user_id)
        db.session.add(InboundDelivery(
            source=delivery.source, channel_id=delivery.channel_id, topic="refund listed on the order", delivery_id=key,
            headers={}, body=json.dumps({"id": refund.external_id, "total": str(refund.amount), "reason": refund.reason}),
            status="processed", order_id=order.id, received_at=utcnow(), processed_at=utcnow(),
            resolution=f"{note} (the channel listed it on the order without its lines)"[:300]))
        notes.append(note)
    return "; ".join(notes)[:300]


def _note_refund(channel: Channel, order: Order, refund, user_id: int | None) -> str:
    """The refund as an event on the order, and a return for the lines it restocks; what to say about it."""
    amount = refund.amount + (ZERO if refund.amount else refund.shipping_refund)
    record_event("order.refund_received", "order", order.number,
                 {"order": order.number, "refund": refund.external_id, "amount": str(amount),
                  "lines": [{"sku": line.sku, "qty": line.qty, "amount": str(line.amount), "restock": line.restock}
                            for line in refund.lines]}, user_id=user_id)
    rma = record_rma_from_channel_refund(channel.code, refund, user_id=user_id)
    return f"Refund {refund.external_id}: {amount} {order.currency}" + (f"; return {rma.number} opened" if rma else "")


@service
def retry_delivery(delivery_id: int, *, user_id: int) -> InboundDelivery:
    """Process a delivery from the exception queue again, after the cause was fixed (a SKU added, say)."""
    delivery = _open_exception(delivery_id)
    if delivery.source not in DOORS:
        raise Conflict("Only channel deliveries can be retried; send the request again instead.")
    return process_delivery(delivery.id, user_id=user_id)


@service
def dismiss_delivery(delivery_id: int, *, note: str, user_id: int) -> InboundDelivery:
    """Take a delivery out of the exception queue without applying it, saying why."""
    delivery = _open_exception(delivery_id)
    if not note.strip():
        raise ValidationError("Say why it is dismissed, for whoever looks later.", field="note")
    delivery.status, delivery.resolved_at, delivery.resolved_by_id = "dismissed", utcnow(), user_id
    delivery.resolution = note.strip()[:300]
    db.session.commit()
    return delivery


def _open_exception(delivery_id: int) -> InboundDelivery:
    delivery = db.session.get(InboundDelivery, delivery_id)
    if delivery is None:
        raise NotFound("No such delivery.")
    if delivery.status not in OPEN_EXCEPTIONS:
        raise Conflict(f"Delivery {delivery.id} is {delivery.status}, not waiting in the exception queue.")
    return delivery


@service
def set_channel_secret(channel_code: str, secret: str) -> Channel:
    """Set the secret a channel signs its webhooks with."""
    channel = db.session.scalar(select(Channel).where(Channel.code == channel_code))
    if channel is None:
        raise NotFound(f"No sales channel with code '{channel_code}'.", field="channel")
    secret = secret.strip()
    if not 8 <= len(secret) <= 200 or any(ch.isspace() for ch in secret):
        raise ValidationError("The secret must be 8 to 200 characters without spaces.", field="secret")
    channel.webhook_secret = secret
    db.session.commit()
    return channel


# --- the JSON API door -----------------------------------------------------------------------------------------

@service
def capture_api_order(body: bytes | str, *, user_id: int | None) -> Captured:
    """POST /orders: keep the raw body, then capture; a bad body raises ValidationError naming the field.

    The new order stays loaded after the commit, so the answer is built without reading it back.
    """
    with kept_after_commit():
        delivery = _store("api", None, "orders/create", None, {}, body)
    try:
        payload = _json(delivery.body)
        channel = _api_channel(payload)
        _, draft = parse_api_order(payload, channel.currency)
        return _capture_stored(delivery, channel, draft, user_id)
    except IntegrityError:
        return _concurrent_duplicate(delivery.id, payload)
    except MappingError as exc:
        _mark(delivery.id, "rejected", exc.field, exc.reason)
        raise ValidationError(exc.reason, field=exc.field) from None
    except DomainError as exc:
        _mark(delivery.id, "rejected", exc.field or "", exc.message)
        raise


def _capture_stored(delivery: InboundDelivery, channel: Channel, draft, user_id: int | None) -> Captured:
    """Capture a stored API order; run again when the database cancelled it to break a deadlock with another
    capture (orders reserving the same SKUs at once), so the caller never sees that."""
    for attempt in itertools.count(1):
        try:
            with kept_after_commit():
                captured = record_capture(channel, draft, source="api", user_id=user_id)
                delivery.channel_id = channel.id
                _settle(delivery, STATUS_BY_OUTCOME[captured.outcome], captured.order, "", user_id)
                db.session.commit()
            return captured
        except OperationalError as exc:
            if attempt == CAPTURE_ATTEMPTS or not cancelled_by_the_database(exc):
                raise
            log.warning("order capture cancelled by the database (%s); trying again", exc.orig.sqlstate)
            db.session.rollback()


def _api_channel(payload: object) -> Channel:
    if not isinstance(payload, dict):
        raise MappingError("body", "The body must be a JSON object describing one order.")
    code = payload.get("channel")
    if not isinstance(code, str) or not code.strip():
        raise MappingError("channel", "channel is missing" if code is None else "channel must be a channel code")
    channel = db.session.scalar(select(Channel).where(Channel.code == code.strip()[:30]))
    if channel is None or not channel.active:
        raise MappingError("channel", f"No active sales channel with code '{code.strip()[:30]}'.")
    return channel


def _concurrent_duplicate(delivery_id: int, payload: dict) -> Captured:
    db.session.rollback()
    channel = channel_by_code(payload["channel"].strip())
    order = order_by_external_id(channel.id, str(payload["external_id"]).strip())
    if order is None:
        raise Conflict("The order could not be stored; send it again.")
    delivery = db.session.get(InboundDelivery, delivery_id)
    delivery.status, delivery.channel_id, delivery.order_id, delivery.processed_at = "duplicate", channel.id, order.id, utcnow()
    db.session.commit()
    return Captured(order, False, "duplicate")


# --- CSV import ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CsvOrderPreview:
    channel: str
    external_id: str
    customer: str
    city: str
    country: str
    lines: tuple[LineDraft, ...]
    total: Decimal
    currency: str
    existing_number: str | None  # already captured: importing again changes nothing


@dataclass
class CsvPreview:
    orders: list[CsvOrderPreview] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.orders)

    @property
    def new_orders(self) -> int:
        return sum(1 for o in self.orders if o.existing_number is None)


def decode_upload(data: bytes) -> str:
    """A CSV file's text: UTF-8 (with or without BOM), else Windows-1252 as spreadsheets save it."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def preview_csv_import(text: str) -> CsvPreview:
    """What importing this CSV would create, and every problem by row; writes nothing."""
    parsed = parse_orders_csv(text, current_app.config["KEEL_CURRENCY"])
    preview = CsvPreview(errors=list(parsed.errors))
    channels = {c.code: c for c in db.session.scalars(select(Channel).where(Channel.code.in_(list(parsed.drafts))))}
    rows = _rows_by_value(text, ("channel", "sku")) if parsed.drafts else {}
    known_skus = _active_skus({line.sku for drafts in parsed.drafts.values() for d in drafts for line in d.lines})
    for code, drafts in parsed.drafts.items():
        channel = channels.get(code)
        if channel is None or not channel.active:
            preview.errors += [RowError(n, "channel", f"no active sales channel with code {code!r}")
                               for n in rows.get(("channel", code), [])]
            continue
        for draft in drafts:
            preview.errors += _sku_errors(draft, known_skus, rows)
            preview.orders.append(_preview_order(channel, draft))
    if parsed.ok and not parsed.drafts and not preview.errors:
        preview.errors.append(RowError(HEADER_ROW + 1, None, "the file has a header but no order rows"))
    preview.errors.sort(key=lambda e: e.row_number)
    return preview


def _active_skus(codes: set[str]) -> set[str]:
    if not codes:
        return set()
    return set(db.session.scalars(select(Sku.code).where(Sku.code.in_(codes), Sku.active.is_(True))))


def _sku_errors(draft: OrderDraft, known: set[str], rows: dict) -> list[RowError]:
    errors = []
    for line in draft.lines:
        if line.sku not in known:
            errors += [RowError(n, "sku", f"unknown or discontinued SKU {line.sku!r}") for n in rows.get(("sku", line.sku), [])]
    return list(dict.fromkeys(errors))


def _preview_order(channel: Channel, draft: OrderDraft) -> CsvOrderPreview:
    existing = order_by_external_id(channel.id, draft.external_id)
    return CsvOrderPreview(channel.code, draft.external_id, draft.customer_name or "", draft.ship_to.city or "",
                           draft.ship_to.country or "", draft.lines, draft.total, channel.currency,
                           existing.number if existing else None)


def _rows_by_value(text: str, columns: tuple[str, ...]) -> dict[tuple[str, str], list[int]]:
    """Row numbers holding each value of the given columns, numbered as the parser numbers them."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = [cell.strip().lower() for cell in next(reader, [])]
    found: dict[tuple[str, str], list[int]] = {}
    for number, cells in enumerate(reader, start=HEADER_ROW + 1):
        values = dict(zip(header, (c.strip() for c in cells)))
        for column in columns:
            found.setdefault((column, values.get(column, "")), []).append(number)
    return found


@dataclass(frozen=True)
class CsvImported:
    created: list[str]
    duplicates: list[str]
    held: int


@service
def import_csv_orders(text: str, *, filename: str, user_id: int) -> CsvImported:
    """Capture every order in the file in one transaction, or none when any row is bad."""
    preview = preview_csv_import(text)
    if not preview.ok:
        raise CsvRejected(preview.errors or [RowError(HEADER_ROW, None, "the file has no orders")])
    parsed = parse_orders_csv(text, current_app.config["KEEL_CURRENCY"])
    created, duplicates = [], []
    for code, drafts in parsed.drafts.items():
        currency = channel_by_code(code).currency
        for draft in drafts:
            try:
                captured = record_capture(code, dataclasses.replace(draft, currency=currency), source="csv", user_id=user_id)
            except MappingError as exc:
                raise ValidationError(f"Order {draft.external_id}: {exc.reason}", field="file") from None
            (created if captured.created else duplicates).append(captured.order)
    db.session.add(InboundDelivery(source="csv", topic="orders/import", headers={"filename": filename[:200]},
                                   body=_body_text(text), status="processed", received_at=utcnow(),
                                   processed_at=utcnow(), resolution=f"{len(created)} orders created, {len(duplicates)} already here"))
    held = sum(1 for o in created if o.status == "on_hold")
    numbers = [o.number for o in created], [o.number for o in duplicates]
    db.session.commit()
    return CsvImported(numbers[0], numbers[1], held)


# --- manual entry ----------------------------------------------------------------------------------------------

MANUAL_TEXT_FIELDS = ("customer_name", "customer_email", "ship_name", "address1", "address2", "city", "region",
                      "postcode", "country", "phone", "billing_country", "note")
MAX_MANUAL_LINES = 50


def new_manual_reference() -> str:
    """The external id a manual order form carries, so a double submit captures it once."""
    return f"MAN-{uuid.uuid4().hex[:12].upper()}"


@service
def capture_manual_order(form: Mapping[str, str], lines: list[Mapping[str, str]], *, user_id: int) -> Captured:
    """A phone or wholesale order typed in by a person; every bad field is named at once."""
    channel, draft = manual_order_draft(form, lines)
    captured = record_capture(channel, draft, source="manual", user_id=user_id)
    db.session.add(InboundDelivery(source="manual", channel_id=channel.id, topic="orders/create",
                                   body=json.dumps({"form": dict(form), "lines": [dict(x) for x in lines]}),
                                   status=STATUS_BY_OUTCOME[captured.outcome], order_id=captured.order.id,
                                   received_at=utcnow(), processed_at=utcnow()))
    db.session.commit()
    return captured


def manual_order_draft(form: Mapping[str, str], lines: list[Mapping[str, str]]) -> tuple[Channel, OrderDraft]:
    """The channel and draft of a manual order form, or ValidationError with a message per field."""
    errors: dict[str, str] = {}
    values = {k: (form.get(k) or "").strip() for k in (*MANUAL_TEXT_FIELDS, "channel", "external_id", "priority", "sla_days")}
    for key, value in values.items():
        if len(value) > 200 and key != "note":
            errors[key] = "Keep it under 200 characters."
    channel = _manual_channel(values["channel"], errors)
    address = Address(name=values["ship_name"] or None, address1=values["address1"] or None,
                      address2=values["address2"] or None, city=values["city"] or None, region=values["region"] or None,
                      postcode=values["postcode"] or None, country=values["country"].upper() or None,
                      phone=values["phone"] or None, email=values["customer_email"] or None)
    _check_manual_customer(values, address, errors)
    priority = _whole(values["priority"], "priority", 1, 10, 1, errors)
    sla_days = _whole(values["sla_days"], "sla_days", 0, 365, None, errors)
    drafts = _manual_lines(lines, errors)
    if errors:
        raise ValidationError(errors=errors)
    draft = OrderDraft(external_id=values["external_id"], number=None, currency=channel.currency, placed_at=utcnow(),
                       updated_at=None, customer_name=values["customer_name"], customer_email=values["customer_email"] or None,
                       ship_to=address, billing_country=values["billing_country"].upper() or None,
                       payment_captured=form.get("payment_captured") in ("1", "on", "yes", "true"), lines=drafts,
                       shipping=_money_or_zero(form.get("shipping")), shipping_tax=ZERO, order_discount=ZERO, total=ZERO,
                       priority=priority, sla_days=sla_days, note=values["note"][:1000] or None)
    return channel, dataclasses.replace(draft, total=draft.computed_total())


def _manual_channel(code: str, errors: dict[str, str]) -> Channel | None:
    channel = db.session.scalar(select(Channel).where(Channel.code == code)) if code else None
    if channel is None or not channel.active:
        errors["channel"] = "Choose the channel the order came through."
    return channel


def _check_manual_customer(values: dict[str, str], address: Address, errors: dict[str, str]) -> None:
    if not values["external_id"] or len(values["external_id"]) > 64:
        errors["external_id"] = "Give the order a reference of up to 64 characters (the customer's PO number, say)."
    if not values["customer_name"]:
        errors["customer_name"] = "Who placed the order?"
    if values["customer_email"] and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", values["customer_email"]):
        errors["customer_email"] = "That does not look like an email address."
    for key, name in (("country", "country"), ("billing_country", "billing_country")):
        if values[key] and not re.fullmatch(r"[A-Za-z]{2}", values[key]):
            errors[key] = "Use the two-letter country code, like GB."
    labels = {"name": "ship_name", "address1": "address1", "city": "city", "postcode": "postcode",
              "country": "country", "region": "region"}
    for missing in address.missing_fields():
        errors.setdefault(labels[missing], "Needed for the shipping label.")


def _whole(text: str, key: str, low: int, high: int, default: int | None, errors: dict[str, str]) -> int | None:
    if not text:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        errors[key] = f"A whole number from {low} to {high}."
        return default
    return int(text)


def _money_or_zero(text: str | None) -> Decimal:
    try:
        amount = to_money((text or "").strip() or "0")
    except ValueError:
        return ZERO
    return amount if amount >= 0 else ZERO


def _manual_lines(lines: list[Mapping[str, str]], errors: dict[str, str]) -> tuple[LineDraft, ...]:
    filled = [(i, {k: (line.get(k) or "").strip() for k in ("sku", "qty", "unit_price", "discount")})
              for i, line in enumerate(lines[:MAX_MANUAL_LINES])]
    filled = [(i, line) for i, line in filled if any(line.values())]
    if not filled:
        errors["lines"] = "Add at least one line: a SKU and a quantity."
        return ()
    skus = {s.code: s for s in db.session.scalars(select(Sku).where(Sku.code.in_({line["sku"] for _, line in filled})))}
    drafts = [_manual_line(i, line, skus.get(line["sku"]), errors) for i, line in filled]
    return tuple(d for d in drafts if d is not None)


def _manual_line(index: int, line: dict[str, str], sku: Sku | None, errors: dict[str, str]) -> LineDraft | None:
    prefix = f"lines-{index}-"
    if sku is None or not sku.active:
        errors[prefix + "sku"] = "No SKU with that code is on sale." if line["sku"] else "Which SKU?"
    qty = _whole(line["qty"], prefix + "qty", 1, 1_000_000, None, errors)
    if qty is None and prefix + "qty" not in errors:
        errors[prefix + "qty"] = "How many?"
    price = _line_money(line["unit_price"], prefix + "unit_price", sku.price if sku else ZERO, errors)
    discount = _line_money(line["discount"], prefix + "discount", ZERO, errors)
    if qty and discount > qty * price:
        errors[prefix + "discount"] = "The discount is more than the line is worth."
    if any(key.startswith(prefix) for key in errors):
        return None
    return LineDraft(sku=sku.code, qty=qty, unit_price=price, discount=discount, title=sku.name)


def _line_money(text: str, key: str, default: Decimal, errors: dict[str, str]) -> Decimal:
    if not text:
        return default
    try:
        amount = to_money(text)
    except ValueError:
        errors[key] = "An amount like 12.50."
        return default
    if amount < 0 or amount > Decimal("999999999"):
        errors[key] = "An amount of at least 0."
        return default
    return amount
