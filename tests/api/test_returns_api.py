"""The returns API: open, list, read, receive, inspect, refund, decide, issue, pay; malformed bodies are 4xx, never 500."""
from __future__ import annotations

import jsonschema
import pytest

from app.api.returns import OPEN_SCHEMA
from app.services.integrity import ledger_problems
from app.services.people import create_token
from tests.api import bearer
from tests.services.test_returns import shipped_order, stocked  # noqa: F401  (fixture)



@pytest.fixture()
def tokens(make_user, stocked):
    make_user("returns", "sam")
    make_user("finance", "hannah")
    make_user("warehouse", "tom")
    return {"returns": create_token("sam"), "finance": create_token("hannah"), "warehouse": create_token("tom")}


def test_a_return_runs_end_to_end_over_the_api(client, tokens):
    order = shipped_order()
    body = {"order": order.number, "lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}]}
    jsonschema.validate(body, OPEN_SCHEMA)
    opened = client.post("/api/v1/returns", json=body, headers=bearer(tokens["returns"]))
    assert opened.status_code == 201, opened.get_json()
    rma = opened.get_json()
    assert rma["status"] == "authorised" and rma["retailer_pays_label"] and rma["lines"][0]["expected"] == 1
    listed = client.get("/api/v1/returns?status=authorised", headers=bearer(tokens["finance"])).get_json()
    assert listed["total"] == 1 and listed["items"][0]["number"] == rma["number"] and listed["pages"] == 1
    received = client.post(f"/api/v1/returns/{rma['id']}/receive", json={"lines": [{"sku": "MUG", "qty": 1}]},
                           headers=bearer(tokens["returns"]))
    assert received.status_code == 200 and received.get_json()["status"] == "received"
    inspected = client.post(f"/api/v1/returns/{rma['id']}/inspect",
                            json={"lines": [{"sku": "MUG", "disposition": "vendor_claim", "defect": "no power"}]},
                            headers=bearer(tokens["returns"]))
    assert inspected.status_code == 200 and inspected.get_json()["lines"][0]["units"][0]["disposition"] == "vendor_claim"
    refund = client.post(f"/api/v1/returns/{rma['id']}/refund", json={}, headers=bearer(tokens["returns"]))
    assert refund.status_code == 201 and refund.get_json()["total"] == "60.00"
    refund_id = refund.get_json()["id"]
    issued = client.post(f"/api/v1/returns/refunds/{refund_id}/issue", headers=bearer(tokens["returns"]))
    assert issued.status_code == 200 and issued.get_json()["status"] == "issued"
    paid = client.post(f"/api/v1/returns/refunds/{refund_id}/pay", json={"reference": "BACS-9"},
                       headers=bearer(tokens["returns"]))
    assert paid.get_json()["status"] == "paid"
    final = client.get(f"/api/v1/returns/{rma['id']}", headers=bearer(tokens["returns"])).get_json()
    assert final["status"] == "closed" and [s["to"] for s in final["timeline"] if s["to"]][-1] == "closed"
    assert ledger_problems() == []


def test_finance_decides_a_big_refund_over_the_api_and_nobody_decides_their_own(client, tokens, make_user):
    order = shipped_order(lines=(("TEE-M", 2),), price="150.00")
    rma = client.post("/api/v1/returns", json={"order": order.id, "lines": [{"sku": "TEE-M", "qty": 2, "reason": "defective"}]},
                      headers=bearer(tokens["returns"])).get_json()
    client.post(f"/api/v1/returns/{rma['id']}/receive", json={"lines": [{"sku": "TEE-M", "qty": 2}]}, headers=bearer(tokens["returns"]))
    client.post(f"/api/v1/returns/{rma['id']}/inspect", json={"lines": [{"sku": "TEE-M", "disposition": "restock"}]},
                headers=bearer(tokens["returns"]))
    refund = client.post(f"/api/v1/returns/{rma['id']}/refund", json={}, headers=bearer(tokens["returns"])).get_json()
    assert refund["status"] == "pending_approval"
    refused = client.post(f"/api/v1/returns/refunds/{refund['id']}/decide", json={"approve": True},
                          headers=bearer(tokens["returns"]))
    assert refused.status_code == 403
    approved = client.post(f"/api/v1/returns/refunds/{refund['id']}/decide", json={"approve": True, "note": "ok"},
                           headers=bearer(tokens["finance"]))
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    again = client.post(f"/api/v1/returns/refunds/{refund['id']}/decide", json={"approve": False, "note": "x"},
                        headers=bearer(tokens["finance"]))
    assert again.status_code == 409


MALFORMED_OPEN = [
    ("not json", 422), ([1, 2], 422), ({}, 422), ({"order": {"a": 1}, "lines": []}, 422),
    ({"order": "SO-999999", "lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}]}, 404),
    ({"order": "ORDER", "lines": "all"}, 422), ({"order": "ORDER", "lines": [None]}, 422),
    ({"order": "ORDER", "lines": [{"sku": "MUG", "qty": "1", "reason": "defective"}]}, 422),
    ({"order": "ORDER", "lines": [{"sku": "MUG", "qty": 1, "reason": "bored"}]}, 422),
    ({"order": "ORDER", "lines": [{"sku": "MUG", "qty": True, "reason": ["defective"]}]}, 422),
    ({"order": "ORDER", "lines": [{"sku": ["MUG"], "qty": 1, "reason": "defective"}]}, 422),
    ({"order": "ORDER", "lines": [{"sku": "MUG", "qty": 10 ** 9, "reason": "defective"}]}, 422),
    ({"order": "ORDER", "lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}], "note": 5}, 422),
]


@pytest.mark.parametrize("body,status", MALFORMED_OPEN)
def test_malformed_bodies_to_open_an_rma_are_4xx_and_open_nothing(client, tokens, body, status):
    order = shipped_order()
    if isinstance(body, dict) and body.get("order") == "ORDER":
        body = {**body, "order": order.number}
    kwargs = {"data": body, "content_type": "application/json"} if isinstance(body, str) else {"json": body}
    response = client.post("/api/v1/returns", headers=bearer(tokens["returns"]), **kwargs)
    assert response.status_code == status, response.get_json()
    answer = response.get_json()
    assert answer["error"] and answer["message"]
    assert client.get("/api/v1/returns", headers=bearer(tokens["returns"])).get_json()["total"] == 0


@pytest.mark.parametrize("path,body", [
    ("receive", {"lines": [{"sku": "MUG", "qty": 0}]}), ("receive", {"lines": [{"sku": 5, "qty": 1}]}),
    ("receive", {"lines": {"sku": "MUG"}}), ("receive", {"lines": [{"sku": "NOPE", "qty": 1}]}), ("receive", []),
    ("inspect", {"lines": [{"sku": "MUG", "disposition": "burn"}]}), ("inspect", {"lines": [["MUG"]]}),
    ("inspect", {"lines": [{"sku": "MUG", "disposition": ["restock"]}]}),
    ("refund", {"amounts": {"x": "1.00"}}), ("refund", {"restocking_fee": "lots"}), ("refund", {"amounts": []}),
])
def test_malformed_receipts_inspections_and_refunds_are_4xx(client, tokens, path, body):
    order = shipped_order()
    rma = client.post("/api/v1/returns", json={"order": order.number, "lines": [{"sku": "MUG", "qty": 1, "reason": "defective"}]},
                      headers=bearer(tokens["returns"])).get_json()
    response = client.post(f"/api/v1/returns/{rma['id']}/{path}", json=body, headers=bearer(tokens["returns"]))
    assert 400 <= response.status_code < 500, response.get_json()
    assert response.get_json()["error"]


def test_roles_and_unknown_ids_are_refused_cleanly(client, tokens):
    assert client.post("/api/v1/returns", json={}, headers=bearer(tokens["warehouse"])).status_code == 403
    assert client.get("/api/v1/returns/999", headers=bearer(tokens["returns"])).status_code == 404
    assert client.post("/api/v1/returns/refunds/999/issue", headers=bearer(tokens["returns"])).status_code == 404
    assert client.get("/api/v1/returns?status=lost", headers=bearer(tokens["returns"])).status_code == 400
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/returns/{rma_id}/inspect" in spec["paths"]
