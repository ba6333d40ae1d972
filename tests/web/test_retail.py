"""Retail screens: inbox, order detail and its actions, hold and exception queues, availability, entry, import."""
from __future__ import annotations

import io
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.domain.capture import Address, LineDraft, OrderDraft
from app.domain.inventory import Cause
from app.extensions import db as database
from app.models.orders import InboundDelivery, Order
from app.services import inventory, orders

HX = {"HX-Request": "true"}
HEADER = "channel,external_id,sku,qty,unit_price,ship_name,address1,city,postcode,country\n"


def capture(external_id: str, *, sku="TEE-M", qty=1, name="Amelia Hughes", captured=True, channel="WEB") -> Order:
    draft = OrderDraft(external_id=external_id, number=f"#{external_id}", currency="GBP",
                       placed_at=datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc), updated_at=None, customer_name=name,
                       customer_email=f"{name.split()[0].lower()}@example.co.uk",
                       ship_to=Address(name=name, address1=f"{external_id} High Street", city="Bath", postcode="BA1 2QT",
                                       country="GB"),
                       billing_country=None, payment_captured=captured, lines=(LineDraft(sku, qty, Decimal("18.00")),),
                       shipping=Decimal("3.95"), shipping_tax=Decimal("0"), order_discount=Decimal("0"),
                       total=Decimal("18.00") * qty + Decimal("3.95"))
    return orders.capture_order(channel, draft, source="api").order


@pytest.fixture()
def shop(world):
    inventory.receive_stock(world.skus["TEE-M"].id, world.bins["E0-1"].id, 10, cause=Cause("po", 1))
    return {"allocated": capture("1001"), "held": capture("1002", name="Oliver Grant", captured=False),
            "waiting": capture("1003", sku="MUG", name="Isla Brown")}


def test_the_inbox_lists_orders_with_counts_per_status_and_searches(client, login_as, shop):
    login_as("retail")
    page = client.get("/orders")
    assert page.status_code == 200 and b"<html" in page.data
    for order in shop.values():
        assert order.number.encode() in page.data
    assert b'data-status="on_hold"' in page.data
    fragment = client.get("/orders?q=oliver", headers=HX)
    assert b"<html" not in fragment.data and b'id="results"' in fragment.data
    assert shop["held"].number.encode() in fragment.data and shop["allocated"].number.encode() not in fragment.data
    assert "HX-Request" in fragment.headers["Vary"]
    by_sku = client.get("/orders?q=MUG").data
    assert shop["waiting"].number.encode() in by_sku and shop["allocated"].number.encode() not in by_sku
    assert shop["held"].number.encode() in client.get("/orders?q=%231002").data


def test_the_inbox_filters_by_status_channel_warehouse_dates_and_attention(client, login_as, shop):
    login_as("retail")
    def numbers(query):
        data = client.get(f"/orders?{query}").data
        return {name for name, o in shop.items() if o.number.encode() in data}
    assert numbers("status=on_hold") == {"held"}
    assert numbers("attention=held") == {"held"}
    assert numbers("attention=waiting") == {"waiting"}
    assert numbers("warehouse=EAST") == {"allocated"}
    assert numbers("channel=AMZ") == set()
    assert numbers("from=2026-03-02&to=2026-03-02") == {"allocated", "held", "waiting"}
    assert numbers("from=2026-03-03") == set()
    assert client.get("/orders?from=rubbish&status=nope&page=zz").status_code == 200


def test_the_inbox_pages_through_many_orders(client, login_as, world):
    for n in range(55):
        capture(f"P{n}", sku="CAP")
    login_as("retail")
    first = client.get("/orders").data
    assert b"page 1 of 2" in first and b"Next" in first
    assert client.get("/orders?page=2").data.count(b"/orders/") >= 5


def test_order_detail_shows_lines_money_shipments_bins_and_timeline(client, login_as, shop):
    login_as("retail")
    order = shop["allocated"]
    page = client.get(f"/orders/{order.id}").data
    assert b"TEE-M" in page and b"\xc2\xa318.00" in page and b"\xc2\xa321.95" in page
    assert b"EAST" in page and b"E0-1" in page
    assert b'id="timeline"' in page and b"passed validation" in page
    assert client.get("/orders/999999").status_code == 404


def test_releasing_a_held_order_allocates_it_and_names_the_reviewer(client, login_as, shop):
    user = login_as("retail")
    held = shop["held"]
    response = client.post(f"/orders/{held.id}/release", data={"note": "payment confirmed"})
    assert response.status_code == 302
    database.session.expire_all()
    order = database.session.get(Order, held.id)
    assert order.status == "allocated" and order.holds[0].released_by_id == user.id
    assert b"payment confirmed" in client.get(f"/orders/{held.id}").data


