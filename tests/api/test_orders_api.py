"""The orders API: capture (idempotent), search, read, cancel; every malformed request a clear 4xx."""
from __future__ import annotations

import jsonschema
import pytest
from sqlalchemy import func, select

from app.channels.api_order import ORDER_SCHEMA
from app.domain.inventory import Cause
from app.extensions import db as database
from app.models.orders import InboundDelivery, Order
from app.services import inventory
from app.services.integrity import ledger_problems
from app.services.people import create_token
from tests.api import bearer



@pytest.fixture()
def token(make_user, world):
    make_user("retail", "priya")
    inventory.receive_stock(world.skus["TEE-M"].id, world.bins["E0-1"].id, 10, cause=Cause("po", 1))
    inventory.receive_stock(world.skus["MUG"].id, world.bins["W0-1"].id, 4, cause=Cause("po", 1))
    return create_token("priya")


def order_body(**changes) -> dict:
    body = {"channel": "WEB", "external_id": "WEB-1001",
            "lines": [{"sku": "TEE-M", "qty": 2, "unit_price": "18.00", "tax": "6.00"},
                      {"sku": "MUG", "qty": 1, "unit_price": "12.00"}],
            "ship_to": {"name": "Amelia Hughes", "address1": "14 Orchard Lane", "city": "Bath", "postcode": "BA1 2QT",
                        "country": "GB"},
            "customer_email": "amelia@example.co.uk", "priority": 2, "sla_days": 1}
    body.update(changes)
    return body


def post(client, token, body, **kwargs):
    return client.post("/api/v1/orders", json=body, headers=bearer(token), **kwargs)


def test_posting_an_order_answers_201_with_lines_status_and_shipments(client, token):
    response = post(client, token, order_body())
    assert response.status_code == 201, response.json
    body = response.json
    assert body["number"].startswith("SO-") and body["status"] == "allocated"
    assert [(l["sku"], l["qty"], l["unit_price"], l["tax"]) for l in body["lines"]] == [
        ("TEE-M", 2, "18.00", "6.00"), ("MUG", 1, "12.00", "0.00")]
    assert body["total"] == "54.00" and body["currency"] == "GBP"
    assert sorted(s["warehouse"] for s in body["shipments"]) == ["EAST", "WEST"]
    assert body["sla_days"] == 1 and body["priority"] == 2


def test_the_same_channel_and_external_id_again_answers_200_with_the_same_order(client, token):
    first = post(client, token, order_body())
    again = post(client, token, order_body())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["id"] == first.json["id"]
    assert database.session.scalar(select(func.count(Order.id))) == 1
    assert ledger_problems() == []


def test_the_raw_body_of_every_request_is_kept(client, token):
    post(client, token, order_body())
    post(client, token, {"channel": "WEB"})
    statuses = sorted(d.status for d in database.session.scalars(select(InboundDelivery)))
    assert statuses == ["processed", "rejected"]


