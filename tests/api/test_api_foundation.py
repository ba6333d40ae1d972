"""Tokens, errors and the catalogue over the JSON API."""
from __future__ import annotations

from app.domain.inventory import Cause
from app.services import inventory
from app.services.people import create_token, revoke_token
from tests.api import bearer



def test_the_create_token_command_prints_a_token_the_api_accepts(app, client, make_user, world):
    make_user("retail", "priya")
    result = app.test_cli_runner().invoke(args=["create-token", "priya"])
    token = result.output.strip()
    response = client.get("/api/v1/skus?q=MUG", headers=bearer(token))
    assert response.status_code == 200
    assert response.json["total"] == 1 and response.json["items"][0]["code"] == "MUG"
    assert set(response.json) == {"items", "page", "pages", "total"}


def test_the_create_token_command_names_an_unknown_user(app, db):
    result = app.test_cli_runner().invoke(args=["create-token", "nobody"])
    assert result.exit_code != 0 and "No user named nobody" in result.output


def test_a_missing_or_bad_token_gets_401_json(client, db):
    for headers in ({}, bearer("keel_wrong"), {"Authorization": "Basic abc"}):
        response = client.get("/api/v1/skus", headers=headers)
        assert response.status_code == 401 and response.json["error"] == "unauthorized"


def test_a_revoked_token_stops_working(client, make_user, world):
    from app.models import ApiToken
    from app.extensions import db
    make_user("retail", "priya")
    token = create_token("priya")
    revoke_token(db.session.query(ApiToken).one().id)
    assert client.get("/api/v1/skus", headers=bearer(token)).status_code == 401


def test_inventory_reports_each_warehouse_and_available_to_sell(client, make_user, world):
    make_user("retail", "priya")
    token = create_token("priya")
    inventory.receive_stock(world.skus["TEE-M"].id, world.bins["W0-1"].id, 6, cause=Cause("po", 1))
    body = client.get("/api/v1/inventory?sku=TEE-M", headers=bearer(token)).json
    assert body["warehouses"] == [{"warehouse": "WEST", "available": 6, "allocated": 0, "picked": 0, "in_transit": 0,
                                   "quarantined": 0, "returned": 0, "damaged": 0}]
    assert {a["channel"]: a["available_to_sell"] for a in body["available_to_sell"]} == {"AMZ": 6, "WEB": 4}
    assert client.get("/api/v1/inventory?sku=NOPE", headers=bearer(token)).status_code == 404
    assert client.get("/api/v1/inventory", headers=bearer(token)).status_code == 400


def test_openapi_describes_every_api_route(app, client, db):
    spec = client.get("/api/v1/openapi.json").json
    documented = {path for path in spec["paths"]}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            assert rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}") in documented


def test_an_unknown_api_path_is_a_json_404(client, db):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and "error" in response.json
