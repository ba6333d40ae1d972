"""Master data ownership is enforced in the services, whichever door a change comes through."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.domain.errors import PermissionDenied, ValidationError
from app.extensions import db as database
from app.models.audit import AuditEntry
from app.models.events import Event
from app.models.masterdata import PriceProposal
from app.services import admin, ownership
from app.services.settings import set_setting


def sku_form(sku, **changes) -> dict:
    form = {"code": sku.code, "name": sku.name, "category": sku.category, "gtin": sku.gtin or "",
            "length_cm": str(sku.length_cm), "width_cm": str(sku.width_cm), "height_cm": str(sku.height_cm),
            "weight_kg": str(sku.weight_kg), "unit_cost": str(sku.unit_cost), "price": str(sku.price),
            "active": "1" if sku.active else ""}
    form.update(changes)
    return form


@pytest.fixture()
def no_price_approval(db):
    set_setting("approvals.default_rules", [])


def test_the_default_map_gives_each_area_its_owners(db):
    owners = ownership.ownership_map()
    assert owners["items"] == {"admin", "procurement"} and owners["prices"] == {"admin", "retail"}
    assert owners["suppliers"] == {"admin", "procurement"} and owners["locations"] == {"admin", "supervisor"}
    assert owners["channels"] == {"admin", "retail"} and owners["rules"] == {"admin"}


def test_procurement_may_change_an_item_but_not_its_price(world, make_user, no_price_approval):
    buyer = make_user("procurement", "luis")
    mug = world.skus["MUG"]
    change = admin.update_sku(mug.id, sku_form(mug, name="Stoneware mug"), user_id=buyer.id)
    assert change.changed == ["name"] and mug.name == "Stoneware mug"
    with pytest.raises(PermissionDenied, match="may change prices"):
        admin.update_sku(mug.id, sku_form(mug, price="14.00"), user_id=buyer.id)
    database.session.expire_all()
    assert database.session.get(type(mug), mug.id).price == Decimal("10.00")


def test_retail_may_change_a_price_but_not_the_item(world, make_user, no_price_approval):
    merchandiser = make_user("retail", "priya")
    cap = world.skus["CAP"]
    change = admin.update_sku(cap.id, sku_form(cap, price="12.00"), user_id=merchandiser.id)
    assert change.price_outcome == "applied" and cap.price == Decimal("12.00")
    event = database.session.scalar(select(Event).where(Event.type == "sku.price_changed"))
    assert event.payload == {"sku": "CAP", "from": "10.00", "to": "12.00"}
    with pytest.raises(PermissionDenied, match="may change items"):
        admin.update_sku(cap.id, sku_form(cap, name="Cap"), user_id=merchandiser.id)
    with pytest.raises(PermissionDenied):
        admin.create_sku(sku_form(cap, code="NEW-1", gtin=""), user_id=merchandiser.id)


def test_only_the_owners_change_warehouses_bins_channels_and_settings(world, make_user):
    retail, supervisor = make_user("retail", "priya"), make_user("supervisor", "grace")
    east = world.warehouses["EAST"]
    with pytest.raises(PermissionDenied):
        admin.add_location(east.id, {"code": "E9-1"}, user_id=retail.id)
    assert admin.add_location(east.id, {"code": "E9-1", "aisle": "9", "level": "1"}, user_id=supervisor.id).code == "E9-1"
    web = world.channels["WEB"]
    form = {"name": "Web shop", "safety_buffer": "1", "sla_days": "2", "active": "1"}
    with pytest.raises(PermissionDenied):
        admin.update_channel(web.id, form, [east.id], user_id=supervisor.id)
    admin.update_channel(web.id, form, [east.id], user_id=retail.id)
    with pytest.raises(PermissionDenied):
        admin.update_settings({"holds.velocity_hours": "12"}, ["holds.velocity_hours"], user_id=retail.id)
    with pytest.raises(PermissionDenied):
        ownership.set_owners("prices", ["retail"], user=retail)


def test_the_system_itself_is_never_refused(world):
    ownership.require_ownership(None, "rules")
    assert ownership.may_change(None, "prices")


def test_the_map_follows_the_setting_and_always_keeps_administrators(world, make_user, no_price_approval):
    root, finance, retail = make_user("admin", "root"), make_user("finance", "hannah"), make_user("retail", "priya")
    assert ownership.set_owners("prices", ["finance"], user=root) == {"admin", "finance"}
    mug = world.skus["MUG"]
    admin.update_sku(mug.id, sku_form(mug, price="11.00"), user_id=finance.id)
    with pytest.raises(PermissionDenied, match="administrator, finance"):
        admin.update_sku(mug.id, sku_form(mug, price="12.00"), user_id=retail.id)
    with pytest.raises(ValidationError):
        ownership.set_owners("prices", ["owner"], user=root)


def test_a_price_change_covered_by_an_approval_rule_waits_and_applies_when_approved(world, make_user):
    from app.services import approvals
    merchandiser, approver = make_user("retail", "priya"), make_user("admin", "alex")
    mug = world.skus["MUG"]
    change = admin.update_sku(mug.id, sku_form(mug, price="15.00"), user_id=merchandiser.id, reason="Summer price")
    assert change.price_outcome == "approval_requested" and mug.price == Decimal("10.00")
    proposal = database.session.scalar(select(PriceProposal))
    assert (proposal.old_price, proposal.new_price, proposal.status) == (Decimal("10.00"), Decimal("15.00"), "pending")
    with pytest.raises(Exception, match="already waiting"):
        admin.update_sku(mug.id, sku_form(mug, price="16.00"), user_id=merchandiser.id)
    approvals.decide_approval(proposal.approval_request_id, approver.id, True, "fine")
    database.session.expire_all()
    assert database.session.get(type(mug), mug.id).price == Decimal("15.00")
    assert database.session.get(PriceProposal, proposal.id).status == "applied"
    update = database.session.scalar(select(AuditEntry).where(AuditEntry.table_name == "skus",
                                                              AuditEntry.action == "update"))
    assert update.before == {"price": "10.00"} and update.after == {"price": "15.00"}


def test_a_rejected_price_change_leaves_the_price(world, make_user):
    from app.services import approvals
    merchandiser, approver = make_user("retail", "priya"), make_user("admin", "alex")
    cap = world.skus["CAP"]
    admin.update_sku(cap.id, sku_form(cap, price="9.00"), user_id=merchandiser.id)
    proposal = database.session.scalar(select(PriceProposal))
    approvals.decide_approval(proposal.approval_request_id, approver.id, False, "too low")
    database.session.expire_all()
    assert database.session.get(type(cap), cap.id).price == Decimal("10.00")
    assert database.session.get(PriceProposal, proposal.id).status == "rejected"


def test_a_bad_sku_form_names_every_field_and_changes_nothing(world, make_user):
    buyer = make_user("procurement", "luis")
    mug = world.skus["MUG"]
    bad = sku_form(mug, code="", name="", gtin="1234", weight_kg="heavy", price="-1", unit_cost="1.23456")
    with pytest.raises(ValidationError) as caught:
        admin.update_sku(mug.id, bad, user_id=buyer.id)
    assert set(caught.value.errors) == {"code", "name", "gtin", "weight_kg", "price", "unit_cost"}
    database.session.expire_all()
    assert database.session.get(type(mug), mug.id).name == "Test item MUG"


def test_a_channel_ranking_change_is_saved_in_order_and_audited(world, make_user):
    retail = make_user("retail", "priya")
    web, east, west = world.channels["WEB"], world.warehouses["EAST"], world.warehouses["WEST"]
    admin.update_channel(web.id, {"name": "Web", "safety_buffer": "3", "sla_days": "1", "ship_complete": "1",
                                  "active": "1"}, [west.id, east.id], user_id=retail.id)
    assert admin.channel_ranking(web.id) == [west.id, east.id]
    assert (web.safety_buffer, web.ship_complete) == (3, True)
    [ranking] = [e for e in database.session.scalars(select(AuditEntry).where(AuditEntry.table_name == "channels"))
                 if "warehouses" in (e.after or {})]
    assert ranking.before == {"warehouses": ["EAST", "WEST"]} and ranking.after == {"warehouses": ["WEST", "EAST"]}
    with pytest.raises(ValidationError):
        admin.update_channel(web.id, {"name": "Web", "safety_buffer": "-1", "sla_days": "1"}, [], user_id=retail.id)


def test_a_bin_holding_stock_cannot_be_taken_out_of_use(world, make_user):
    from app.domain.errors import Conflict
    from app.domain.inventory import Cause
    from app.services import inventory
    supervisor = make_user("supervisor", "grace")
    inventory.receive_stock(world.skus["MUG"].id, world.bins["E0-1"].id, 2, cause=Cause("po", 1))
    with pytest.raises(Conflict, match="holds 2 units"):
        admin.set_location_active(world.bins["E0-1"].id, False, user_id=supervisor.id)
    assert admin.set_location_active(world.bins["E0-2"].id, False, user_id=supervisor.id).active is False


def test_settings_are_typed_saved_together_and_reset(world, make_user):
    from app.services.settings import get_setting
    root = make_user("admin", "root")
    shown = ["holds.velocity_hours", "holds.max_order_value", "holds.require_payment_captured"]
    with pytest.raises(ValidationError) as caught:
        admin.update_settings({"holds.velocity_hours": "soon", "holds.max_order_value": "900"}, shown, user_id=root.id)
    assert set(caught.value.errors) == {"holds.velocity_hours"}
    assert get_setting("holds.max_order_value") == "1500.00"  # nothing saved when one value is wrong
    changed = admin.update_settings({"holds.velocity_hours": "12", "holds.max_order_value": "900"}, shown,
                                    user_id=root.id)
    assert changed == ["holds.max_order_value", "holds.require_payment_captured", "holds.velocity_hours"]
    assert get_setting("holds.velocity_hours") == 12 and get_setting("holds.max_order_value") == "900.00"
    assert get_setting("holds.require_payment_captured") is False  # an unticked box on the form
    admin.reset_setting("holds.velocity_hours", user_id=root.id)
    assert get_setting("holds.velocity_hours") == 24


def test_list_and_object_settings_are_edited_as_json_of_the_same_shape(world, make_user):
    from app.services.settings import DEFAULTS, get_setting
    root = make_user("admin", "root")
    key = next(k for k, v in sorted(DEFAULTS.items()) if isinstance(v, list))
    with pytest.raises(ValidationError) as caught:
        admin.update_settings({key: "{not json"}, [key], user_id=root.id)
    assert "Not valid JSON" in caught.value.errors[key]
    with pytest.raises(ValidationError):
        admin.update_settings({key: '{"a": 1}'}, [key], user_id=root.id)
    admin.update_settings({key: "[]"}, [key], user_id=root.id)
    assert get_setting(key) == []