def test_holding_and_cancelling_from_the_detail_page(client, login_as, shop):
    login_as("retail")
    order = shop["allocated"]
    client.post(f"/orders/{order.id}/hold", data={"reason": "customer rang to change the address"})
    database.session.expire_all()
    assert database.session.get(Order, order.id).status == "on_hold"
    client.post(f"/orders/{order.id}/cancel", data={"reason": "customer changed their mind"})
    database.session.expire_all()
    assert database.session.get(Order, order.id).status == "cancelled"
    page = client.get(f"/orders/{order.id}", follow_redirects=True).data
    assert b"customer changed their mind" in page


def test_a_refused_action_is_shown_as_an_error_not_a_crash(client, login_as, shop):
    login_as("retail")
    response = client.post(f"/orders/{shop['allocated'].id}/release", follow_redirects=True)
    assert response.status_code == 200 and b"not on hold" in response.data
    empty_reason = client.post(f"/orders/{shop['allocated'].id}/hold", data={"reason": ""}, follow_redirects=True)
    assert b"Say why" in empty_reason.data


def test_allocate_now_reserves_stock_that_arrived(client, login_as, shop, world):
    login_as("retail")
    inventory.receive_stock(world.skus["MUG"].id, world.bins["W0-1"].id, 3, cause=Cause("po", 2))
    client.post(f"/orders/{shop['waiting'].id}/allocate")
    database.session.expire_all()
    assert database.session.get(Order, shop["waiting"].id).status == "allocated"


def test_the_hold_queue_lists_held_orders_and_releases_back_to_the_queue(client, login_as, shop):
    login_as("retail")
    page = client.get("/holds").data
    assert shop["held"].number.encode() in page and shop["allocated"].number.encode() not in page
    assert b"Payment has not been captured" in page
    assert shop["held"].number.encode() in client.get("/holds?kind=payment", headers=HX).data
    assert b"No held orders match" in client.get("/holds?kind=address").data
    response = client.post(f"/orders/{shop['held'].id}/release", data={"back": "holds"})
    assert response.headers["Location"].endswith("/holds")
    assert b"No orders are on hold" in client.get("/holds").data


def _exception(world) -> InboundDelivery:
    delivery = InboundDelivery(source="shopify", channel_id=world.channels["WEB"].id, topic="orders/create",
                               delivery_id="wh-9", headers={"X-Shopify-Topic": "orders/create"},
                               body='{"id": 9, "line_items": [{"sku": "GHOST-1"}]}', status="exception",
                               error_field="line_items[0].quantity", error="line_items[0].quantity is missing")
    database.session.add(delivery)
    database.session.commit()
    return delivery


def test_the_exception_queue_shows_the_reason_and_the_raw_payload(client, login_as, world):
    delivery = _exception(world)
    login_as("retail")
    page = client.get("/exceptions").data
    assert b"line_items[0].quantity is missing" in page
    detail = client.get(f"/exceptions/{delivery.id}").data
    assert b"GHOST-1" in detail and b"raw-payload" in detail and b"Retry now" in detail
    assert b"wh-9" in client.get("/exceptions?q=GHOST").data
    assert b"wh-9" not in client.get("/exceptions?q=SOMETHING-ELSE").data
    assert b"is empty" not in client.get("/exceptions?view=all").data


def test_dismissing_from_the_queue_needs_a_note(client, login_as, world):
    delivery = _exception(world)
    login_as("retail")
    refused = client.post(f"/exceptions/{delivery.id}/dismiss", data={"note": ""}, follow_redirects=True)
    assert b"Say why" in refused.data
    client.post(f"/exceptions/{delivery.id}/dismiss", data={"note": "test payload"})
    database.session.expire_all()
    assert database.session.get(InboundDelivery, delivery.id).status == "dismissed"
    assert b"is empty" in client.get("/exceptions").data


def test_a_retry_that_still_fails_says_why(client, login_as, world):
    delivery = _exception(world)
    login_as("retail")
    response = client.post(f"/exceptions/{delivery.id}/retry", follow_redirects=True)
    assert b"Still cannot apply it" in response.data


def test_available_to_sell_shows_each_channel_less_its_buffer(client, login_as, shop):
    login_as("retail")
    page = client.get("/availability?q=TEE").data
    # 10 received, 1 allocated to the first order, 1 to the released... only the first is allocated: 9 on the shelf.
    assert b'data-channel="WEB"' in page and b"<strong>7</strong>" in page and b"9 on shelf" in page
    short = client.get("/availability?short=1", headers=HX).data
    assert b"MUG" in short and b"<html" not in short
    assert b"No SKUs match" in client.get("/availability?q=zzz").data


