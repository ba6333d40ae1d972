"""What an admin does on the administration screens, end to end through the web layer."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.extensions import db as database
from app.models import ApiToken, Location, User
from app.models.webhooks import WebhookDelivery
from app.services import outbox, scheduling
from app.services.events import record_event
from app.services.people import authenticate
from app.services.settings import get_setting


@pytest.fixture()
def admin(login_as, world):
    return login_as("admin")


def test_creating_a_user_then_deactivating_them(app, client, admin):
    response = client.post("/admin/users/new", data={"username": "sam", "role": "returns", "full_name": "Sam Reid",
                                                      "email": "sam@example.com", "password": "tidal-Basin-42",
                                                      "confirm": "tidal-Basin-42"})
    assert response.status_code == 302
    sam = database.session.scalar(select(User).where(User.username == "sam"))
    assert sam.role == "returns" and sam.full_name == "Sam Reid"
    client.post(f"/admin/users/{sam.id}/active", data={"active": "0"})
    database.session.refresh(sam)
    assert sam.active is False
    assert authenticate("sam", "tidal-Basin-42") is None


def test_an_admin_cannot_lock_themselves_out(client, admin):
    client.post(f"/admin/users/{admin.id}/active", data={"active": "0"})
    assert "cannot deactivate yourself" in client.get(f"/admin/users/{admin.id}").get_data(as_text=True)
    client.post(f"/admin/users/{admin.id}/role", data={"role": "retail"})
    database.session.refresh(admin)
    assert admin.active and admin.role == "admin"


def test_a_mistyped_new_user_form_keeps_what_was_typed(client, admin):
    response = client.post("/admin/users/new", data={"username": "a b", "role": "retail", "email": "nope",
                                                     "password": "tidal-Basin-42", "confirm": "tidal-basin-42"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The two passwords differ" in body and 'value="nope"' in body and "letters, digits" in body


def test_a_token_is_shown_once_with_its_scopes(client, admin):
    response = client.post(f"/admin/users/{admin.id}/tokens", data={"label": "ERP sync", "scopes": ["read", "write"]})
    token = re.search(r'id="new-token">([^<]+)<', response.get_data(as_text=True)).group(1)
    row = database.session.scalar(select(ApiToken))
    assert row.scopes == "read write" and row.label == "ERP sync" and token.startswith(row.prefix)
    assert token not in client.get(f"/admin/users/{admin.id}").get_data(as_text=True)
    assert client.post(f"/admin/users/{admin.id}/tokens", data={"label": ""}).status_code == 422


def test_a_new_subscription_shows_its_secret_once(client, admin):
    response = client.post("/admin/webhooks/new", data={"name": "ERP", "url": "https://erp.example.com/keel",
                                                        "event_types": "order.* shipment.shipped", "active": "1"})
    assert response.status_code == 201
    secret = re.search(r'id="signing-secret">([^<]+)<', response.get_data(as_text=True)).group(1)
    subscription = outbox.subscriptions()[0]
    assert subscription.secret == secret
    assert secret not in client.get(f"/admin/webhooks/{subscription.id}").get_data(as_text=True)
    bad = client.post("/admin/webhooks/new", data={"name": "x", "url": "file:///etc/passwd", "event_types": "*"})
    assert bad.status_code == 422 and b"http:// or https://" in bad.data


def test_a_dead_letter_is_inspected_and_replayed_from_the_screen(client, admin):
    subscription, _ = outbox.create_subscription("ERP", "http://127.0.0.1:1/hook", "order.*")
    record_event("order.cancelled", "order", "SO-000042", {"order": "SO-000042", "reason": "customer"})
    database.session.commit()
    delivery = database.session.scalar(select(WebhookDelivery))
    delivery.status, delivery.attempts, delivery.last_error = "dead", 8, "ConnectionRefusedError: refused"
    database.session.commit()
    listing = client.get("/admin/dead-letters").get_data(as_text=True)
    assert "SO-000042" in listing and "ConnectionRefusedError" in listing
    detail = client.get(f"/admin/deliveries/{delivery.id}").get_data(as_text=True)
    assert "&#34;reason&#34;:&#34;customer&#34;" in detail or '"reason":"customer"' in detail
    assert client.post(f"/admin/deliveries/{delivery.id}/replay").status_code == 302
    database.session.refresh(delivery)
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert "No dead letters" in client.get("/admin/dead-letters").get_data(as_text=True)
    replayed = client.get(f"/admin/audit?table=webhook_deliveries").get_data(as_text=True)
    assert "Replay" in replayed and admin.username in replayed


def test_settings_and_ownership_are_saved_from_the_form(client, admin):
    shown = ["holds.velocity_hours", "holds.hold_country_mismatch"]
    response = client.post("/admin/settings", data={"shown": shown, "holds.velocity_hours": "abc"})
    assert response.status_code == 422 and b"A whole number" in response.data
    client.post("/admin/settings", data={"shown": shown, "holds.velocity_hours": "6"})
    assert get_setting("holds.velocity_hours") == 6 and get_setting("holds.hold_country_mismatch") is False
    client.post("/admin/ownership", data={"prices": ["finance"], "items": ["procurement"], "rules": []})
    assert get_setting("ownership.prices") == ["admin", "finance"]
    assert get_setting("ownership.channels") == ["admin"]
    assert "changed" in client.get("/admin/settings").get_data(as_text=True)


def test_a_channel_is_edited_and_its_secret_replaced(client, admin, world):
    web, east, west = world.channels["WEB"], world.warehouses["EAST"], world.warehouses["WEST"]
    form = {"name": "Web shop", "safety_buffer": "4", "sla_days": "1", "active": "1",
            "warehouse": [str(east.id), str(west.id)], f"rank_{east.id}": "2", f"rank_{west.id}": "1"}
    assert client.post(f"/admin/channels/{web.id}", data=form).status_code == 302
    database.session.refresh(web)
    assert web.name == "Web shop" and [w.code for w in web.warehouses] == ["WEST", "EAST"]
    response = client.post(f"/admin/channels/{web.id}/secret", data={"secret": ""})
    secret = re.search(r'id="channel-secret">([^<]+)<', response.get_data(as_text=True)).group(1)
    database.session.refresh(web)
    assert web.webhook_secret == secret and len(secret) >= 32
    assert client.post(f"/admin/channels/{web.id}/secret", data={"secret": "short"}).status_code == 422


def test_bins_are_added_and_taken_out_of_use(client, admin, world):
    east = world.warehouses["EAST"]
    assert client.post(f"/admin/warehouses/{east.id}/locations", data={"code": "e5-1", "aisle": "5", "level": "2",
                                                                        "position_m": "7.5"}).status_code == 302
    location = database.session.scalar(select(Location).where(Location.code == "E5-1"))
    assert (location.aisle, location.level, str(location.position_m)) == (5, 2, "7.5")
    duplicate = client.post(f"/admin/warehouses/{east.id}/locations", data={"code": "E5-1"})
    assert duplicate.status_code == 422 and b"already has a location" in duplicate.data
    client.post(f"/admin/locations/{location.id}/active", data={"active": "0"})
    database.session.refresh(location)
    assert location.active is False


def test_a_warehouse_form_names_each_bad_field(client, admin, world):
    east = world.warehouses["EAST"]
    response = client.post(f"/admin/warehouses/{east.id}", data={"name": "", "kind": "own", "country": "Britain",
                                                                 "timezone": "Mars/Olympus", "pickers_per_shift": "x",
                                                                 "units_per_picker_hour": "60", "shift_hours": "8",
                                                                 "handling_cost_per_unit": "0.40", "active": "1"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    for message in ("Required.", "two-letter country code", "time zone such as", "A whole number."):
        assert message in body


def test_the_job_list_shows_a_failed_run_and_its_message(app, client, admin):
    def broken(app):
        raise RuntimeError("carrier API unreachable")
    scheduling.run_recorded(app, "retry_labels", broken)
    body = client.get("/admin/jobs").get_data(as_text=True)
    assert "carrier API unreachable" in body and "Failed" in body
