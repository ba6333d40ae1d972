"""A finance user follows an order's margin down to its invoice, posting, stock move and PDF, records a
payment, and reverses it, in a real browser."""
from __future__ import annotations

from decimal import Decimal

import pytest

from app.services import orders
from tests.e2e.conftest import sign_in
from tests.services.test_finance_flows import place_order, receive, ship

pytestmark = pytest.mark.browser


@pytest.fixture()
def shipped_unpaid(world, make_user):
    make_user("finance", "hannah")
    receive(world, "MUG", "E0-1", 10, "4.0000")
    order = place_order(world, "E2E-1", [("MUG", 2)], payment_captured=False, shipping=Decimal("3.95"),
                        total=Decimal("23.95"))
    orders.release_order_holds(order.id, user_id=None)
    ship(order.shipments[0])
    return order


def test_a_finance_user_traces_a_margin_to_its_documents_and_collects_the_payment(page, shipped_unpaid):
    order = shipped_unpaid
    sign_in(page, "hannah")
    page.click("nav >> text=Margins")
    page.select_option("select[name=by]", "order")
    page.wait_for_selector(f"#margin-table >> text={order.number}")
    page.click(f"#margin-table >> text={order.number}")
    page.wait_for_selector("text=Every posting for this order")
    assert "£15.15" in page.inner_text(".grid")  # 23.95 less 8.00 of goods and 0.80 of handling

    page.click("text=INV-000001 >> nth=0")
    page.wait_for_selector("h1 >> text=INV-000001")
    assert "£23.95 owed" in page.inner_text("h1")
    with page.expect_download() as download:
        page.click("text=Download PDF")
    assert download.value.suggested_filename == "INV-000001.pdf"

    page.goto(page.base_url + f"/finance/orders/{order.id}")
    page.click("text=Shipped: 2 × MUG at FIFO cost >> xpath=../td[1]/a")
    page.wait_for_selector("text=stock move #")
    assert "correct the stock" in page.inner_text("#reverse")

    page.click("nav >> text=Order to cash")
    page.click(f"tr:has-text('{order.number}') >> text=Record payment")
    page.fill("#f-amount", "23.95")
    page.fill("#f-reference", "BACS 44120")
    page.click("button:has-text('Record payment')")
    page.wait_for_selector("text=recorded for")
    page.goto(page.base_url + "/finance/order-to-cash?view=unpaid")
    assert "No order owes anything" in page.inner_text("#results")

    page.goto(page.base_url + "/finance/payments")
    page.click("tr:has-text('BACS 44120') >> td:last-child a")
    page.fill("#f-reason", "sent to the wrong account")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=Reverse entry")
    page.wait_for_selector("text=Reversal of entry")
    page.goto(page.base_url + "/finance/order-to-cash?view=unpaid")
    assert order.number in page.inner_text("#results")
