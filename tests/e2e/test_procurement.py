"""A buyer in Chromium: sees what will run out, drafts a PO from the suggestion, sends it, receives it and puts it away;
the waiting order gets the stock."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect

from app.extensions import db as database
from app.models.purchasing import PurchaseOrder
from app.services import orders
from tests.e2e.conftest import sign_in
from tests.services.test_purchasing import make_supplier, offer, order_draft
from tests.services.test_replenishment import steady_demand, stock

pytestmark = pytest.mark.browser


def test_a_buyer_drafts_a_po_from_a_suggestion_and_receives_it(page, make_user, world):
    make_user("procurement", "luis")
    supplier = make_supplier(lead=10)
    offer(supplier, world.skus["MUG"], "2.5000", pack=6, moq=12)
    steady_demand(world)
    stock(world, "MUG", "E0-1", 3)
    waiting = orders.capture_order("WEB", order_draft("WAIT", [("MUG", 5)], placed_at=datetime.now(timezone.utc)),
                                   source="api").order
    assert waiting.status == "partially_allocated"

    sign_in(page, "luis")
    page.click("nav >> text=Replenishment")
    page.click("#run-now")
    row = page.locator("#suggestion-table tbody tr", has_text="MUG").first
    expect(row).to_contain_text("before arrival")
    page.check("#suggestion-table input[name=line]")
    page.click("#draft-selected")
    expect(page.locator("h1")).to_contain_text("PO-")
    expect(page.locator(".badge.draft")).to_have_count(1)

    page.click("#send-po")
    expect(page.locator("h1 .badge")).to_have_text("Sent")
    quantity = page.locator("#receive-lines input[type=number]").first
    ordered = database.session.scalars(database.select(PurchaseOrder)).one().units
    quantity.fill(str(ordered))
    page.click("#receive-button")
    expect(page.locator(".flash")).to_contain_text("Waiting orders were given the new stock first")
    expect(page.locator("h1 .badge")).to_have_text("Received")
    expect(page.locator("#put-away-lines input[name^=bin-]")).to_have_value("E0-1")
    page.click("#put-away-button")
    expect(page.locator(".flash")).to_contain_text("units away")

    database.session.expire_all()
    assert database.session.get(type(waiting), waiting.id).status == "allocated"
