"""A supervisor starts a routing run in Chromium, watches it finish, and applies it."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.domain.inventory import Cause
from app.services import inventory, orders
from app.services.settings import set_setting
from tests.e2e.conftest import sign_in
from tests.factories import make_rate_tables, order_draft

pytestmark = pytest.mark.browser


def test_a_supervisor_starts_a_run_sees_it_finish_and_applies_it(page, make_user, world):
    make_rate_tables(world)
    set_setting("orders.allocate_on_capture", False)
    inventory.receive_stock(world.skus["MUG"].id, world.bins["E0-1"].id, 3, cause=Cause("po", 1))
    inventory.receive_stock(world.skus["MUG"].id, world.bins["W0-1"].id, 3, cause=Cause("po", 1))
    order = orders.capture_order("WEB", order_draft("E2E-1", [("MUG", 2)]), source="api").order
    make_user("supervisor", "grace")
    sign_in(page, "grace")
    page.click("nav >> text=Routing")
    page.fill("#r-limit", "3")
    page.click("text=Start routing run")
    expect(page.locator("text=Saving vs baseline")).to_be_visible(timeout=30_000)
    expect(page.locator("#decisions")).to_contain_text(order.number)
    expect(page.locator("#decisions")).to_contain_text("WEST")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=Apply plan")
    expect(page.locator(".flash")).to_contain_text("routed 1 of 1 orders")
    from app.extensions import db
    db.session.expire_all()
    assert orders.get_order(order.id).status == "allocated"
