"""The event feed: oldest first after an id, filtered by type, paged by a cursor; bad parameters are 400s."""
from __future__ import annotations

import pytest

from app.extensions import db as database
from app.services.events import record_event
from app.services.people import create_token
from tests.api import bearer


@pytest.fixture()
def headers(make_user):
    make_user("retail", "priya")
    return bearer(create_token("priya", scopes="read"))


def emit(*types: str) -> list[int]:
    events = [record_event(t, "order", f"SO-{i}", {"n": i}) for i, t in enumerate(types)]
    database.session.commit()
    return [e.id for e in events]


def test_the_feed_answers_events_oldest_first_after_an_id(client, headers):
    ids = emit("order.received", "order.allocated", "shipment.shipped")
    body = client.get("/api/v1/events", headers=headers).json
    assert [e["id"] for e in body["items"]] == ids
    assert body["items"][0] == {"id": ids[0], "type": "order.received", "subject_type": "order", "subject_id": "SO-0",
                                "payload": {"n": 0}, "created_at": body["items"][0]["created_at"]}
    assert body["next_after"] == ids[-1] and body["total"] == 3
    after = client.get(f"/api/v1/events?after={ids[0]}", headers=headers).json
    assert [e["id"] for e in after["items"]] == ids[1:]


def test_following_the_cursor_reads_every_event_once(client, headers):
    ids = emit(*["order.allocated"] * 7)
    seen, after = [], 0
    while True:
        body = client.get(f"/api/v1/events?after={after}&limit=3", headers=headers).json
        if not body["items"]:
            break
        seen += [e["id"] for e in body["items"]]
        after = body["next_after"]
    assert seen == ids
    assert client.get(f"/api/v1/events?after={after}", headers=headers).json["next_after"] == after


def test_the_feed_filters_by_type_and_pattern(client, headers):
    emit("order.received", "order.allocated", "shipment.shipped", "inventory.available_changed")
    only = client.get("/api/v1/events?type=shipment.shipped", headers=headers).json
    assert [e["type"] for e in only["items"]] == ["shipment.shipped"]
    both = client.get("/api/v1/events?type=order.*,inventory.*", headers=headers).json
    assert [e["type"] for e in both["items"]] == ["order.received", "order.allocated", "inventory.available_changed"]


@pytest.mark.parametrize("query", ["after=-1", "after=abc", "limit=0", "limit=501", "limit=2.5", "type=DROP TABLE",
                                   "after=99999999999999999999999"])
def test_bad_parameters_are_a_400_naming_the_problem(client, headers, query):
    response = client.get(f"/api/v1/events?{query}", headers=headers)
    assert response.status_code == 400 and response.json["error"] == "invalid" and response.json["message"]


def test_the_feed_needs_a_token_and_a_role_that_may_read_it(client, make_user, db):
    assert client.get("/api/v1/events").status_code == 401
    make_user("warehouse", "tom")
    token = create_token("tom")
    assert client.get("/api/v1/events", headers=bearer(token)).status_code == 403
