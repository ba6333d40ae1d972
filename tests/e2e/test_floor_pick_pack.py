"""On a phone-sized screen a warehouse associate picks a released wave by scanning, packs it and ships it."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.extensions import db as _db
from app.models.warehouse_ops import PickBatch
from tests.e2e.conftest import pick_and_pack, scan, sign_in
from tests.services.test_carriers import released_floor

pytestmark = pytest.mark.browser



def test_an_associate_picks_and_packs_a_wave_with_a_scanner_on_a_phone(page, make_user, world):
    # A supervisor planned and released the wave (through the services).
    batch, = released_floor(world, [[("MUG", 2), ("CAP", 1)]])
    batch_id, number = batch.id, batch.number
    tasks = [(t.location.code, t.sku.gtin or t.sku.code, t.qty) for t in batch.tasks]
    shipment_number = batch.tasks[0].shipment.number
    make_user("warehouse", "tom")
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "tom")
    page.goto(page.base_url + "/floor/pick")
    scan(page, number)
    page.wait_for_url(f"**/floor/pick/{batch_id}")
    scan(page, "Z9-9", "bin")  # the wrong bin is refused and the prompt stays
    expect(page.locator("[data-outcome=refused]")).to_contain_text("Wrong bin")
    pick_and_pack(page, shipment_number, tasks)
    with page.expect_popup() as popup:
        page.click("text=Print label")
    assert popup.value.url.endswith(".pdf") or "/shipments/documents/" in popup.value.url
    page.click("text=Confirm shipped")
    expect(page.locator(".flash")).to_contain_text(f"Shipment {shipment_number} shipped")
    _db.session.expire_all()
    shipment = _db.session.get(PickBatch, batch_id).tasks[0].shipment
    assert shipment.status == "shipped" and shipment.order.status == "shipped"
