"""Shopify and WooCommerce webhooks with the real fixture payloads, signed here with a test secret."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.channels.signatures import shopify_signature, woocommerce_signature
from app.domain.inventory import Cause, Status
from app.extensions import db as database
from app.models import Event, StockMove
from app.models.orders import InboundDelivery, Order
from app.services import inventory
from app.services.integrity import ledger_problems
from tests.conftest import SHARED
from tests.factories import make_sku

FIXTURES = SHARED / "fixtures" / "channels"
ORDER_2025 = "shopify_api_ruby__rest_2025_07_order_test8_get_order.json"
CANCELLED_2025 = "shopify_api_ruby__rest_2025_07_order_test13_cancel_order.json"
ORDER_2008 = "shopify_python_api__order.json"
REFUND_2016 = "shopify_python_api__refund.json"
WOO_ORDERS = "woocommerce_rest_api_docs__wp_api_v3_orders_list_example.json"
SECRET = "WEB-secret"
IPODS = ("IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK")


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def shopify_post(client, body: bytes, topic: str = "orders/create", webhook_id: str = "wh-1", *,
                 secret: str = SECRET, channel: str = "WEB", signature: str | None = None, drop: tuple = ()):
    headers = {"X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": webhook_id,
               "X-Shopify-Hmac-Sha256": signature if signature is not None else shopify_signature(secret, body),
               "X-Shopify-Shop-Domain": "harbour.myshopify.com", "Content-Type": "application/json"}
    for name in drop:
        headers.pop(name)
    return client.post(f"/webhooks/shopify/{channel}", data=body, headers=headers)


def woo_post(client, body: bytes, topic: str = "order.created", delivery: str = "d-1", *, channel: str = "WOO"):
    headers = {"X-WC-Webhook-Topic": topic, "X-WC-Webhook-Delivery-ID": delivery,
               "X-WC-Webhook-Signature": woocommerce_signature("WOO-secret-1", body), "Content-Type": "application/json"}
    return client.post(f"/webhooks/woocommerce/{channel}", data=body, headers=headers)


@pytest.fixture()
def ipods(world):
    """The fixture's SKUs, with stock in EAST for all three."""
    skus = [make_sku(code, price="199.00") for code in IPODS]
    database.session.commit()
    for sku in skus:
        inventory.receive_stock(sku.id, world.bins["E0-1"].id, 5, cause=Cause("po", "PO-1"))
    return {s.code: s for s in skus}


@pytest.fixture()
def woo_channel(world):
    from app.models import Channel, channel_warehouses
    channel = Channel(code="WOO", name="Outlet", type="woocommerce", webhook_secret="WOO-secret-1")
    database.session.add(channel)
    database.session.flush()
    database.session.execute(channel_warehouses.insert().values(channel_id=channel.id,
                                                                warehouse_id=world.warehouses["WEST"].id, rank=1))
    database.session.commit()
    return channel


def count(model) -> int:
    return database.session.scalar(select(func.count()).select_from(model))


def test_a_signed_shopify_order_is_captured_once_and_allocated(client, ipods):
    response = shopify_post(client, fixture_bytes(ORDER_2025))
    assert response.status_code == 200, response.json
    assert response.json["status"] == "processed"
    order = database.session.scalar(select(Order))
    assert order.external_id == "450789469" and order.channel_number == "#1001"
    assert order.status == "allocated"
    assert [(l.sku.code, l.qty, str(l.unit_price), str(l.discount), str(l.tax)) for l in order.lines] == [
        ("IPOD2008GREEN", 1, "199.00", "3.34", "3.98"), ("IPOD2008RED", 1, "199.00", "3.33", "3.98"),
        ("IPOD2008BLACK", 1, "199.00", "3.33", "3.98")]
    assert (order.currency, str(order.total), str(order.shipping)) == ("USD", "598.94", "0.00")
    net = sum(l.net_amount + l.tax for l in order.lines) + order.shipping - order.order_discount
    assert net == order.total
    assert [s.warehouse.code for s in order.shipments] == ["EAST"]
    assert ledger_problems() == []


