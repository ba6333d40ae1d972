"""The whole journey in Chromium, role by role: a signed Shopify order arrives, is routed, waved, picked, packed,
labelled and shipped; finance sees its invoice and margin; the customer returns it, the return is received,
inspected, restocked and refunded (with finance's approval); and the KPIs show the run.

Each step saves a screenshot journey-NN-<step>.png; run with KEEL_SCREENSHOTS=docs/screenshots to refresh the
README's pictures."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.channels.signatures import shopify_signature
from app.domain.inventory import Cause, Status
from app.extensions import db as _db
from app.models.orders import Order
from app.models.warehouse_ops import PickBatch
from app.services import inventory, ledger
from app.services.integrity import ledger_problems
from app.services.settings import set_setting
from tests.conftest import SHARED
from tests.e2e.conftest import pick_and_pack, scan, sign_in
from tests.factories import make_rate_tables
from tests.services.test_carriers import make_boxes

pytestmark = pytest.mark.browser

# KEEL_SCREENSHOTS=docs/screenshots refreshes the README's pictures; otherwise they go to a temporary folder.
SCREENSHOTS = Path(os.environ.get("KEEL_SCREENSHOTS") or tempfile.mkdtemp(prefix="keel-journey-"))
DESK = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
WAIT = 30_000


def _shot(page, number: int, step: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"journey-{number:02d}-{step}.png"), full_page=False)


def _as(page, username: str, viewport: dict = DESK) -> None:
    """Sign out whoever was at the keyboard and sign in as the next role."""
    page.goto("about:blank")  # leave the page first: no late response may set the old session again
    page.context.clear_cookies()
    page.set_viewport_size(viewport)
    sign_in(page, username)



def _read_label(pdf: bytes, tmp_path: Path) -> list[str]:
    """Save a small picture of the 4x6 label for the docs and return what a scanner reads off it."""
    (tmp_path / "label.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "300", "-png", "-singlefile", tmp_path / "label.pdf", tmp_path / "label"],
                   check=True)
    subprocess.run(["pdftoppm", "-r", "110", "-png", "-singlefile", tmp_path / "label.pdf",
                    SCREENSHOTS / "journey-06-label"], check=True)
    read = subprocess.run(["zbarimg", "--raw", "-q", tmp_path / "label.png"], capture_output=True, text=True)
    return read.stdout.split()


def _shopify_order_body() -> bytes:
    """The 2008 Shopify fixture order, shipped to Leeds in pounds, for two MUGs at 200.00."""
    order = json.loads((SHARED / "fixtures" / "channels" / "shopify_python_api__order.json").read_text())["order"]
    line = copy.deepcopy(order["line_items"][0])
    line.update(sku="MUG", quantity=2, price="200.00", title="Mug", name="Mug", tax_lines=[])
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    order.update(created_at=now, updated_at=now, processed_at=now, line_items=[line], currency="GBP", financial_status="paid", tax_lines=[], shipping_lines=[],
                 discount_codes=[], total_tax="0.00", total_discounts="0.00", subtotal_price="400.00",
                 total_line_items_price="400.00", total_price="400.00", name="#5001", order_number=5001, id=905001)
    leeds = {"address1": "1 Park Row", "address2": "", "city": "Leeds", "zip": "LS1 4AP", "country": "United Kingdom",
             "country_code": "GB", "province": "", "province_code": ""}
    order["shipping_address"].update(leeds)
    order["billing_address"].update(leeds)
    return json.dumps({"order": order}).encode()


@pytest.fixture()
def warehouse_ready(world, make_user):
    """Carriers, boxes and MUGs on an EAST shelf; orders wait for routing; one person per role."""
    make_rate_tables(world)
    make_boxes()
    inventory.receive_stock(world.skus["MUG"].id, world.bins["E1-1"].id, 10, cause=Cause("po", "PO-1"))
    set_setting("orders.allocate_on_capture", False)
    for role, name in (("supervisor", "grace"), ("warehouse", "tom"), ("finance", "hannah"), ("returns", "sam"), ("retail", "rita")):
        make_user(role, name)
    return world


def test_an_order_goes_from_webhook_to_refund_and_the_kpis_move(page, warehouse_ready, tmp_path):
    world = warehouse_ready
    page.set_viewport_size(DESK)

    # 1. Shopify posts the order, signed with the channel's secret.
    body = _shopify_order_body()
    answer = page.request.post(page.base_url + "/webhooks/shopify/WEB", data=body, headers={
        "X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "journey-1",
        "X-Shopify-Hmac-Sha256": shopify_signature("WEB-secret", body),
        "X-Shopify-Shop-Domain": "harbour.myshopify.com", "Content-Type": "application/json"})
    assert answer.ok, answer.text()
    _db.session.expire_all()
    order = _db.session.query(Order).one()
    number, order_id = order.number, order.id
    assert order.status == "ready"

    # ... and ecommerce operations see it waiting for routing.
    _as(page, "rita")
    page.goto(page.base_url + f"/orders/{order_id}")
    expect(page.locator("h1")).to_contain_text(number)
    _shot(page, 1, "order-arrived")

    # 2. The supervisor runs routing and applies the plan.
    _as(page, "grace")
    page.click("nav >> text=Routing")
    page.click("text=Start routing run")
    expect(page.locator("text=Saving vs baseline")).to_be_visible(timeout=WAIT)
    expect(page.locator("#decisions")).to_contain_text(number)
    _shot(page, 2, "routing")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=Apply plan")
    expect(page.locator(".flash")).to_contain_text("routed 1 of 1 orders")

    # 3. ... plans the day's waves in EAST and releases the wave to the floor.
    page.goto(page.base_url + "/waves?warehouse=EAST")
    page.click("button:has-text('Plan waves')")
    expect(page.locator(".flash")).to_contain_text("Planned 1 shipments", timeout=WAIT)
    _shot(page, 3, "waves")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Release')")
    expect(page.locator(".flash")).to_contain_text("released to the floor")
    _db.session.expire_all()
    batch = _db.session.query(PickBatch).one()
    batch_id, batch_number = batch.id, batch.number
    tasks = [(t.location.code, t.sku.gtin or t.sku.code, t.qty) for t in batch.tasks]
    shipment_number, shipment_id = batch.tasks[0].shipment.number, batch.tasks[0].shipment_id

    # 4. The associate picks by scanning, on a phone.
    _as(page, "tom", PHONE)
    page.goto(page.base_url + "/floor/pick")
    scan(page, batch_number)
    page.wait_for_url(f"**/floor/pick/{batch_id}")
    # 5. ... packs it, closes the carton and the label prints.
    pick_and_pack(page, shipment_number, tasks, after_first_item=lambda: _shot(page, 4, "pick-phone"))
    _shot(page, 5, "pack-phone")
    label_href = page.locator("a", has_text="Print label").first.get_attribute("href")
    label = page.request.get(page.base_url + label_href if label_href.startswith("/") else label_href)
    assert label.ok and label.body().startswith(b"%PDF")
    tracking = _read_label(label.body(), tmp_path)
    assert any(t.startswith("TS") for t in tracking), tracking

    # 6. ... and confirms it shipped.
    page.click("text=Confirm shipped")
    expect(page.locator(".flash")).to_contain_text(f"Shipment {shipment_number} shipped")
    _shot(page, 7, "shipped-phone")
    page.goto(page.base_url + f"/shipments/{shipment_id}")
    expect(page.locator("body")).to_contain_text(shipment_number)

    # 7. Finance sees the invoice and the order's margin.
    _as(page, "hannah")
    page.click("nav >> text=Invoices")
    expect(page.locator("main")).to_contain_text(number)
    _shot(page, 8, "invoices")
    page.goto(page.base_url + "/finance/margins?by=order")
    expect(page.locator("#margin-table")).to_contain_text(number)
    page.click(f"#margin-table >> text={number}")
    expect(page.locator("text=Every posting for this order")).to_be_visible()
    _shot(page, 9, "margin")

    # 8. The customer sends both mugs back: the returns clerk opens an RMA from the order.
    _as(page, "sam")
    page.goto(page.base_url + f"/returns/new?order={number}")
    page.fill("input[name^=qty-]", "2")
    page.select_option("select[name^=reason-]", "changed_mind")
    _shot(page, 10, "rma-new")
    page.click("#authorise")
    expect(page.locator("h1")).to_contain_text("RMA-")
    rma_number = page.locator("h1").inner_text().split()[0]
    rma_id = int(page.url.rstrip("/").rsplit("/", 1)[1])

    # 9. ... the parcel is scanned in, unit by unit.
    page.click("nav >> text=Receive returns")
    rma_box = page.locator("input[name=code]")
    expect(rma_box).to_be_focused()
    rma_box.fill(rma_number)
    rma_box.press("Enter")
    page.wait_for_url(f"**/returns/{rma_id}/receive")
    for scanned in (1, 2):
        item = page.locator("input[name=code]")
        expect(item).to_be_focused()
        item.fill(world.skus["MUG"].gtin)
        item.press("Enter")
        # The page carries the scans so far: wait for each one to come back before the next.
        expect(page.locator("#tally tbody tr").first.locator("td").nth(2)).to_have_text(str(scanned))
    expect(page.locator("#tally")).to_contain_text("complete")
    _shot(page, 11, "return-received")
    page.click("#finish")

    # 10. ... inspected (grade A) and restocked.
    page.wait_for_url(f"**/returns/{rma_id}/inspect")
    for grade in page.locator("select[name^=grade-]").all():
        grade.select_option("A")
    for disposition in page.locator("select[name^=disposition-]").all():
        disposition.select_option("restock")
    _shot(page, 12, "inspect")
    page.click("#save-inspection")
    page.wait_for_url(f"**/returns/{rma_id}")
    expect(page.locator("#timeline")).to_contain_text("2 restock")

    # 11. ... the refund is requested; over the threshold, it waits for finance.
    page.goto(page.base_url + f"/returns/{rma_id}/refund")
    page.click("#request-refund")
    expect(page.locator(".flash")).to_contain_text("waiting for finance's approval")

    _as(page, "hannah")
    page.goto(page.base_url + "/approvals")
    row = page.locator("#approval-table tr", has_text="RF-")
    expect(row).to_be_visible()
    _shot(page, 13, "approve-refund")
    row.locator("button[value=approve]").click()
    expect(page.locator("#approval-table tr", has_text="RF-")).to_have_count(0)

    _as(page, "sam")
    page.goto(page.base_url + "/returns/refunds?view=to_issue")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#refund-queue button:has-text('Issue refund')")
    expect(page.locator(".flash")).to_contain_text("issued: credit note posted")
    page.goto(page.base_url + "/returns/refunds?view=to_pay")
    issued = page.locator("#refund-queue tr", has_text="RF-")
    expect(issued).to_contain_text("£400.00")
    _shot(page, 14, "refund-issued")
    issued.locator("input[name=reference]").fill("BACS 5001")
    issued.locator("button:has-text('Mark paid')").click()
    expect(page.locator(".flash")).to_contain_text("paid; the return is closed")

    # 12. The KPIs show the run: the shipped order is behind the cycle-time figure.
    _as(page, "grace")
    page.goto(page.base_url + "/kpis")
    cycle_time = page.locator('a.kpi-tile[data-kpi="order_cycle_time"]')
    expect(cycle_time).to_be_visible()
    expect(cycle_time).not_to_contain_text("No data")
    expect(page.locator('a.kpi-tile[data-kpi="return_cycle_time"]')).not_to_contain_text("No data")
    _shot(page, 15, "kpis")
    page.goto(page.base_url + "/kpis/order_cycle_time")
    expect(page.locator("main")).to_contain_text(number)
    _shot(page, 16, "kpi-records")

    _db.session.expire_all()
    assert _db.session.get(Order, order_id).status in {"shipped", "returned", "refunded", "partially_returned"}
    assert ledger.balance(world.skus["MUG"].id, world.bins["E1-1"].id, Status.AVAILABLE) == 10
    assert ledger_problems() == []
