"""The supervisor's routing screens."""
from __future__ import annotations

from app.domain.inventory import Cause
from app.services import inventory, orders, routing
from app.services.settings import set_setting
from tests.factories import make_rate_tables, order_draft


def _waiting_order(world):
    make_rate_tables(world)
    set_setting("orders.allocate_on_capture", False)
    inventory.receive_stock(world.skus["MUG"].id, world.bins["W0-1"].id, 4, cause=Cause("po", 1))
    return orders.capture_order("WEB", order_draft("S1", [("MUG", 1)]), source="api").order


def test_the_routing_page_offers_a_run_and_shows_history(client, login_as, world):
    login_as("supervisor")
    page = client.get("/routing")
    assert page.status_code == 200 and b"Start routing run" in page.data and b"No routing runs yet" in page.data


def test_a_bad_time_limit_returns_the_form_with_422(client, login_as, world):
    login_as("supervisor")
    response = client.post("/routing/runs", data={"time_limit_s": "999"}, headers={"HX-Request": "true"})
    assert response.status_code == 422 and b"1 to 300 seconds" in response.data and b"<html" not in response.data


def test_a_solved_run_shows_saving_load_and_each_orders_explanation(client, login_as, world):
    order = _waiting_order(world)
    run = routing.execute_run(routing.create_run(time_limit_s=3, auto_apply=False).id)
    login_as("supervisor")
    page = client.get(f"/routing/runs/{run.id}").data.decode()
    for text in ("Saving vs baseline", "Load per warehouse", order.number, "Apply plan", run.decisions[0].explanation[:20]):
        assert text in page
    applied = client.post(f"/routing/runs/{run.id}/apply", headers={"HX-Request": "true"})
    assert applied.status_code == 204 and applied.headers["HX-Redirect"].endswith(f"/routing/runs/{run.id}")
    assert "routed 1 of 1 orders" in client.get(f"/routing/runs/{run.id}").data.decode()


def test_polling_a_finished_run_refreshes_the_page(client, login_as, world):
    _waiting_order(world)
    run = routing.execute_run(routing.create_run(time_limit_s=3, auto_apply=False).id)
    login_as("supervisor")
    response = client.get(f"/routing/runs/{run.id}?poll=1", headers={"HX-Request": "true"})
    assert response.headers.get("HX-Refresh") == "true"


def test_discarding_a_plan_changes_no_order(client, login_as, world):
    order = _waiting_order(world)
    run = routing.execute_run(routing.create_run(time_limit_s=3, auto_apply=False).id)
    login_as("supervisor")
    client.post(f"/routing/runs/{run.id}/discard")
    assert routing.get_run(run.id).status == "discarded"
    assert orders.get_order(order.id).status == "ready"
