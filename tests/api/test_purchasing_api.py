"""Purchase orders over the JSON API: drafting, reading, sending, notices and receipts; bad bodies get 4xx JSON."""
from __future__ import annotations


import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.inventory import Status
from app.services.ledger import balance
from app.services.people import create_token
from app.services.purchasing import dock_location, local_today
from tests.api import bearer
from tests.services.test_purchasing import make_supplier, offer


@pytest.fixture()
def buyer(make_user):
    make_user("procurement", "luis")
    return bearer(create_token("luis"))


@pytest.fixture()
def acme(world):
    supplier = make_supplier()
    offer(supplier, world.skus["MUG"], "2.5000", pack=6, moq=12)
    return supplier


def draft(client, headers, **overrides):
    body = {"supplier": "ACME", "warehouse": "EAST", "lines": [{"sku": "MUG", "qty": 24}, {"sku": "CAP", "qty": 5,
                                                                                            "unit_cost": "3.10"}]}
    return client.post("/api/v1/purchase-orders", json={**body, **overrides}, headers=headers)


def test_a_draft_is_created_with_201_and_the_agreed_costs(client, buyer, acme):
    response = draft(client, buyer, note="autumn")
    assert response.status_code == 201
    po = response.json
    assert (po["status"], po["supplier"], po["warehouse"], po["currency"], po["total"], po["note"]) == (
        "draft", "ACME", "EAST", "GBP", "75.50", "autumn")
    assert [(l["sku"], l["qty_ordered"], l["unit_cost"]) for l in po["lines"]] == [("MUG", 24, "2.5"), ("CAP", 5, "3.1")]
    assert client.get(f"/api/v1/purchase-orders/{po['id']}", headers=buyer).json == po


def test_a_po_is_sent_notified_and_received_partly_into_quarantine(client, buyer, acme, world):
    po = draft(client, buyer).json
    sent = client.post(f"/api/v1/purchase-orders/{po['id']}/send", headers=buyer)
    assert sent.status_code == 200 and sent.json["status"] == "sent"
    notice = client.post(f"/api/v1/purchase-orders/{po['id']}/shipments", headers=buyer,
                         json={"expected_date": local_today().isoformat(), "reference": "ASN-1",
                               "lines": [{"sku": "MUG", "qty": 24}]})
    assert notice.status_code == 201 and notice.json["lines"][0]["qty_in_transit"] == 24
    received = client.post(f"/api/v1/purchase-orders/{po['id']}/receive", headers=buyer, json={"lines": [
        {"sku": "MUG", "qty": 18}, {"sku": "MUG", "qty": 6, "quarantine": True}, {"sku": "CAP", "qty": 2}]})
    assert received.status_code == 201
    body = received.json
    assert body["receipt"]["number"].startswith("GRN-") and len(body["receipt"]["lines"]) == 3
    assert body["purchase_order"]["status"] == "partially_received"
    mug = body["purchase_order"]["lines"][0]
    assert (mug["qty_received"], mug["qty_quarantined"], mug["qty_in_transit"], mug["qty_open"]) == (24, 6, 0, 0)
    dock = dock_location(world.warehouses["EAST"])
    assert balance(world.skus["MUG"].id, dock.id, Status.AVAILABLE) == 18
    assert balance(world.skus["MUG"].id, dock.id, Status.QUARANTINED) == 6


def test_a_po_over_the_threshold_answers_awaiting_approval(client, buyer, acme):
    po = draft(client, buyer, lines=[{"sku": "CAP", "qty": 1000, "unit_cost": 9}]).json
    assert client.post(f"/api/v1/purchase-orders/{po['id']}/send", headers=buyer).json["status"] == "awaiting_approval"
    response = client.post(f"/api/v1/purchase-orders/{po['id']}/receive", headers=buyer,
                           json={"lines": [{"sku": "CAP", "qty": 1}]})
    assert response.status_code == 409 and response.json["error"] == "conflict"


def test_the_list_searches_and_filters(client, buyer, acme):
    first = draft(client, buyer).json
    draft(client, buyer, lines=[{"sku": "CAP", "qty": 1, "unit_cost": "1"}])
    client.post(f"/api/v1/purchase-orders/{first['id']}/send", headers=buyer)
    listing = client.get("/api/v1/purchase-orders", headers=buyer).json
    assert set(listing) == {"items", "page", "pages", "total"} and listing["total"] == 2
    assert client.get("/api/v1/purchase-orders?status=sent", headers=buyer).json["total"] == 1
    assert client.get("/api/v1/purchase-orders?q=MUG", headers=buyer).json["total"] == 1
    assert client.get(f"/api/v1/purchase-orders?q={first['number']}", headers=buyer).json["items"][0]["id"] == first["id"]
    assert client.get("/api/v1/purchase-orders?supplier=NOPE", headers=buyer).json["total"] == 0
    assert client.get("/api/v1/purchase-orders?warehouse=EAST&supplier=ACME", headers=buyer).json["total"] == 2
    assert client.get("/api/v1/purchase-orders?status=bogus", headers=buyer).status_code == 422


