"""KPI screens, dashboards, exception queues, today on the floor and GET /api/v1/kpis."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.domain.roles import Role
from app.extensions import db as _db
from app.models.orders import OrderHold
from app.models.types import utcnow
from app.services import kpis, orders
from app.services.people import create_token
from tests.services.test_kpis import new_customer_order


@pytest.fixture()
def held(world, make_user):
    user = make_user("retail", "priya")
    order = new_customer_order("W1", [("MUG", 1)])
    orders.hold_order(order.id, reason="call the customer", user_id=user.id)
    return order


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_role_lands_on_a_dashboard_with_its_own_kpis_and_queues(client, login_as, world, role):
    login_as(role)
    kpis.take_snapshots()
    body = client.get("/").get_data(as_text=True)
    owned = kpis.kpis_owned_by(role)
    assert "Needs attention" in body
    for k in owned:
        assert f'data-kpi="{k.code}"' in body
    assert ("Stock value" in body) == (role in ("warehouse", "supervisor", "admin", "finance"))
    others = [k for k in kpis.registry() if k not in owned]
    assert all(f'data-kpi="{k.code}"' not in body for k in others)


def test_the_retail_dashboard_counts_its_held_orders(client, login_as, held):
    login_as("retail")
    body = client.get("/").get_data(as_text=True)
    assert "Orders on hold" in body and "See them" in body


def test_a_kpi_page_shows_its_definition_trend_and_records_and_pages_them_for_htmx(client, login_as, held):
    login_as("retail")
    kpis.backfill_snapshots(3)
    page = client.get("/kpis/backorder_rate").get_data(as_text=True)
    assert "Orders placed in the period" in page and 'class="chart line-chart"' not in page  # nothing measured yet
    hold = _db.session.query(OrderHold).one()
    hold.created_at, hold.released_at = utcnow() - timedelta(hours=5), utcnow() - timedelta(hours=2)
    _db.session.commit()
    kpis.take_snapshots()
    page = client.get("/kpis/exception_resolution_time").get_data(as_text=True)
    assert "line-chart" in page and "W1" not in page  # the order number is WEB-..., not the external id
    assert held.number in page and "3.0" in page
    fragment = client.get("/kpis/exception_resolution_time?page=1", headers={"HX-Request": "true"})
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="records">')
    assert client.get("/kpis/no_such_kpi").status_code == 404


def test_kpi_records_export_as_csv(client, login_as, held):
    login_as("retail")
    hold = _db.session.query(OrderHold).one()
    hold.created_at, hold.released_at = utcnow() - timedelta(hours=5), utcnow() - timedelta(hours=2)
    _db.session.commit()
    response = client.get("/kpis/exception_resolution_time/records.csv")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    lines = response.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0] == "Order or payload,Kind,Reason,Opened,Resolved,Hours"
    assert lines[1].startswith(f"{held.number},hold,manual,") and lines[1].endswith(",3.0")


def test_the_exception_overview_shows_every_queue_and_links_to_the_owners_screen(client, login_as, held):
    login_as("retail")
    body = client.get("/exception-queues").get_data(as_text=True)
    for code in ("holds", "payloads", "late_orders", "short_picks", "count_variances", "dead_letters"):
        assert f'data-queue="{code}"' in body
    assert 'href="/holds"' in body  # retail may open its holds screen
    queue = client.get("/exception-queues/holds").get_data(as_text=True)
    assert held.number in queue and "Work the queue" in queue
    assert client.get("/exception-queues/nope").status_code == 404
    csv = client.get("/exception-queues/holds/export.csv").get_data(as_text=True)
    assert held.number in csv
    assert "Orders on hold,retail,1," in client.get("/exception-queues.csv").get_data(as_text=True)


def test_a_role_that_may_not_open_the_owners_screen_gets_the_list_instead(client, login_as, held):
    login_as("warehouse")
    body = client.get("/exception-queues").get_data(as_text=True)
    assert 'href="/holds"' not in body and 'href="/exception-queues/holds"' in body
    queue = client.get("/exception-queues/holds").get_data(as_text=True)
    assert held.number in queue and f'href="/orders/{held.id}"' not in queue


def test_today_on_the_floor_is_for_supervisors(client, login_as, world):
    new_customer_order("T1", [("MUG", 1)])
    login_as("supervisor")
    body = client.get("/operations").get_data(as_text=True)
    assert "Backlog against labour" in body and 'data-warehouse="EAST"' in body
    assert "Export CSV" in body
    csv = client.get("/operations/orders.csv").get_data(as_text=True)
    assert csv.lstrip("\ufeff").startswith("Warehouse,received,")


def test_the_api_lists_every_kpi_with_its_definition(client, make_user, world):
    make_user("finance", "hannah")
    headers = {"Authorization": f"Bearer {create_token('hannah')}"}
    body = client.get("/api/v1/kpis", headers=headers).json
    assert body["total"] == len(kpis.registry()) == len(body["items"])
    first = body["items"][0]
    assert {"code", "formula", "unit", "target", "direction", "owner", "value", "standing", "period"} <= set(first)
    mine = client.get("/api/v1/kpis?owner=finance", headers=headers).json["items"]
    assert {k["code"] for k in mine} == {"stock_variance", "cost_to_serve"}
    bad = client.get("/api/v1/kpis?owner=chef", headers=headers)
    assert bad.status_code == 400 and bad.json["error"] == "invalid"
    spec = client.get("/api/v1/openapi.json").json
    assert "owner" in str(spec["paths"]["/api/v1/kpis"]["get"]["parameters"])
