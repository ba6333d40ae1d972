"""Supervisor screens: plan, release, pick list with route map and PDF, count review; the wrong role is refused."""
from __future__ import annotations

from datetime import date, timedelta

from app.extensions import db as _db
from app.models.warehouse_ops import PickBatch, WavePlan
from tests.services.test_carriers import make_boxes, make_rate_tables, place_order, put_stock


def _waiting(world):
    make_rate_tables(world)
    make_boxes()
    put_stock(world, "E1-1", "MUG", 20)
    put_stock(world, "E2-2", "TEE-M", 20)
    for n in range(3):
        place_order(f"P{n}", [("MUG", 1), ("TEE-M", 1)])


def test_the_plan_screen_shows_shipments_by_cutoff_and_plans_and_releases_a_wave(client, login_as, world):
    _waiting(world)
    login_as("supervisor")
    screen = client.get("/waves?warehouse=EAST")
    assert screen.status_code == 200 and b"Waiting for a wave" in screen.data
    assert b"Tracked 48" in screen.data or b"Next day" in screen.data  # which one keeps the promise depends on the day
    tomorrow = (date.today() + timedelta(days=1)).isoformat()  # a whole shift ahead, whatever the clock says
    planned = client.post("/waves/plan", data={"warehouse": "EAST", "mode": "max_on_time", "pickers": "2",
                                               "day": tomorrow})
    assert planned.status_code == 302
    plan = _db.session.query(WavePlan).one()
    detail = client.get(f"/waves/plans/{plan.id}")
    assert detail.status_code == 200 and b"<svg" in detail.data and b"Release" in detail.data
    wave = next(w for w in plan.waves if w.members)
    assert client.post(f"/waves/{wave.id}/release").status_code == 302
    batch = _db.session.query(PickBatch).one()
    shown = client.get(f"/waves/batches/{batch.id}")
    assert shown.status_code == 200 and b"route-map" in shown.data and b"S-shape" in shown.data
    for size in ("A4", "Letter"):
        pdf = client.get(f"/waves/batches/{batch.id}/pick-list.pdf?size={size}")
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_bad_plan_input_comes_back_as_the_form_with_422(client, login_as, world):
    _waiting(world)
    login_as("supervisor")
    response = client.post("/waves/plan", data={"warehouse": "EAST", "mode": "max_on_time", "pickers": "two"})
    assert response.status_code == 422 and b"whole numbers" in response.data
    fragment = client.post("/waves/plan", data={"warehouse": "EAST", "mode": "nope"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 422 and b"<html" not in fragment.data and b'id="plans"' in fragment.data


def test_a_warehouse_associate_cannot_open_the_supervisor_screens(client, login_as, world):
    login_as("warehouse")
    assert client.get("/waves").status_code == 403
    assert client.get("/waves/counts").status_code == 403


def test_the_plan_list_is_a_fragment_for_htmx(client, login_as, world):
    login_as("supervisor")
    response = client.get("/waves?warehouse=EAST", headers={"HX-Request": "true"})
    assert response.status_code == 200 and b'id="plans"' in response.data and b"<html" not in response.data


def test_count_review_refuses_the_counter_and_lets_another_supervisor_approve(client, login_as, world, make_user):
    from app.services import counts
    put_stock(world, "E1-1", "MUG", 10)
    boss = login_as("supervisor")
    task, = counts.create_count_tasks(world.warehouses["EAST"].id, location_codes=["E1-1"])
    counts.submit_count(task.id, {world.skus["MUG"].id: 3}, user_id=boss.id)
    page = client.get("/waves/counts?warehouse=EAST&status=review")
    assert task.number.encode() in page.data
    refused = client.post(f"/waves/counts/{task.id}/approve")
    assert refused.status_code == 403 and b"another supervisor" in refused.data
    other = make_user("supervisor", "other-boss")
    client.post("/logout")
    client.post("/login", data={"username": other.username, "password": "correct-horse-9"})
    assert client.post(f"/waves/counts/{task.id}/approve").status_code == 302
    assert counts.get_count(task.id).status == "adjusted"
