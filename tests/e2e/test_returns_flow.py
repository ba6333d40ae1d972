"""A returns clerk receives a parcel by scanning in Chromium, inspects the unit and restocks it."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.domain.inventory import Status
from app.services import ledger, returns
from app.services.integrity import ledger_problems
from tests.e2e.conftest import sign_in
from tests.services.test_returns import shipped_order, stocked  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


def test_a_clerk_scans_a_return_in_inspects_it_and_restocks_it(page, make_user, stocked):
    make_user("returns", "sam")
    order = shipped_order()
    rma = returns.open_rma(order.number, [{"sku": "MUG", "qty": 1, "reason": "changed_mind"}])
    sign_in(page, "sam")
    page.click("nav >> text=Receive returns")
    scan = page.locator("input[name=code]")
    expect(scan).to_be_focused()
    scan.fill(rma.number)
    scan.press("Enter")
    page.wait_for_url(f"**/returns/{rma.id}/receive")
    item = page.locator("input[name=code]")
    expect(item).to_be_focused()
    item.fill(stocked.skus["MUG"].gtin)
    item.press("Enter")
    expect(page.locator("#tally")).to_contain_text("complete")
    expect(page.locator("input[name=code]")).to_be_focused()
    page.click("#finish")
    page.wait_for_url(f"**/returns/{rma.id}/inspect")
    page.select_option("select[name^=grade-]", "A")
    page.select_option("select[name^=disposition-]", "restock")
    page.click("#save-inspection")
    page.wait_for_url(f"**/returns/{rma.id}")
    expect(page.locator("h1")).to_contain_text("Inspected")
    expect(page.locator("#rma-lines")).to_contain_text("A · Restock → E0-1")
    expect(page.locator("#timeline")).to_contain_text("1 restock")
    assert ledger.balance(stocked.skus["MUG"].id, stocked.bins["E0-1"].id, Status.AVAILABLE) == 20
    assert ledger_problems() == []