@pytest.mark.parametrize("body, field", [
    ({}, "supplier"),
    ({"supplier": "ACME", "warehouse": "EAST", "lines": []}, "lines"),
    ({"supplier": "ACME", "warehouse": "EAST", "lines": [{"sku": "MUG"}]}, "lines[0]"),
    ({"supplier": "ACME", "warehouse": "EAST", "lines": [{"sku": "MUG", "qty": 0}]}, "lines[0].qty"),
    ({"supplier": "ACME", "warehouse": "EAST", "lines": [{"sku": "MUG", "qty": "6"}]}, "lines[0].qty"),
    ({"supplier": "ACME", "warehouse": "EAST", "lines": [{"sku": "MUG", "qty": 6, "unit_cost": "-1"}]},
     "lines[0].unit_cost"),
    ({"supplier": "ACME", "warehouse": "EAST", "lines": [{"sku": "MUG", "qty": 6, "unit_cost": "1e3"}]},
     "lines[0].unit_cost"),
    ({"supplier": "ACME", "warehouse": "EAST", "lines": [{"sku": "NOPE", "qty": 6}]}, "lines[0].sku"),
    ({"supplier": "ACME", "warehouse": "EAST", "lines": [{"sku": "MUG", "qty": 7}]}, "lines[0].qty"),
    ({"supplier": 5, "warehouse": "EAST", "lines": [{"sku": "MUG", "qty": 6}]}, "supplier"),
])
def test_a_malformed_draft_is_a_422_naming_the_field(client, buyer, acme, body, field):
    response = client.post("/api/v1/purchase-orders", json=body, headers=buyer)
    assert response.status_code == 422, response.json
    assert response.json["error"] == "invalid" and any(key.startswith(field) for key in response.json["fields"])


def test_unknown_supplier_warehouse_and_po_are_404s_and_non_json_is_refused(client, buyer, acme):
    lines = [{"sku": "MUG", "qty": 12}]
    assert draft(client, buyer, supplier="NOPE", lines=lines).status_code == 404
    assert draft(client, buyer, warehouse="NOPE", lines=lines).status_code == 404
    assert client.get("/api/v1/purchase-orders/999", headers=buyer).status_code == 404
    assert client.post("/api/v1/purchase-orders/999/receive", json={"lines": [{"sku": "MUG", "qty": 1}]},
                       headers=buyer).status_code == 404
    response = client.post("/api/v1/purchase-orders", data="not json", headers={**buyer, "Content-Type": "text/plain"})
    assert response.status_code == 422 and response.json["error"] == "invalid"
    assert client.post("/api/v1/purchase-orders", data="[1, 2", headers={**buyer, "Content-Type":
                                                                          "application/json"}).status_code == 422


@pytest.mark.parametrize("lines", [[{"sku": "MUG", "qty": 100}], [{"sku": "MUG", "qty": 1, "quarantine": "yes"}],
                                   [{"sku": "CAP", "qty": 1}], "lines", [{"sku": "MUG", "qty": 1, "unit_cost": []}]])
def test_a_bad_receipt_is_a_4xx_and_moves_nothing(client, buyer, acme, world, lines):
    po = draft(client, buyer, lines=[{"sku": "MUG", "qty": 24}]).json
    client.post(f"/api/v1/purchase-orders/{po['id']}/send", headers=buyer)
    response = client.post(f"/api/v1/purchase-orders/{po['id']}/receive", json={"lines": lines}, headers=buyer)
    assert 400 <= response.status_code < 500 and "error" in response.json
    assert client.get(f"/api/v1/purchase-orders/{po['id']}", headers=buyer).json["lines"][0]["qty_received"] == 0


def test_a_warehouse_user_may_receive_but_not_draft(client, make_user, buyer, acme):
    po = draft(client, buyer, lines=[{"sku": "MUG", "qty": 24}]).json
    client.post(f"/api/v1/purchase-orders/{po['id']}/send", headers=buyer)
    make_user("warehouse", "tom")
    floor = bearer(create_token("tom"))
    assert draft(client, floor).status_code == 403
    response = client.post(f"/api/v1/purchase-orders/{po['id']}/receive", json={"lines": [{"sku": "MUG", "qty": 6}]},
                           headers=floor)
    assert response.status_code == 201


def test_every_purchasing_endpoint_is_in_the_openapi_document_with_its_schemas(client, db):
    spec = client.get("/api/v1/openapi.json").json
    paths = spec["paths"]
    assert set(paths["/api/v1/purchase-orders"]) == {"get", "post"}
    assert paths["/api/v1/purchase-orders"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "required"] == ["supplier", "warehouse", "lines"]
    receive = paths["/api/v1/purchase-orders/{po_id}/receive"]["post"]
    assert "quarantine" in receive["requestBody"]["content"]["application/json"]["schema"]["properties"]["lines"][
        "items"]["properties"]
    assert {"/api/v1/purchase-orders/{po_id}", "/api/v1/purchase-orders/{po_id}/send",
            "/api/v1/purchase-orders/{po_id}/shipments"} <= set(paths)


JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) |
                    st.text(max_size=12) | st.sampled_from(["MUG", "CAP", "ACME", "EAST", "1e400", "-0", "2026-02-30"]),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["supplier", "warehouse", "lines", "sku", "qty", "unit_cost", "quarantine",
                                         "note", "expected_date", "reference"]) | st.text(max_size=6), inner, max_size=5),
                    max_leaves=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=JSON)
def test_no_body_however_malformed_gets_a_500(client, buyer, acme, body):
    for path in ("/api/v1/purchase-orders", "/api/v1/purchase-orders/1/receive", "/api/v1/purchase-orders/1/shipments"):
        response = client.post(path, json=body, headers=buyer)
        assert response.status_code < 500, (path, body)
        assert response.status_code < 300 or "error" in response.json, (path, body)