def test_manual_entry_captures_an_order_and_redirects_to_it(client, login_as, shop):
    login_as("retail")
    form = client.get("/orders/new").data
    assert b'name="external_id" value="MAN-' in form
    response = client.post("/orders/new", data={
        "external_id": "MAN-TEST1", "channel": "WEB", "customer_name": "Grace Hall", "ship_name": "Grace Hall",
        "address1": "3 Castle Street", "city": "Ludlow", "postcode": "SY8 1AS", "country": "GB", "payment_captured": "1",
        "lines-0-sku": "TEE-M", "lines-0-qty": "2", "lines-1-sku": "", "lines-1-qty": ""})
    assert response.status_code == 302
    order = database.session.scalar(select(Order).where(Order.external_id == "MAN-TEST1"))
    assert order.source == "manual" and order.units == 2 and order.status == "allocated"
    again = client.post("/orders/new", data={
        "external_id": "MAN-TEST1", "channel": "WEB", "customer_name": "Grace Hall", "ship_name": "Grace Hall",
        "address1": "3 Castle Street", "city": "Ludlow", "postcode": "SY8 1AS", "country": "GB",
        "lines-0-sku": "TEE-M", "lines-0-qty": "2"}, follow_redirects=True)
    assert b"already entered" in again.data
    assert database.session.scalar(select(func.count(Order.id)).where(Order.external_id == "MAN-TEST1")) == 1


def test_manual_entry_with_bad_input_is_422_with_messages_per_field(client, login_as, world):
    login_as("retail")
    response = client.post("/orders/new", data={"external_id": "MAN-X", "channel": "", "lines-0-sku": "NOPE",
                                                "lines-0-qty": "-3"}, headers=HX)
    assert response.status_code == 422 and b"<html" not in response.data
    assert b"Choose the channel" in response.data and b"No SKU with that code" in response.data
    assert b"A whole number from 1" in response.data and b"Who placed the order" in response.data
    assert database.session.scalar(select(func.count(Order.id))) == 0


def test_manual_entry_adds_a_line_row_without_capturing(client, login_as, world):
    login_as("retail")
    response = client.post("/orders/new", data={"external_id": "MAN-Y", "channel": "WEB", "add_line": "1"})
    assert response.status_code == 200 and b"lines-5-sku" in response.data
    assert database.session.scalar(select(func.count(Order.id))) == 0


def test_the_sku_lookup_offers_matching_skus(client, login_as, world):
    login_as("retail")
    response = client.get("/orders/new/skus?lines-0-sku=mu", headers=HX)
    assert b'<option value="MUG">' in response.data and b"TEE-M" not in response.data


def _upload(client, text: str, headers=None):
    return client.post("/orders/import", data={"file": (io.BytesIO(text.encode()), "orders.csv")},
                       content_type="multipart/form-data", headers=headers or {})


def test_csv_import_previews_then_imports_on_confirmation(client, login_as, world):
    login_as("retail")
    text = HEADER + "WEB,C-1,MUG,2,12.00,Ann Lee,1 Quay St,Truro,TR1 2HE,GB\n"
    preview = _upload(client, text)
    assert preview.status_code == 200 and b"preview-orders" in preview.data and b"Import 1 new order" in preview.data
    assert database.session.scalar(select(func.count(Order.id))) == 0
    done = client.post("/orders/import", data={"confirm": "1", "filename": "orders.csv", "csv_text": text})
    assert done.status_code == 302
    assert database.session.scalar(select(func.count(Order.id))) == 1


def test_csv_import_with_bad_rows_shows_each_error_and_offers_no_import(client, login_as, world):
    login_as("retail")
    text = HEADER + "WEB,C-1,MUG,2,12.00,Ann Lee,1 Quay St,Truro,TR1 2HE,GB\nWEB,C-2,GHOST,x,12.00,,1 Quay St,Truro,TR1 2HE,GB\n"
    preview = _upload(client, text)
    assert preview.status_code == 422 and b"row-errors" in preview.data and b"confirm-import" not in preview.data
    assert b"qty" in preview.data and b"ship_name" in preview.data
    forced = client.post("/orders/import", data={"confirm": "1", "filename": "x.csv", "csv_text": text})
    assert forced.status_code == 422
    assert database.session.scalar(select(func.count(Order.id))) == 0


def test_csv_import_without_a_file_is_422(client, login_as, world):
    login_as("retail")
    response = client.post("/orders/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and b"Choose a CSV file" in response.data


@pytest.mark.parametrize("path", ["/orders", "/holds", "/exceptions", "/availability", "/orders/new", "/orders/import"])
def test_a_warehouse_user_may_not_open_the_retail_screens(client, login_as, world, path):
    login_as("warehouse")
    assert client.get(path).status_code == 403


def test_the_retail_navigation_lists_the_order_screens(client, login_as, world):
    login_as("retail")
    page = client.get("/orders").data
    for label in (b"Order inbox", b"Holds", b"Exceptions", b"Available to sell", b"New order", b"Import CSV"):
        assert label in page
