"""On a phone-sized screen a warehouse associate picks a released wave by scanning, packs it and ships it."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.extensions import db as _db
from app.models.warehouse_ops import PickBatch
from tests.e2e.conftest import scan, sign_in
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
    first_bin = tasks[0][0]
    scan(page, "Z9-9", "bin")  # the wrong bin is refused and the prompt stays
    expect(page.locator("[data-outcome=refused]")).to_contain_text("Wrong bin")
    for bin_code, item, qty in tasks:
        expect(page.locator("[data-bin]")).to_have_text(bin_code)
        scan(page, bin_code, "bin")
        scan(page, item, "item")
        expect(page.locator("[data-step=qty]")).to_be_focused()
        page.keyboard.press("Enter")  # the default is the line's quantity
        expect(page.locator("[data-outcome=ok]")).to_contain_text(f"Picked {qty}")
    expect(page.locator("text=Batch done")).to_be_visible()
    assert first_bin
    page.click("text=Go to packing")
    scan(page, shipment_number)
    page.wait_for_url("**/floor/pack/*")
    for _bin, item, qty in tasks:
        for _ in range(qty):
            still_to_pack = page.locator("#bench label.prompt").inner_text()
            scan(page, item, "pack")
            expect(page.locator("#bench label.prompt", has_text=still_to_pack)).to_have_count(0)
    page.click("text=Close and label")
    expect(page.locator("[data-outcome=ok]")).to_contain_text("Packed and labelled")
    with page.expect_popup() as popup:
        page.click("text=Print label")
    assert popup.value.url.endswith(".pdf") or "/shipments/documents/" in popup.value.url
    page.click("text=Confirm shipped")
    expect(page.locator(".flash")).to_contain_text(f"Shipment {shipment_number} shipped")
    _db.session.expire_all()
    shipment = _db.session.get(PickBatch, batch_id).tasks[0].shipment
    assert shipment.status == "shipped" and shipment.order.status == "shipped"