def test_the_same_webhook_id_again_makes_no_second_order(client, ipods):
    body = fixture_bytes(ORDER_2025)
    first = shopify_post(client, body, webhook_id="same")
    again = shopify_post(client, body, webhook_id="same")
    assert first.status_code == again.status_code == 200
    assert again.json["status"] == "duplicate" and again.json["order"] == first.json["order"]
    assert count(Order) == 1 and count(InboundDelivery) == 1


def test_the_same_order_under_a_new_webhook_id_is_still_one_order(client, ipods):
    body = fixture_bytes(ORDER_2025)
    shopify_post(client, body, webhook_id="a")
    again = shopify_post(client, body, topic="orders/updated", webhook_id="b")
    assert again.json["status"] == "duplicate"
    assert count(Order) == 1 and count(InboundDelivery) == 2


def test_a_tampered_body_is_refused_with_401_and_writes_nothing(client, ipods):
    body = fixture_bytes(ORDER_2025)
    signature = shopify_signature(SECRET, body)
    tampered = body.replace(b'"quantity": 1', b'"quantity": 9', 1)
    moves_before = count(StockMove)
    response = shopify_post(client, tampered, signature=signature)
    assert response.status_code == 401 and response.json["status"] == "bad_signature"
    assert count(Order) == 0 and count(InboundDelivery) == 0 and count(StockMove) == moves_before


def test_a_signature_made_with_another_secret_is_refused(client, ipods):
    response = shopify_post(client, fixture_bytes(ORDER_2025), secret="someone-elses-secret")
    assert response.status_code == 401
    assert count(InboundDelivery) == 0


@pytest.mark.parametrize("missing, status", [
    ("X-Shopify-Hmac-Sha256", 401), ("X-Shopify-Topic", 400), ("X-Shopify-Webhook-Id", 400)])
def test_missing_headers_are_refused_and_nothing_is_written(client, ipods, missing, status):
    response = shopify_post(client, fixture_bytes(ORDER_2025), drop=(missing,))
    assert response.status_code == status
    assert response.is_json and "message" in response.json
    assert count(InboundDelivery) == 0 and count(Order) == 0


def test_an_unknown_channel_is_404_and_writes_nothing(client, ipods):
    response = shopify_post(client, fixture_bytes(ORDER_2025), channel="NOPE")
    assert response.status_code == 404 and count(InboundDelivery) == 0


def test_an_older_update_arriving_late_is_ignored(client, ipods):
    cancelled = fixture_bytes(CANCELLED_2025)      # updated 2025-07-02: the order is cancelled
    original = fixture_bytes(ORDER_2025)           # updated 2008-01-10: arrives after it
    assert shopify_post(client, cancelled, topic="orders/cancelled", webhook_id="c").status_code == 200
    late = shopify_post(client, original, topic="orders/updated", webhook_id="u")
    assert late.status_code == 200 and late.json["status"] == "stale"
    order = database.session.scalar(select(Order))
    assert order.status == "cancelled" and count(Order) == 1


def test_a_cancellation_after_capture_releases_the_reserved_stock(client, ipods, world):
    shopify_post(client, fixture_bytes(ORDER_2025), webhook_id="create")
    response = shopify_post(client, fixture_bytes(CANCELLED_2025), topic="orders/cancelled", webhook_id="cancel")
    assert response.json["status"] == "processed"
    order = database.session.scalar(select(Order))
    assert order.status == "cancelled" and order.cancel_reason == "other"
    assert all(line.qty_allocated == 0 for line in order.lines)
    from app.services.ledger import balance
    assert balance(ipods["IPOD2008RED"].id, world.bins["E0-1"].id, Status.AVAILABLE) == 5
    assert ledger_problems() == []


def test_an_unknown_sku_lands_in_the_exception_queue_and_a_retry_after_adding_it_captures(client, world, login_as):
    make_sku("IPOD2008GREEN")
    make_sku("IPOD2008RED")
    database.session.commit()
    response = shopify_post(client, fixture_bytes(ORDER_2025))
    assert response.status_code == 200 and response.json["status"] == "exception"
    delivery = database.session.scalar(select(InboundDelivery))
    assert delivery.status == "exception" and "IPOD2008BLACK" in delivery.error
    assert delivery.error_field == "lines[2].sku"
    assert delivery.body == fixture_bytes(ORDER_2025).decode()
    assert count(Order) == 0

    make_sku("IPOD2008BLACK")
    database.session.commit()
    user = login_as("retail")
    retried = client.post(f"/exceptions/{delivery.id}/retry")
    assert retried.status_code == 302
    database.session.expire_all()
    delivery = database.session.get(InboundDelivery, delivery.id)
    assert delivery.status == "processed" and delivery.resolved_by_id == user.id and delivery.order_id
    assert count(Order) == 1


