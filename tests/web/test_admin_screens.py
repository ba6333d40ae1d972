"""The administration screens: every page renders whole and as its fragment, and refuses other roles."""
from __future__ import annotations

import pytest

from app.services import outbox
from app.services.events import record_event

PAGES = ["/admin/users", "/admin/users/new", "/admin/tokens", "/admin/audit", "/admin/webhooks", "/admin/webhooks/new",
         "/admin/deliveries", "/admin/dead-letters", "/admin/jobs", "/admin/jobs/history", "/admin/settings",
         "/admin/master-data", "/admin/skus/new"]


@pytest.fixture()
def admin(login_as, world):
    return login_as("admin")


def _detail_pages(world, admin):
    subscription, _secret = outbox.create_subscription("Shop", "http://127.0.0.1:9/hook", "order.*")
    record_event("order.received", "order", "SO-1", {"order": "SO-1"})
    from app.extensions import db
    db.session.commit()
    delivery = outbox.delivery_search(outbox.DeliveryFilters()).items[0]
    return [f"/admin/users/{admin.id}", f"/admin/skus/{world.skus['MUG'].id}",
            f"/admin/warehouses/{world.warehouses['EAST'].id}", f"/admin/channels/{world.channels['WEB'].id}",
            f"/admin/webhooks/{subscription.id}", f"/admin/deliveries/{delivery.id}",
            f"/admin/audit/skus/{world.skus['MUG'].id}"]


def test_every_admin_page_renders_for_an_admin(client, admin, world):
    for url in PAGES + _detail_pages(world, admin):
        response = client.get(url)
        assert response.status_code == 200, (url, response.data[:300])
        assert b"<html" in response.data and b"Traceback" not in response.data


def test_list_pages_answer_htmx_with_only_their_fragment(client, admin, world):
    for url, root in (("/admin/users?q=adm", b'id="results"'), ("/admin/tokens", b'id="results"'),
                      ("/admin/audit?table=skus", b'id="results"'), ("/admin/deliveries", b'id="results"'),
                      ("/admin/dead-letters", b'id="results"'), ("/admin/jobs", b'id="jobs"'),
                      ("/admin/jobs/history", b'id="results"'), ("/admin/master-data?q=MUG", b'id="skus"')):
        response = client.get(url, headers={"HX-Request": "true"})
        assert response.status_code == 200, url
        assert response.data.lstrip().startswith(b"<div " + root), (url, response.data[:120])
        assert b"<html" not in response.data


@pytest.mark.parametrize("role", ["retail", "supervisor", "procurement", "warehouse"])
def test_other_roles_are_refused_the_admin_screens(client, login_as, role):
    login_as(role)
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/audit").status_code == 403


def test_the_admin_nav_lists_every_admin_screen(client, admin):
    body = client.get("/admin/users").get_data(as_text=True)
    for label in ("Users", "Master data", "Settings", "Audit log", "Webhooks", "Scheduled jobs"):
        assert f">{label}</a>" in body


def _admin_rules(app):
    import re
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin.") or rule.endpoint == "api.list_events":
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield re.sub(r"<(?:[^:>]+:)?[^>]+>", "1", rule.rule), method, rule.endpoint


def test_every_admin_route_refuses_the_anonymous_user(app, client):
    for url, method, endpoint in _admin_rules(app):
        response = client.open(url, method=method)
        if endpoint.startswith("api."):
            assert response.status_code == 401, (url, method)
        else:
            assert response.status_code == 302 and "/login" in response.headers["Location"], (url, method)


@pytest.mark.parametrize("role", ["retail", "warehouse", "supervisor", "procurement", "finance", "returns"])
def test_every_admin_route_refuses_every_other_role(app, client, login_as, role):
    login_as(role)
    for url, method, endpoint in _admin_rules(app):
        if endpoint.startswith("admin."):
            assert client.open(url, method=method).status_code == 403, (role, url, method)
