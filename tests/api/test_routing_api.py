"""Routing runs over the JSON API."""
from __future__ import annotations

import time

from app.domain.inventory import Cause
from app.services import inventory, orders
from app.services.people import create_token
from app.services.settings import set_setting
from tests.api import bearer
from tests.factories import make_rate_tables, order_draft


def test_a_run_started_over_the_api_finishes_with_decisions(client, make_user, world):
    make_rate_tables(world)
    set_setting("orders.allocate_on_capture", False)
    inventory.receive_stock(world.skus["MUG"].id, world.bins["E0-1"].id, 4, cause=Cause("po", 1))
    orders.capture_order("WEB", order_draft("A1", [("MUG", 2)]), source="api")
    make_user("supervisor", "grace")
    headers = bearer(create_token("grace"))
    started = client.post("/api/v1/routing/runs", json={"time_limit_s": 3, "auto_apply": True}, headers=headers)
    assert started.status_code == 201
    run_id = started.json["id"]
    for _ in range(600):
        body = client.get(f"/api/v1/routing/runs/{run_id}", headers=headers).json
        if body["status"] not in ("queued", "running", "applying"):
            break
        time.sleep(0.1)
    assert body["status"] == "applied"
    assert body["decisions"][0]["warehouses"] == ["EAST"] and body["decisions"][0]["explanation"]
    assert body["objective"] is not None and body["baseline_cost"] is not None


def test_malformed_run_requests_get_clear_4xx(client, make_user, world):
    make_user("supervisor", "grace")
    headers = bearer(create_token("grace"))
    for body in ([1, 2], {"time_limit_s": "ten"}, {"nonsense": 1}, {"warehouse": "NOPE"}, {"time_limit_s": 0}):
        response = client.post("/api/v1/routing/runs", json=body, headers=headers)
        assert 400 <= response.status_code < 500 and response.json["error"], body
    assert client.get("/api/v1/routing/runs/999", headers=headers).status_code == 404