def test_the_2008_order_with_payment_only_authorised_is_captured_on_hold(client, ipods):
    response = shopify_post(client, fixture_bytes(ORDER_2008))
    assert response.json["status"] == "processed"
    order = database.session.scalar(select(Order))
    assert order.status == "on_hold"
    assert [h.kind for h in order.open_holds] == ["payment"]


def test_a_refund_is_stored_and_recorded_against_its_order(client, ipods):
    shopify_post(client, fixture_bytes(ORDER_2025), webhook_id="create")
    response = shopify_post(client, fixture_bytes(REFUND_2016), topic="refunds/create", webhook_id="refund")
    assert response.status_code == 200 and response.json["status"] == "processed"
    delivery = database.session.scalar(select(InboundDelivery).where(InboundDelivery.topic == "refunds/create"))
    order = database.session.scalar(select(Order))
    assert delivery.order_id == order.id and "Refund 509562969" in delivery.resolution
    from app.models import Event
    event = database.session.scalar(select(Event).where(Event.type == "order.refund_received"))
    assert event.payload["refund"] == "509562969"


def test_a_refund_for_an_unknown_order_waits_in_the_exception_queue(client, ipods):
    response = shopify_post(client, fixture_bytes(REFUND_2016), topic="refunds/create", webhook_id="refund")
    assert response.json["status"] == "exception"
    assert database.session.scalar(select(InboundDelivery)).error_field == "order_id"


def test_an_unknown_topic_is_kept_in_the_exception_queue(client, ipods):
    response = shopify_post(client, fixture_bytes(ORDER_2025), topic="products/create")
    assert response.status_code == 200 and response.json["status"] == "exception"
    assert "products/create" in database.session.scalar(select(InboundDelivery)).error


def test_a_signed_body_that_is_not_json_is_kept_as_an_exception(client, ipods):
    response = shopify_post(client, b"{not json")
    assert response.status_code == 200 and response.json["status"] == "exception"
    assert database.session.scalar(select(InboundDelivery)).body == "{not json"


