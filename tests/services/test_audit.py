"""The audit log: every insert, update and delete, with who, when, through what, and the values before and after."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from app.domain.inventory import Cause
from app.extensions import db as database
from app.models import Sku, StockMove
from app.models.audit import AuditEntry
from app.models.events import Event
from app.services import audit, inventory
from app.services.people import create_token


def entries(table: str, record_id: object | None = None) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.table_name == table)
    if record_id is not None:
        stmt = stmt.where(AuditEntry.record_id == str(record_id))
    return list(database.session.scalars(stmt.order_by(AuditEntry.id)))


def test_a_sku_changed_on_the_admin_screen_records_who_and_the_values_before_and_after(client, login_as, world):
    admin = login_as("admin")
    mug = world.skus["MUG"]
    form = {"code": "MUG", "name": "Stoneware mug", "category": "Test", "gtin": mug.gtin, "length_cm": "10.0",
            "width_cm": "10.0", "height_cm": "5.0", "weight_kg": "0.300", "unit_cost": "4.2500", "price": "10.00",
            "active": "1"}
    assert client.post(f"/admin/skus/{mug.id}", data=form).status_code == 302
    [entry] = [e for e in entries("skus", mug.id) if e.action == "update"]
    assert entry.before == {"name": "Test item MUG", "unit_cost": "4.0000"}
    assert entry.after == {"name": "Stoneware mug", "unit_cost": "4.2500"}
    assert (entry.user_id, entry.username) == (admin.id, admin.username)
    assert entry.source == f"POST /admin/skus/{mug.id}"
    assert entry.at.tzinfo is not None


def test_an_order_captured_through_the_api_names_the_token_user_as_the_actor(client, make_user, world):
    user = make_user("retail", "priya")
    inventory.receive_stock(world.skus["MUG"].id, world.bins["W0-1"].id, 5, cause=Cause("po", 1))
    body = {"channel": "WEB", "external_id": "WEB-77", "lines": [{"sku": "MUG", "qty": 1, "unit_price": "12.00"}],
            "ship_to": {"name": "Ann", "address1": "1 Road", "city": "Bath", "postcode": "BA1 2QT", "country": "GB"}}
    response = client.post("/api/v1/orders", json=body, headers={"Authorization": f"Bearer {create_token('priya')}"})
    assert response.status_code == 201, response.json
    [created] = [e for e in entries("orders") if e.action == "insert"]
    assert (created.user_id, created.username, created.source) == (user.id, "priya", "POST /api/v1/orders")
    assert created.before is None and created.after["external_id"] == "WEB-77"
    assert created.after["total"] == "12.00"  # Decimal kept exact, as text
    lines = [e for e in entries("order_lines") if e.action == "insert"]
    assert len(lines) == 1 and lines[0].after["unit_price"] == "12.00" and lines[0].username == "priya"


def test_changes_made_outside_a_request_have_no_user(db, world):
    sku = world.skus["CAP"]
    sku.name = "Waxed cap"
    db.session.commit()
    [entry] = [e for e in entries("skus", sku.id) if e.action == "update"]
    assert entry.user_id is None and entry.username == ""
    assert entry.before == {"name": "Test item CAP"} and entry.after == {"name": "Waxed cap"}


def test_a_deleted_row_keeps_its_last_values(db, world):
    from tests.factories import make_sku
    sku = make_sku("GONE", price="3.00")
    db.session.commit()
    sku_id = sku.id
    db.session.delete(sku)
    db.session.commit()
    deleted = entries("skus", sku_id)[-1]
    assert deleted.action == "delete" and deleted.after is None
    assert deleted.before["code"] == "GONE" and deleted.before["price"] == "3.00"


def test_a_value_set_without_being_read_first_still_has_its_before_value(db, world):
    sku_id = world.skus["TEE-M"].id
    db.session.expire_all()
    sku = db.session.get(Sku, sku_id, with_for_update=False)
    db.session.expire(sku, ["price"])
    sku.price = Decimal("11.00")  # the old price was never loaded into this session
    db.session.commit()
    entry = entries("skus", sku_id)[-1]
    assert entry.before == {"price": "10.00"} and entry.after == {"price": "11.00"}


def test_setting_a_value_to_what_it_was_records_nothing(db, world):
    sku = world.skus["MUG"]
    before = len(entries("skus", sku.id))
    sku.name = sku.name
    db.session.commit()
    assert len(entries("skus", sku.id)) == before


def test_secrets_and_password_hashes_never_reach_the_log(db, world, make_user):
    user = make_user("admin", "root-admin")
    channel = world.channels["WEB"]
    channel.webhook_secret = "a-new-shared-secret-value"
    db.session.commit()
    text_of_log = json.dumps([[e.before, e.after] for e in database.session.scalars(select(AuditEntry))])
    assert "a-new-shared-secret-value" not in text_of_log and user.password_hash not in text_of_log
    [change] = [e for e in entries("channels", channel.id) if e.action == "update"]
    assert change.before == {"webhook_secret": "[redacted]"} and change.after == {"webhook_secret": "[redacted]"}


def test_append_only_tables_that_are_their_own_trail_are_left_out(db, world):
    inventory.receive_stock(world.skus["MUG"].id, world.bins["E0-1"].id, 3, cause=Cause("po", 9))
    assert database.session.scalar(select(StockMove.id)) is not None
    assert database.session.scalar(select(Event.id)) is not None
    logged = set(database.session.scalars(select(AuditEntry.table_name)))
    assert logged.isdisjoint(audit.NOT_AUDITED)
    assert {"stock_moves", "events", "order_transitions", "audit_log"} <= set(audit.NOT_AUDITED)


def test_json_safe_turns_decimals_times_and_odd_values_into_json():
    moment = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    value = audit.json_safe({"amount": Decimal("1.50"), "at": moment, "day": date(2026, 3, 1), "raw": b"abc",
                             "tags": {"x"}, "long": "y" * 3000})
    assert value["amount"] == "1.50" and value["at"] == "2026-03-01T09:30:00+00:00" and value["day"] == "2026-03-01"
    assert value["raw"] == "<3 bytes>" and value["tags"] == ["x"] and len(value["long"]) == audit.MAX_TEXT + 1
    json.dumps(value)


def test_a_rolled_back_change_leaves_no_audit_entry(db, world):
    sku = world.skus["MUG"]
    count = len(entries("skus"))
    sku.name = "Never saved"
    db.session.flush()
    db.session.rollback()
    assert len(entries("skus")) == count


def test_the_search_filters_by_table_record_user_action_dates_and_values(client, login_as, world):
    admin = login_as("admin")
    world.skus["CAP"].name = "Flat cap"
    database.session.commit()
    everything = audit.audit_search(audit.AuditFilters())
    assert everything.total == len(list(database.session.scalars(select(AuditEntry.id))))
    by_value = audit.audit_search(audit.AuditFilters(q="Flat cap"))
    assert [e.record_id for e in by_value.items] == [str(world.skus["CAP"].id)]
    assert audit.audit_search(audit.AuditFilters(table="skus", action="update")).total == 1
    assert audit.audit_search(audit.AuditFilters(user="system", table="skus", action="update")).total == 1
    assert audit.audit_search(audit.AuditFilters(user=admin.username, table="skus")).total == 0
    today = datetime.now(timezone.utc).date()
    assert audit.audit_search(audit.AuditFilters(since=today, table="skus", action="update")).total == 1
    assert audit.audit_search(audit.AuditFilters(until=date(2000, 1, 1))).total == 0


def test_the_audit_screen_filters_and_shows_a_records_history(client, login_as, world):
    login_as("admin")
    world.skus["CAP"].name = "Flat cap"
    database.session.commit()
    page = client.get("/admin/audit?q=Flat+cap").get_data(as_text=True)
    assert "Flat cap" in page and "Test item CAP" in page
    history = client.get(f"/admin/audit/skus/{world.skus['CAP'].id}").get_data(as_text=True)
    assert history.index("insert") < history.index("Flat cap")
    assert "No changes match" in client.get("/admin/audit?user=nobody-at-all").get_data(as_text=True)


@pytest.mark.postgres
def test_postgresql_refuses_to_update_or_delete_audit_entries(db, world):
    assert database.session.scalar(select(AuditEntry.id)) is not None
    for statement in ("UPDATE audit_log SET username = 'someone'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            database.session.execute(text(statement))
        database.session.rollback()
    assert database.session.scalar(select(AuditEntry.id)) is not None