MALFORMED = [
    ("not json", b"{this is not json", "body"),
    ("an array", b"[1, 2]", "body"),
    ("a string", b'"order"', "body"),
    ("empty", b"", "body"),
    ("no channel", {k: v for k, v in order_body().items() if k != "channel"}, "channel"),
    ("no lines", {k: v for k, v in order_body().items() if k != "lines"}, "lines"),
    ("empty lines", order_body(lines=[]), "lines"),
    ("no ship_to", {k: v for k, v in order_body().items() if k != "ship_to"}, "ship_to"),
    ("lines not a list", order_body(lines={"sku": "MUG"}), "lines"),
    ("qty as text", order_body(lines=[{"sku": "MUG", "qty": "two", "unit_price": "1.00"}]), "lines[0].qty"),
    ("negative qty", order_body(lines=[{"sku": "MUG", "qty": -1, "unit_price": "1.00"}]), "lines[0].qty"),
    ("zero qty", order_body(lines=[{"sku": "MUG", "qty": 0, "unit_price": "1.00"}]), "lines[0].qty"),
    ("fractional qty", order_body(lines=[{"sku": "MUG", "qty": 1.5, "unit_price": "1.00"}]), "lines[0].qty"),
    ("boolean qty", order_body(lines=[{"sku": "MUG", "qty": True, "unit_price": "1.00"}]), "lines[0].qty"),
    ("negative price", order_body(lines=[{"sku": "MUG", "qty": 1, "unit_price": "-1.00"}]), "lines[0].unit_price"),
    ("price as words", order_body(lines=[{"sku": "MUG", "qty": 1, "unit_price": "ten"}]), "lines[0].unit_price"),
    ("line not an object", order_body(lines=["MUG"]), "lines[0]"),
    ("unknown channel", order_body(channel="NOPE"), "channel"),
    ("channel a number", order_body(channel=7), "channel"),
    ("unknown SKU", order_body(lines=[{"sku": "NOPE-1", "qty": 1, "unit_price": "1.00"}]), "lines[0].sku"),
    ("bad country", order_body(ship_to={**order_body()["ship_to"], "country": "Britain"}), "ship_to.country"),
    ("blank name", order_body(ship_to={**order_body()["ship_to"], "name": "  "}), "ship_to.name"),
    ("huge external id", order_body(external_id="x" * 100_000), "external_id"),
    ("huge sku", order_body(lines=[{"sku": "S" * 5000, "qty": 1, "unit_price": "1.00"}]), "lines[0].sku"),
    ("priority too high", order_body(priority=99), "priority"),
    ("sla as text", order_body(sla_days="soon"), "sla_days"),
    ("bad placed_at", order_body(placed_at="yesterday"), "placed_at"),
    ("bad currency", order_body(currency="pounds"), "currency"),
]


