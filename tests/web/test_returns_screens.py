"""The returns screens: list, open, receive by scan, inspect, refund queue, refurbish, policies, analytics."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db as _db
from app.models.returns import RefurbishTask, Rma
from app.services import returns
from tests.services.test_returns import shipped_order, stocked  # noqa: F401  (fixture)
from tests.web.test_webhooks import fixture_bytes, shopify_post


def _rma(stocked, sku="MUG", qty=1, reason="defective"):
    order = shipped_order()
    return order, returns.open_rma(order.number, [{"sku": sku, "qty": qty, "reason": reason}])


def test_the_returns_list_filters_by_status_reason_and_search_with_fragments(client, login_as, stocked):
    _order, rma = _rma(stocked)
    login_as("returns")
    full = client.get("/returns")
    assert full.status_code == 200 and rma.number.encode() in full.data and b"<html" in full.data
    fragment = client.get("/returns?status=received", headers={"HX-Request": "true"})
    assert b"<html" not in fragment.data and rma.number.encode() not in fragment.data and b'id="results"' in fragment.data
    assert rma.number.encode() in client.get("/returns?reason=defective&q=Ann").data
    assert rma.number.encode() not in client.get("/returns?reason=too_small").data
    assert b"No returns match" in client.get("/returns?q=nobody-at-all").data
    assert client.get("/returns?from=not-a-date&page=abc").status_code == 200


def test_retail_opens_an_rma_from_an_order_and_bad_lines_come_back_with_422(client, login_as, stocked):
    order = shipped_order()
    login_as("retail")
    form = client.get(f"/returns/new?order={order.number}")
    assert form.status_code == 200 and b"TEE-M" in form.data and b"of 2" in form.data
    tee, mug = order.lines
    bad = client.post("/returns/new", data={"order": order.number, f"qty-{tee.id}": "5", f"reason-{tee.id}": "too_small"},
                      headers={"HX-Request": "true"})
    assert bad.status_code == 422 and b"Only 2 unit(s)" in bad.data and b"<html" not in bad.data
    no_reason = client.post("/returns/new", data={"order": order.number, f"qty-{mug.id}": "1"})
    assert no_reason.status_code == 422 and b"Choose a reason" in no_reason.data
    done = client.post("/returns/new", data={"order": order.number, f"qty-{tee.id}": "2", f"reason-{tee.id}": "too_small"})
    rma = _db.session.scalar(select(Rma))
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/returns/{rma.id}")
    assert client.get("/returns/new?order=SO-999999").status_code == 422


def test_the_dock_scans_the_rma_then_its_items_and_books_them_in(client, login_as, stocked):
    _order, rma = _rma(stocked, "TEE-M", 2, "too_small")
    login_as("returns")
    page = client.get("/returns/receive")
    assert b"data-autofocus" in page.data and rma.number.encode() in page.data
    found = client.post("/returns/receive", data={"code": rma.number.lower()})
    assert found.status_code == 302 and found.headers["Location"].endswith(f"/returns/{rma.id}/receive")
    assert client.post("/returns/receive", data={"code": "RMA-NOPE"}).status_code == 404
    scan = client.post(f"/returns/{rma.id}/receive", data={"code": stocked.skus["TEE-M"].gtin},
                       headers={"HX-Request": "true"})
    assert scan.status_code == 200 and b'value="TEE-M"' in scan.data and b"1 to go" in scan.data
    unknown = client.post(f"/returns/{rma.id}/receive", data={"code": "ZZZ", "scanned": ["TEE-M"]})
    assert unknown.status_code == 422 and b"No SKU or barcode" in unknown.data
    finish = client.post(f"/returns/{rma.id}/receive", data={"action": "finish", "scanned": ["TEE-M", "TEE-M", "CAP"]})
    assert finish.status_code == 302 and finish.headers["Location"].endswith(f"/returns/{rma.id}/inspect")
    assert rma.status == "received" and rma.lines[-1].unexpected
    detail = client.get(f"/returns/{rma.id}").data.decode()
    assert "unexpected item" in detail and "received 3 unit(s) of 2 expected" in detail


def test_inspection_restocks_refurbishes_and_reports_bad_choices(client, login_as, stocked):
    _order, rma = _rma(stocked, "TEE-M", 2, "too_small")
    returns.receive_rma(rma.id, {"TEE-M": 2})
    first, second = rma.lines[0].units
    login_as("returns")
    page = client.get(f"/returns/{rma.id}/inspect")
    assert page.status_code == 200 and b"Suggested: E0-1" in page.data
    bad = client.post(f"/returns/{rma.id}/inspect", data={f"grade-{first.id}": "D", f"disposition-{first.id}": "restock"})
    assert bad.status_code == 422 and b"grade A or B" in bad.data and b"Describe the defect" in bad.data
    client.post(f"/returns/{rma.id}/inspect", data={f"grade-{first.id}": "A", f"disposition-{first.id}": "restock"})
    assert rma.status == "received" and first.disposition == "restock"
    done = client.post(f"/returns/{rma.id}/inspect", data={f"grade-{second.id}": "C", f"disposition-{second.id}": "refurbish",
                                                             f"defect-{second.id}": "seam split"})
    assert done.status_code == 302 and rma.status == "inspected"
    task = _db.session.scalar(select(RefurbishTask))
    assert b"seam split" in client.get("/returns/refurbish").data
    client.post(f"/returns/refurbish/{task.id}", data={"outcome": "restock"})
    assert task.status == "done"


def test_the_refund_queue_requests_issues_and_pays(client, login_as, stocked):
    _order, rma = _rma(stocked)
    returns.receive_rma(rma.id, {"MUG": 1})
    returns.inspect_by_sku(rma.id, [{"sku": "MUG", "disposition": "write_off", "defect": "broken"}])
    login_as("returns")
    assert rma.number.encode() in client.get("/returns/refunds").data
    bad = client.post(f"/returns/{rma.id}/refund", data={f"amount-{rma.lines[0].id}": "99.00"})
    assert bad.status_code == 422 and b"At most 60.00" in bad.data
    client.post(f"/returns/{rma.id}/refund", data={"restocking_fee": "", "shipping": ""})
    refund, = rma.refunds
    assert refund.status == "approved" and b"Issue refund" in client.get("/returns/refunds?view=to_issue").data
    client.post(f"/returns/refunds/{refund.id}/issue")
    assert refund.status == "issued" and rma.status == "refunded"
    client.post(f"/returns/refunds/{refund.id}/pay", data={"reference": ""})
    assert refund.status == "issued"
    client.post(f"/returns/refunds/{refund.id}/pay", data={"reference": "BACS 1234"})
    assert refund.status == "paid" and rma.status == "closed"


def test_an_admin_approves_a_big_refund_from_the_queue_but_not_their_own(client, login_as, make_user, stocked):
    order = shipped_order(lines=(("TEE-M", 2),), price="150.00")
    clerk = make_user("returns", "clerk")
    rma = returns.open_rma(order.number, [{"sku": "TEE-M", "qty": 2, "reason": "defective"}], user_id=clerk.id)
    returns.receive_rma(rma.id, {"TEE-M": 2})
    returns.inspect_by_sku(rma.id, [{"sku": "TEE-M", "disposition": "restock"}])
    returns.request_refund(rma.id, user_id=clerk.id)
    refund, = rma.refunds
    login_as("admin")
    queue = client.get("/returns/refunds?view=approval").data
    assert refund.number.encode() in queue and b"Approve" in queue
    client.post(f"/returns/refunds/{refund.id}/decide", data={"decision": "approve", "note": "ok"})
    assert refund.status == "approved"


def test_the_return_label_is_served_as_a_pdf(client, login_as, stocked):
    _order, rma = _rma(stocked, reason="wrong_item")
    login_as("returns")
    response = client.get(f"/returns/{rma.id}/label.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")


def test_policies_are_edited_by_returns_and_read_only_for_retail(client, login_as, stocked):
    login_as("returns")
    bad = client.post("/returns/policies", data={"channel": "WEB", "window_days": "400", "restocking_fee_pct": "x"})
    assert bad.status_code == 422 and b"0 to 365" in bad.data and b"percentage" in bad.data
    saved = client.post("/returns/policies", data={"channel": "WEB", "window_days": "14", "restocking_fee_pct": "10",
                                                   "non_returnable_skus": "mug", "retailer_pays_reasons": ["defective"]})
    assert saved.status_code == 302
    policy = returns.policy_for(stocked.channels["WEB"].id)
    assert policy.window_days == 14 and policy.non_returnable_skus == {"MUG"}


def test_retail_may_not_change_a_policy(client, login_as, stocked):
    login_as("retail")
    assert client.get("/returns/policies").status_code == 200
    assert client.post("/returns/policies", data={"channel": "WEB", "window_days": "1"}).status_code == 403


def test_the_analytics_page_shows_rates_reasons_and_charts(client, login_as, stocked):
    _order, rma = _rma(stocked)
    login_as("returns")
    page = client.get("/returns/analytics").data.decode()
    assert "Return rate" in page and "<svg" in page and "Defective" in page and "33.3%" in page
    assert client.get("/returns/analytics?from=2020-13-40", headers={"HX-Request": "true"}).status_code == 200


def test_a_signed_shopify_refund_webhook_opens_an_rma(client, stocked):
    from tests.factories import make_sku, ship_order
    from app.services import inventory, orders
    from app.domain.inventory import Cause
    from tests.factories import order_draft
    for code in ("IPOD2008BLACK", "IPOD2008GREEN"):
        sku = make_sku(code, price="199.00")
        _db.session.commit()
        inventory.receive_stock(sku.id, stocked.bins["E0-1"].id, 3, cause=Cause("po", "seed"))
    order = orders.capture_order("WEB", order_draft("450789469", [("IPOD2008BLACK", 1), ("IPOD2008GREEN", 1)],
                                                    price="199.00"), source="shopify").order
    ship_order(order)
    response = shopify_post(client, fixture_bytes("shopify_python_api__refund.json"), topic="refunds/create",
                            webhook_id="wh-refund-1")
    assert response.status_code == 200, response.data
    rma = _db.session.scalar(select(Rma))
    assert rma.order_id == order.id and rma.channel_refund_id == "509562969" and rma.units_expected == 2
    assert rma.number in response.get_json().get("message", "") or rma.refunds[0].paid_by_channel
