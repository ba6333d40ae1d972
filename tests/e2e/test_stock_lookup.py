"""A warehouse associate looks a SKU up in Chromium and sees its stock."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.domain.inventory import Cause
from app.services import inventory
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.browser


def test_a_warehouse_associate_searches_a_sku_and_sees_its_stock(page, make_user, world):
    make_user("warehouse", "tom")
    inventory.receive_stock(world.skus["MUG"].id, world.bins["E1-2"].id, 17, cause=Cause("purchase_order", "PO-42"))
    sign_in(page, "tom")
    page.click("text=SKUs")
    page.wait_for_load_state("networkidle")  # htmx is loaded (deferred) before the search box is typed in
    page.fill("input[name=q]", "MUG")
    expect(page.locator("#results tbody tr")).to_have_count(1, timeout=15_000)
    page.click("#results >> text=MUG")
    page.wait_for_selector("#stock-by-warehouse")
    row = page.locator("#stock-by-warehouse tbody tr", has_text="EAST")
    assert "17" in row.inner_text()
    assert page.locator("text=E1-2").count() >= 1