@pytest.mark.parametrize("case, body, field", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_order_gets_a_4xx_json_error_naming_the_field_and_captures_nothing(client, token, case, body, field):
    if isinstance(body, bytes):
        response = client.post("/api/v1/orders", data=body, headers={**bearer(token), "Content-Type": "application/json"})
    else:
        response = post(client, token, body)
    assert 400 <= response.status_code < 500, (case, response.status_code)
    assert response.is_json and response.json["error"] and response.json["message"]
    assert field in response.json.get("fields", {}), (case, response.json)
    assert database.session.scalar(select(func.count(Order.id))) == 0
    assert ledger_problems() == []


def test_a_body_over_the_size_limit_is_refused_with_413(client, token):
    response = client.post("/api/v1/orders", data=b"{" + b" " * 1_100_000 + b"}",
                           headers={**bearer(token), "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json["error"] == "too_large"


def test_a_read_only_token_may_not_post_orders(client, token):
    read_only = create_token("priya", scopes="read")
    assert client.post("/api/v1/orders", json=order_body(), headers=bearer(read_only)).status_code == 403


def test_a_warehouse_token_may_not_capture_orders(client, token, make_user):
    make_user("warehouse", "tom")
    assert post(client, create_token("tom"), order_body()).status_code == 403


def test_orders_are_searched_by_number_external_id_customer_and_sku(client, token):
    first = post(client, token, order_body()).json
    post(client, token, order_body(external_id="WEB-1002", lines=[{"sku": "CAP", "qty": 1, "unit_price": "5.00"}],
                                   ship_to={**order_body()["ship_to"], "name": "Oliver Grant"}, customer_name="Oliver Grant"))
    def found(query):
        return [o["external_id"] for o in client.get(f"/api/v1/orders?{query}", headers=bearer(token)).json["items"]]
    assert found(f"q={first['number']}") == ["WEB-1001"]
    assert found("q=WEB-1002") == ["WEB-1002"]
    assert found("q=oliver") == ["WEB-1002"]
    assert found("q=CAP") == ["WEB-1002"]
    assert found("status=backordered") == ["WEB-1002"]
    assert found("channel=AMZ") == []
    listing = client.get("/api/v1/orders", headers=bearer(token)).json
    assert set(listing) == {"items", "page", "pages", "total"} and listing["total"] == 2


@pytest.mark.parametrize("query", ["status=lost", "page=abc&status=nope"])
def test_a_bad_status_filter_is_400(client, token, query):
    response = client.get(f"/api/v1/orders?{query}", headers=bearer(token))
    assert response.status_code == 400 and response.json["error"] == "invalid"


def test_bad_page_and_dates_are_ignored_rather_than_500(client, token):
    response = client.get("/api/v1/orders?page=-4&from=notadate&to=2025-13-45", headers=bearer(token))
    assert response.status_code == 200


def test_get_order_shows_shipments_with_warehouses_and_bins(client, token):
    created = post(client, token, order_body()).json
    body = client.get(f"/api/v1/orders/{created['id']}", headers=bearer(token)).json
    east = next(s for s in body["shipments"] if s["warehouse"] == "EAST")
    assert east["lines"] == [{"sku": "TEE-M", "qty": 2, "bins": [{"bin": "E0-1", "qty": 2}]}]
    assert client.get("/api/v1/orders/999999", headers=bearer(token)).status_code == 404


def test_cancelling_releases_the_stock_and_cannot_be_done_twice(client, token, world):
    created = post(client, token, order_body()).json
    response = client.post(f"/api/v1/orders/{created['id']}/cancel", json={"reason": "customer called"},
                           headers=bearer(token))
    assert response.status_code == 200 and response.json["status"] == "cancelled"
    assert response.json["cancel_reason"] == "customer called"
    assert all(s["status"] == "cancelled" for s in response.json["shipments"])
    again = client.post(f"/api/v1/orders/{created['id']}/cancel", headers=bearer(token))
    assert again.status_code == 409 and again.json["error"] == "conflict"
    assert ledger_problems() == []


@pytest.mark.parametrize("body", [b"[1]", b"not json", b'{"reason": 5}'])
def test_a_malformed_cancel_body_is_4xx(client, token, body):
    created = post(client, token, order_body()).json
    response = client.post(f"/api/v1/orders/{created['id']}/cancel", data=body,
                           headers={**bearer(token), "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500 and response.is_json


def test_openapi_documents_the_orders_endpoints_with_their_schemas(client, db):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["paths"]["/api/v1/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"] == ORDER_SCHEMA
    assert "201" in spec["paths"]["/api/v1/orders"]["post"]["responses"]
    params = {p["name"] for p in spec["paths"]["/api/v1/orders"]["get"]["parameters"]}
    assert {"q", "status", "channel", "page"} <= params
    assert "/api/v1/orders/{order_id}" in spec["paths"] and "/api/v1/orders/{order_id}/cancel" in spec["paths"]


def test_the_response_matches_its_documented_schema(client, token):
    spec = client.get("/api/v1/openapi.json").json
    created = post(client, token, order_body()).json
    schema = spec["paths"]["/api/v1/orders/{order_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.validate(client.get(f"/api/v1/orders/{created['id']}", headers=bearer(token)).json, schema)
    listing = spec["paths"]["/api/v1/orders"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.validate(client.get("/api/v1/orders", headers=bearer(token)).json, listing)


def test_the_set_channel_secret_command_sets_the_secret_webhooks_are_checked_against(app, world):
    from app.models import Channel
    result = app.test_cli_runner().invoke(args=["set-channel-secret", "WEB", "a-long-new-secret"])
    assert result.exit_code == 0 and "WEB" in result.output
    database.session.expire_all()
    assert database.session.scalar(select(Channel.webhook_secret).where(Channel.code == "WEB")) == "a-long-new-secret"
    bad = app.test_cli_runner().invoke(args=["set-channel-secret", "NOPE", "a-long-new-secret"])
    assert bad.exit_code != 0 and "NOPE" in bad.output
    short = app.test_cli_runner().invoke(args=["set-channel-secret", "WEB", "short"])
    assert short.exit_code != 0 and "8 to 200" in short.output


def test_openapi_describes_the_channel_list_and_the_answer_matches_it(client, token):
    spec = client.get("/api/v1/openapi.json").json
    schema = spec["paths"]["/api/v1/channels"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    body = client.get("/api/v1/channels", headers=bearer(token)).json
    jsonschema.validate(body, schema)
    assert {c["code"]: c["type"] for c in body["items"]} == {"AMZ": "marketplace", "WEB": "shopify"}
