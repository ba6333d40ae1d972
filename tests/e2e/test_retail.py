"""A retail user finds a held order in Chromium, releases it and sees it allocated."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from app.domain.capture import Address, LineDraft, OrderDraft
from app.domain.inventory import Cause
from app.services import inventory, orders
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.browser


def held_order(world):
    inventory.receive_stock(world.skus["MUG"].id, world.bins["E0-1"].id, 6, cause=Cause("po", "PO-9"))
    draft = OrderDraft(external_id="WEB-4471", number="#4471", currency="GBP",
                       placed_at=datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc), updated_at=None,
                       customer_name="Oliver Grant", customer_email="oliver@example.co.uk",
                       ship_to=Address(name="Oliver Grant", address1="7 Quay Street", city="Truro", postcode="TR1 2HE",
                                       country="GB"),
                       billing_country="GB", payment_captured=False, lines=(LineDraft("MUG", 2, Decimal("12.00")),),
                       shipping=Decimal("3.95"), shipping_tax=Decimal("0"), order_discount=Decimal("0"),
                       total=Decimal("27.95"))
    order = orders.capture_order("WEB", draft, source="shopify").order
    assert order.status == "on_hold"
    return order


def test_a_retail_user_finds_a_held_order_releases_it_and_sees_it_allocated(page, make_user, world):
    order = held_order(world)
    make_user("retail", "priya")
    sign_in(page, "priya")
    page.click("nav.sidebar >> text=Order inbox")
    page.fill("input[name=q]", "oliver")
    expect(page.locator("#orders tbody tr")).to_have_count(1)
    row = page.locator("#orders tbody tr").first
    expect(row).to_contain_text("On hold")
    expect(row).to_contain_text("Payment")
    row.locator(f"text={order.number}").click()
    expect(page.locator("#hold-review")).to_contain_text("Payment has not been captured")
    page.fill("#release-note", "card payment taken by phone")
    page.click("#release-button")
    expect(page.locator(".flash")).to_contain_text("allocated")
    expect(page.locator("h1")).to_contain_text("Allocated")
    expect(page.locator("#shipments")).to_contain_text("EAST")
    expect(page.locator("#timeline")).to_contain_text("card payment taken by phone")
    page.click("nav.sidebar >> text=Holds")
    expect(page.locator(".empty")).to_contain_text("No orders are on hold")


def test_cancelling_from_the_hold_queue_asks_first(page, make_user, world):
    order = held_order(world)
    make_user("retail", "priya")
    sign_in(page, "priya")
    page.goto(page.base_url + "/holds")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("#held-orders tbody tr").first.locator("button:has-text('Cancel')").click()
    expect(page.locator("#held-orders tbody tr")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#held-orders tbody tr").first.locator("button:has-text('Cancel')").click()
    expect(page.locator(".flash")).to_contain_text(f"Cancelled {order.number}")
