"""Intake: raw deliveries kept before parsing, the exception queue, CSV import and manual entry."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.domain.errors import Conflict, ValidationError
from app.domain.inventory import Cause
from app.extensions import db as database
from app.models.orders import InboundDelivery, Order
from app.services import intake, inventory
from app.services.integrity import ledger_problems
from tests.factories import make_sku

HEADER = "channel,external_id,sku,qty,unit_price,ship_name,address1,city,postcode,country\n"


def orders_count() -> int:
    return database.session.scalar(select(func.count(Order.id)))


def test_a_delivery_is_committed_before_it_is_parsed_so_a_crash_in_parsing_loses_nothing(world, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("parser fell over")
    monkeypatch.setitem(intake.DOORS, "shopify", intake.DOORS["shopify"].__class__(
        **{**intake.DOORS["shopify"].__dict__, "parse_order": explode}))
    from app.channels.signatures import shopify_signature
    body = b'{"id": 1}'
    answer = intake.receive_webhook("shopify", "WEB", {
        "X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "boom",
        "X-Shopify-Hmac-Sha256": shopify_signature("WEB-secret", body)}, body)
    assert answer.http_status == 503 and answer.status == "failed"
    delivery = database.session.scalar(select(InboundDelivery))
    assert delivery.body == '{"id": 1}' and delivery.status == "failed" and "RuntimeError" in delivery.error
    assert delivery.headers["X-Shopify-Webhook-Id"] == "boom"


def test_a_failed_delivery_sent_again_is_processed_again(world, monkeypatch):
    from app.channels.signatures import shopify_signature
    body = json.dumps({"id": 77, "currency": "GBP", "created_at": "2026-03-01T10:00:00Z",
                       "line_items": [{"sku": "MUG", "quantity": 1, "price": "12.00"}], "total_price": "12.00",
                       "financial_status": "paid",
                       "shipping_address": {"name": "Ann Lee", "address1": "2 Quay St", "city": "Truro", "zip": "TR1 2HE",
                                            "country_code": "GB"}}).encode()
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "again",
               "X-Shopify-Hmac-Sha256": shopify_signature("WEB-secret", body)}
    original = intake.DOORS["shopify"]
    monkeypatch.setitem(intake.DOORS, "shopify", original.__class__(
        **{**original.__dict__, "parse_order": lambda payload: 1 / 0}))
    assert intake.receive_webhook("shopify", "WEB", headers, body).status == "failed"
    monkeypatch.setitem(intake.DOORS, "shopify", original)
    answer = intake.receive_webhook("shopify", "WEB", headers, body)
    assert answer.status == "processed" and orders_count() == 1
    assert database.session.scalar(select(func.count(InboundDelivery.id))) == 1


def _exception_delivery(world) -> InboundDelivery:
    delivery = InboundDelivery(source="shopify", channel_id=world.channels["WEB"].id, topic="orders/create",
                               delivery_id="x1", headers={}, body="{}", status="exception", error="bad")
    database.session.add(delivery)
    database.session.commit()
    return delivery


def test_dismissing_needs_a_note_and_takes_it_out_of_the_queue(world, make_user):
    user = make_user("retail")
    delivery = _exception_delivery(world)
    with pytest.raises(ValidationError):
        intake.dismiss_delivery(delivery.id, note=" ", user_id=user.id)
    dismissed = intake.dismiss_delivery(delivery.id, note="test order from set-up", user_id=user.id)
    assert dismissed.status == "dismissed" and dismissed.resolved_by_id == user.id
    with pytest.raises(Conflict):
        intake.retry_delivery(delivery.id, user_id=user.id)


def test_retrying_something_still_wrong_keeps_it_in_the_queue_with_the_new_reason(world, make_user):
    delivery = _exception_delivery(world)
    retried = intake.retry_delivery(delivery.id, user_id=make_user("retail").id)
    assert retried.status == "exception" and retried.error_field == "line_items" and retried.error != "bad"


# --- CSV ------------------------------------------------------------------------------------------------------

def test_a_good_csv_previews_then_imports_every_order_in_one_go(world, make_user):
    inventory.receive_stock(world.skus["MUG"].id, world.bins["E0-1"].id, 30, cause=Cause("po", 1))
    text = HEADER + ("WEB,T-1,MUG,2,12.00,Ann Lee,1 Quay St,Truro,TR1 2HE,GB\n"
                     "WEB,T-1,CAP,1,8.50,Ann Lee,1 Quay St,Truro,TR1 2HE,GB\n"
                     "AMZ,A-9,MUG,1,12.00,Bo Day,4 Bank Rd,Leeds,LS1 4AB,GB\n")
    preview = intake.preview_csv_import(text)
    assert preview.ok and preview.new_orders == 2 and orders_count() == 0
    assert [(o.channel, o.external_id, len(o.lines), str(o.total)) for o in preview.orders] == [
        ("WEB", "T-1", 2, "32.50"), ("AMZ", "A-9", 1, "12.00")]
    result = intake.import_csv_orders(text, filename="orders.csv", user_id=make_user("retail").id)
    assert len(result.created) == 2 and orders_count() == 2
    delivery = database.session.scalar(select(InboundDelivery).where(InboundDelivery.source == "csv"))
    assert delivery.body == text and delivery.headers == {"filename": "orders.csv"}
    again = intake.import_csv_orders(text, filename="orders.csv", user_id=None)
    assert again.created == [] and len(again.duplicates) == 2 and orders_count() == 2
    assert ledger_problems() == []


def test_a_csv_with_any_bad_row_reports_every_row_and_imports_nothing(world, make_user):
    text = HEADER + ("WEB,T-1,MUG,2,12.00,Ann Lee,1 Quay St,Truro,TR1 2HE,GB\n"
                     "WEB,T-2,NOPE,1,8.50,Bo Day,4 Bank Rd,Leeds,LS1 4AB,GB\n"
                     "XXX,T-3,MUG,1,8.50,Bo Day,4 Bank Rd,Leeds,LS1 4AB,GB\n"
                     "WEB,T-4,MUG,-1,8.50,Bo Day,4 Bank Rd,Leeds,LS1 4AB,GB\n")
    preview = intake.preview_csv_import(text)
    assert not preview.ok
    assert [(e.row_number, e.field) for e in preview.errors] == [(3, "sku"), (4, "channel"), (5, "qty")]
    with pytest.raises(intake.CsvRejected) as rejected:
        intake.import_csv_orders(text, filename="bad.csv", user_id=make_user("retail").id)
    assert len(rejected.value.row_errors) == 3
    assert orders_count() == 0 and database.session.scalar(select(func.count(InboundDelivery.id))) == 0


def test_a_csv_with_only_a_header_is_refused(world):
    assert not intake.preview_csv_import(HEADER).ok


def test_an_excel_saved_csv_decodes(world):
    assert intake.decode_upload("Zoë".encode("cp1252")) == "Zoë"
    assert intake.decode_upload("\ufeffZoë".encode("utf-8")) == "Zoë"


# --- manual entry ---------------------------------------------------------------------------------------------

def manual_form(**changes) -> dict:
    form = {"channel": "WEB", "external_id": "MAN-1", "customer_name": "Ravi Patel", "customer_email": "ravi@example.com",
            "ship_name": "Ravi Patel", "address1": "9 Wharf Road", "city": "Bristol", "postcode": "BS1 4RN",
            "country": "gb", "payment_captured": "1", "priority": "", "sla_days": ""}
    form.update(changes)
    return form


def test_a_manual_order_is_captured_with_sku_prices_by_default(world, make_user):
    inventory.receive_stock(world.skus["MUG"].id, world.bins["E0-1"].id, 5, cause=Cause("po", 1))
    captured = intake.capture_manual_order(manual_form(), [{"sku": "MUG", "qty": "2"}, {"sku": "", "qty": ""}],
                                           user_id=make_user("retail").id)
    order = captured.order
    assert order.source == "manual" and order.status == "allocated" and order.ship_country == "GB"
    assert [(l.sku.code, l.qty, str(l.unit_price)) for l in order.lines] == [("MUG", 2, "10.00")]
    assert str(order.total) == "20.00"
    again = intake.capture_manual_order(manual_form(), [{"sku": "MUG", "qty": "2"}], user_id=None)
    assert not again.created and again.order.id == order.id


def test_a_bad_manual_order_names_every_bad_field_and_writes_nothing(world):
    with pytest.raises(ValidationError) as error:
        intake.capture_manual_order(
            manual_form(channel="", customer_name="", postcode="", country="Britain", customer_email="nope", priority="11"),
            [{"sku": "NOPE", "qty": "0"}, {"sku": "MUG", "qty": "1", "unit_price": "abc"},
             {"sku": "CAP", "qty": "1", "discount": "50"}], user_id=None)
    assert set(error.value.errors) == {"channel", "customer_name", "postcode", "country", "customer_email", "priority",
                                       "lines-0-sku", "lines-0-qty", "lines-1-unit_price", "lines-2-discount"}
    assert orders_count() == 0 and database.session.scalar(select(func.count(InboundDelivery.id))) == 0


def test_a_manual_order_without_lines_is_refused(world):
    with pytest.raises(ValidationError) as error:
        intake.capture_manual_order(manual_form(), [{"sku": "", "qty": ""}], user_id=None)
    assert "lines" in error.value.errors


def test_an_inactive_sku_cannot_be_ordered_by_hand(world):
    world.skus["CAP"].active = False
    database.session.commit()
    with pytest.raises(ValidationError) as error:
        intake.capture_manual_order(manual_form(), [{"sku": "CAP", "qty": "1"}], user_id=None)
    assert "lines-0-sku" in error.value.errors


def test_a_new_sku_added_later_lets_a_parked_delivery_through(world, make_user):
    from app.channels.signatures import shopify_signature
    body = json.dumps({"id": 5, "currency": "GBP", "created_at": "2026-03-01T10:00:00Z", "financial_status": "paid",
                       "line_items": [{"sku": "NEW-1", "quantity": 1, "price": "5.00"}], "total_price": "5.00",
                       "shipping_address": {"name": "Ann", "address1": "2 Quay St", "city": "Truro", "zip": "TR1 2HE",
                                            "country_code": "GB"}}).encode()
    answer = intake.receive_webhook("shopify", "WEB", {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "n",
                                                       "X-Shopify-Hmac-Sha256": shopify_signature("WEB-secret", body)}, body)
    assert answer.status == "exception"
    make_sku("NEW-1")
    database.session.commit()
    retried = intake.retry_delivery(answer.delivery_id, user_id=make_user("retail").id)
    assert retried.status == "processed" and retried.resolution.startswith("Retried: processed")