def test_woocommerce_ping_is_answered_200_without_a_signature(client, woo_channel):
    response = client.post("/webhooks/woocommerce/WOO", data=b"webhook_id=15",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200 and response.json["status"] == "ping"
    assert count(InboundDelivery) == 0


def test_woocommerce_unsigned_order_is_refused(client, woo_channel):
    body = json.dumps(json.loads(fixture_bytes(WOO_ORDERS))[0]).encode()
    response = client.post("/webhooks/woocommerce/WOO", data=body, headers={
        "X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Delivery-ID": "1"})
    assert response.status_code == 401 and count(InboundDelivery) == 0


def _woo_order(order_id: int, *, fill_skus: bool) -> dict:
    order = next(o for o in json.loads(fixture_bytes(WOO_ORDERS)) if o["id"] == order_id)
    order = copy.deepcopy(order)
    if fill_skus:
        for line in order["line_items"]:
            line["sku"] = line["sku"] or f"WC-{line['id']}"
    return order


def test_woocommerce_fixture_order_without_skus_waits_in_the_exception_queue(client, woo_channel):
    response = woo_post(client, json.dumps(_woo_order(727, fill_skus=False)).encode())
    assert response.json["status"] == "exception"
    assert database.session.scalar(select(InboundDelivery)).error_field == "line_items[0].sku"


def test_woocommerce_fixture_order_imports_with_lines_tax_shipping_and_total(client, woo_channel, world, login_as):
    for code in ("WC-315", "Bar3"):
        make_sku(code)
    database.session.commit()
    response = woo_post(client, json.dumps(_woo_order(727, fill_skus=True)).encode())
    assert response.json["status"] == "processed", response.json
    order = database.session.scalar(select(Order))
    assert [(l.sku.code, l.qty, str(l.unit_price), str(l.tax)) for l in order.lines] == [
        ("WC-315", 2, "3.00", "0.45"), ("Bar3", 1, "12.00", "0.90")]
    assert (str(order.shipping), str(order.total), order.currency) == ("10.00", "29.35", "USD")
    assert order.status == "backordered"  # no stock in WEST yet
    login_as("retail")
    assert order.number.encode() in client.get("/orders?q=Bar3").data


def test_woocommerce_deletion_cancels_the_order(client, woo_channel, world):
    for code in ("WC-315", "Bar3"):
        make_sku(code)
    database.session.commit()
    woo_post(client, json.dumps(_woo_order(727, fill_skus=True)).encode(), delivery="1")
    response = woo_post(client, b'{"id": 727}', topic="order.deleted", delivery="2")
    assert response.json["status"] == "processed"
    assert database.session.scalar(select(Order)).status == "cancelled"


def test_woocommerce_older_modification_is_ignored(client, woo_channel, world):
    for code in ("WC-315", "Bar3"):
        make_sku(code)
    database.session.commit()
    newer = _woo_order(727, fill_skus=True)
    older = copy.deepcopy(newer)
    older["date_modified_gmt"] = "2017-03-22T19:00:00"
    newer["status"], newer["date_modified_gmt"] = "cancelled", "2017-03-23T10:00:00"
    woo_post(client, json.dumps(_woo_order(727, fill_skus=True)).encode(), delivery="1")
    assert woo_post(client, json.dumps(newer).encode(), topic="order.updated", delivery="2").json["status"] == "processed"
    late = woo_post(client, json.dumps(older).encode(), topic="order.updated", delivery="3")
    assert late.json["status"] == "stale"
    assert database.session.scalar(select(Order)).status == "cancelled"


def test_woocommerce_refunds_listed_on_an_update_are_recorded_once_each_and_shown_on_the_order(
        client, woo_channel, world, login_as):
    for code in ("WC-315", "Bar3"):
        make_sku(code)
    database.session.commit()
    placed = _woo_order(727, fill_skus=True)
    woo_post(client, json.dumps(placed).encode(), delivery="1")
    refunded = copy.deepcopy(placed)
    refunded["date_modified_gmt"] = "2017-03-23T10:00:00"
    refunded["refunds"] = [{"id": 801, "reason": "arrived damaged", "total": "-12.00"}]
    answer = woo_post(client, json.dumps(refunded).encode(), topic="order.updated", delivery="2").json
    assert answer["status"] == "processed", answer
    again = copy.deepcopy(refunded)
    again["date_modified_gmt"] = "2017-03-24T10:00:00"
    again["refunds"].append({"id": 802, "reason": "", "total": "-3.50"})
    woo_post(client, json.dumps(again).encode(), topic="order.updated", delivery="3")
    events = database.session.scalars(select(Event).where(Event.type == "order.refund_received").order_by(Event.id)).all()
    assert [(e.payload["refund"], e.payload["amount"]) for e in events] == [("801", "12.00"), ("802", "3.50")]
    kept = database.session.scalars(select(InboundDelivery).where(InboundDelivery.delivery_id.like("refund:%"))
                                    .order_by(InboundDelivery.id)).all()
    order = database.session.scalar(select(Order))
    assert [(d.delivery_id, d.order_id, d.status) for d in kept] == [("refund:801", order.id, "processed"),
                                                                    ("refund:802", order.id, "processed")]
    login_as("retail")
    page = client.get(f"/orders/{order.id}").data.decode()
    assert "Refund 801: 12.00 USD" in page and "Refund 802: 3.50 USD" in page


def test_a_signed_shopify_order_shows_once_in_the_inbox_allocated(client, ipods, login_as):
    body = fixture_bytes(ORDER_2025)
    number = shopify_post(client, body, webhook_id="w1").json["order"]
    shopify_post(client, body, webhook_id="w1")
    shopify_post(client, body, topic="orders/updated", webhook_id="w2")
    login_as("retail")
    page = client.get("/orders").data.decode()
    assert page.count(f">{number}</a>") == 1
    row = page[page.index(f">{number}</a>"):]
    assert "Allocated" in row[:row.index("</tr>")]
