"""Procurement and approvals screens: full pages and htmx fragments, forms with field errors, and the buyer's flow."""
from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db as database
from app.models.purchasing import PurchaseOrder, ReplenishmentLine
from app.services import purchasing, replenishment
from app.services.purchasing import local_today
from tests.services.test_purchasing import sent_po
from tests.services.test_replenishment import steady  # noqa: F401  (fixture)

HTMX = {"HX-Request": "true"}


@pytest.fixture()
def buyer(login_as):
    return login_as("procurement")


def test_the_replenishment_screen_invites_a_first_run(client, buyer, db):
    page = client.get("/procurement/replenishment")
    assert page.status_code == 200 and b"No replenishment run has finished yet" in page.data


def test_running_now_lists_what_to_buy_with_its_reason(client, buyer, world, steady):
    response = client.post("/procurement/replenishment/run")
    assert response.status_code == 302
    page = client.get("/procurement/replenishment").data.decode()
    assert "MUG" in page and "Why: available 20; position 20 ≤ reorder point 28.2" in page
    assert 'name="qty-' in page and "Run history" in page
    fragment = client.get("/procurement/replenishment?show=all&q=MUG", headers=HTMX)
    assert fragment.data.decode().lstrip().startswith('<div id="suggestions">') and b"<html" not in fragment.data
    assert "HX-Request" in fragment.headers["Vary"]


def test_ticked_suggestions_become_a_draft_po(client, buyer, world, steady):
    replenishment.run_replenishment()
    line = database.session.scalars(select(ReplenishmentLine)).one()
    response = client.post("/procurement/replenishment/draft", data={"line": str(line.id), f"qty-{line.id}": "48"})
    po = database.session.scalars(select(PurchaseOrder)).one()
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/procurement/purchase-orders/{po.id}")
    assert po.lines[0].qty_ordered == 48 and po.created_by_id == buyer.id


def test_drafting_nothing_or_a_broken_pack_re_renders_with_422(client, buyer, world, steady):
    replenishment.run_replenishment()
    line = database.session.scalars(select(ReplenishmentLine)).one()
    assert client.post("/procurement/replenishment/draft", data={}).status_code == 422
    response = client.post("/procurement/replenishment/draft", data={"line": str(line.id), f"qty-{line.id}": "40"})
    assert response.status_code == 422 and b"packs of 6" in response.data
    assert database.session.scalar(select(PurchaseOrder.id)) is None


def test_the_forecast_detail_shows_a_chart_and_the_figures(client, buyer, world, steady):
    replenishment.run_replenishment()
    line = database.session.scalars(select(ReplenishmentLine)).one()
    page = client.get(f"/procurement/replenishment/lines/{line.id}").data.decode()
    assert "<svg" in page and "Reorder point" in page and "ACME" in page.upper()
    assert client.get("/procurement/replenishment/lines/999").status_code == 404


def test_a_new_po_form_names_each_bad_row_and_saves_a_good_one(client, buyer, world, steady):
    form = {"supplier": str(steady.id), "warehouse": str(world.warehouses["EAST"].id), "note": "",
            "lines-0-sku": "MUG", "lines-0-qty": "7", "lines-0-unit_cost": "",
            "lines-1-sku": "NOPE", "lines-1-qty": "x", "lines-1-unit_cost": "abc",
            "lines-2-sku": "", "lines-2-qty": "", "lines-2-unit_cost": ""}
    response = client.post("/procurement/purchase-orders/new", data=form)
    assert response.status_code == 422
    body = response.data.decode()
    assert "No SKU with that code." in body and "Enter a whole number of units." in body and "Enter a unit cost" in body
    form.update({"lines-1-sku": "", "lines-1-qty": "", "lines-1-unit_cost": ""})
    response = client.post("/procurement/purchase-orders/new", data=form)
    assert response.status_code == 422 and "packs of 6" in response.data.decode()
    form["lines-0-qty"] = "12"
    response = client.post("/procurement/purchase-orders/new", data=form)
    po = database.session.scalars(select(PurchaseOrder)).one()
    assert response.status_code == 302 and po.units == 12 and po.lines[0].unit_cost == Decimal("2.5")
    more = client.post("/procurement/purchase-orders/new", data={**form, "add_line": "1"})
    assert more.status_code == 200 and "lines-5-sku" in more.data.decode()


def test_a_po_goes_from_draft_to_received_and_put_away_through_its_page(client, buyer, world, steady):
    po = purchasing.draft_purchase_order(steady.id, world.warehouses["EAST"].id,
                                         [purchasing.LineInput(world.skus["MUG"].id, 24)], user_id=buyer.id)
    line = po.lines[0]
    assert b"Save lines" in client.get(f"/procurement/purchase-orders/{po.id}").data
    client.post(f"/procurement/purchase-orders/{po.id}/lines", data={f"qty-{line.id}": "36", f"cost-{line.id}": "2.5"})
    assert po.units == 36
    line = po.lines[0]  # saving a draft's lines writes them afresh
    client.post(f"/procurement/purchase-orders/{po.id}/send")
    assert po.status == "sent"
    due = (local_today() + timedelta(days=5)).isoformat()
    client.post(f"/procurement/purchase-orders/{po.id}/confirm", data={"expected_date": due, "supplier_reference": "S1"})
    client.post(f"/procurement/purchase-orders/{po.id}/shipment",
                data={f"asn-{line.id}": "30", "asn_expected_date": due, "asn_reference": "ASN-9"})
    assert po.status == "confirmed" and po.lines[0].qty_in_transit == 30
    over = client.post(f"/procurement/purchase-orders/{po.id}/receive", data={f"receive-{line.id}": "50"})
    assert over.status_code == 422 and b"would be more than" in over.data
    client.post(f"/procurement/purchase-orders/{po.id}/receive",
                data={f"receive-{line.id}": "30", "receive_note": "pallet 1"})
    assert po.status == "partially_received" and po.lines[0].qty_received == 30
    page = client.get(f"/procurement/purchase-orders/{po.id}").data.decode()
    suggested = re.search(rf'name="bin-{line.id}"[^>]*value="([^"]*)"', page).group(1)
    assert suggested == "E0-1"  # already holds mugs
    client.post(f"/procurement/purchase-orders/{po.id}/put-away", data={f"putaway-{line.id}": "30",
                                                                         f"bin-{line.id}": suggested})
    assert po.lines[0].qty_put_away == 30
    client.post(f"/procurement/purchase-orders/{po.id}/close", data={"note": "rest cancelled by supplier"})
    assert po.status == "closed" and po.lines[0].qty_cancelled == 6


def test_a_bad_bin_or_date_is_a_422_with_the_field_named(client, buyer, world, steady):
    po = sent_po(world, steady, [("MUG", 12, None)])
    line = po.lines[0]
    response = client.post(f"/procurement/purchase-orders/{po.id}/shipment", data={f"asn-{line.id}": "12"})
    assert response.status_code == 422 and b"Enter the date the shipment should arrive" in response.data
    client.post(f"/procurement/purchase-orders/{po.id}/receive", data={f"receive-{line.id}": "12"})
    response = client.post(f"/procurement/purchase-orders/{po.id}/put-away",
                           data={f"putaway-{line.id}": "5", f"bin-{line.id}": "Z9-9"})
    assert response.status_code == 422 and b"No active bin" in response.data
    assert client.post("/procurement/purchase-orders/999/receive").status_code == 404


def pdf_info(data: bytes, folder) -> str:
    path = folder / "po.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout


def test_the_po_pdf_is_an_a4_document_once_sent(client, buyer, world, steady, tmp_path):
    po = purchasing.draft_purchase_order(steady.id, world.warehouses["EAST"].id,
                                         [purchasing.LineInput(world.skus["MUG"].id, 24)], user_id=buyer.id)
    assert client.get(f"/procurement/purchase-orders/{po.id}.pdf").status_code == 409
    purchasing.send_purchase_order(po.id, user_id=buyer.id)
    response = client.get(f"/procurement/purchase-orders/{po.id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
    info = pdf_info(response.data, tmp_path)
    assert "(A4)" in info and re.search(r"Pages:\s+1\n", info) and "Purchase order PO-" in info


def test_the_po_list_filters_and_answers_fragments(client, buyer, world, steady):
    sent_po(world, steady, [("MUG", 12, None)])
    purchasing.draft_purchase_order(steady.id, world.warehouses["WEST"].id,
                                    [purchasing.LineInput(world.skus["CAP"].id, 3, Decimal("1"))], user_id=None)
    page = client.get("/procurement/purchase-orders").data.decode()
    assert page.count("PO-0000") >= 2
    fragment = client.get("/procurement/purchase-orders?status=draft", headers=HTMX).data.decode()
    assert fragment.lstrip().startswith('<div id="results">') and "CAP" not in fragment and fragment.count("PO-0000") == 1
    assert "No purchase orders match" in client.get("/procurement/purchase-orders?q=zzz").data.decode()


def test_suppliers_rank_and_a_supplier_is_edited_with_its_catalogue_and_contacts(client, buyer, world, steady):
    assert b"Performance ranking" in client.get("/procurement/suppliers?days=30").data
    page = client.get(f"/procurement/suppliers/{steady.id}").data.decode()
    assert "Fill rate" in page and "MUG" in page
    bad = client.post(f"/procurement/suppliers/{steady.id}/edit", data={"code": "", "name": "Acme", "country": "GB",
                                                                       "currency": "GBP", "lead_time_days": "x",
                                                                       "payment_days": "30", "incoterm": "DAP"})
    assert bad.status_code == 422 and b"A code of 1 to 20 characters" in bad.data
    good = client.post(f"/procurement/suppliers/{steady.id}/edit", data={
        "code": "ACME", "name": "Acme Homeware", "country": "GB", "currency": "EUR", "lead_time_days": "12",
        "payment_days": "45", "incoterm": "FCA", "active": "1"})
    assert good.status_code == 302 and steady.name == "Acme Homeware" and steady.currency == "EUR"
    offer_form = {"sku": "CAP", "unit_cost": "3.25", "pack_size": "4", "moq": "8", "lead_time_days": "", "active": "1"}
    assert client.post(f"/procurement/suppliers/{steady.id}/skus", data=offer_form).status_code == 302
    assert client.post(f"/procurement/suppliers/{steady.id}/skus", data={**offer_form, "sku": "NOPE"}).status_code == 422
    assert client.post(f"/procurement/suppliers/{steady.id}/contacts", data={"name": "Ana", "email": "x"}).status_code == 422
    assert client.post(f"/procurement/suppliers/{steady.id}/contacts", data={"name": "Ana"}).status_code == 302
    fragment = client.get(f"/procurement/suppliers/{steady.id}?q=CAP", headers=HTMX).data.decode()
    assert fragment.lstrip().startswith('<div id="catalogue">') and "CAP" in fragment and "MUG" not in fragment
    new = client.post("/procurement/suppliers/new", data={"code": "NEWCO", "name": "New Co", "country": "GB",
                                                          "currency": "GBP", "lead_time_days": "7", "payment_days": "30",
                                                          "incoterm": "DAP", "active": "1"})
    assert new.status_code == 302


def test_a_promotion_is_previewed_with_charts_and_committed(client, buyer, world, steady):
    replenishment.run_replenishment()
    today = local_today()
    form = {"skus": "MUG", "uplift_pct": "50", "starts_on": (today + timedelta(days=12)).isoformat(),
            "ends_on": (today + timedelta(days=18)).isoformat(), "warehouse": "", "name": ""}
    preview = client.post("/procurement/scenarios", data={**form, "action": "preview"}, headers=HTMX)
    body = preview.data.decode()
    assert preview.status_code == 200 and body.lstrip().startswith('<div id="scenario">') and body.count("<svg") == 1
    assert "Commit the promotion" in body
    nameless = client.post("/procurement/scenarios", data={**form, "action": "commit"})
    assert nameless.status_code == 422 and b"Name the promotion" in nameless.data
    committed = client.post("/procurement/scenarios", data={**form, "name": "Mug week", "action": "commit"})
    assert committed.status_code == 302
    assert b"Mug week" in client.get("/procurement/scenarios").data
    bad = client.post("/procurement/scenarios", data={**form, "skus": "", "uplift_pct": "lots", "action": "preview"})
    assert bad.status_code == 422 and b"List the SKUs on promotion" in bad.data


def test_finance_approves_a_large_po_from_its_inbox_and_the_buyer_sees_the_decision(client, app, world, steady,
                                                                                     make_user):
    buyer = make_user("procurement", "luis")
    po = sent_po(world, steady, [("MUG", 3000, None)], user=buyer)
    assert po.status == "awaiting_approval"
    make_user("finance", "hannah")
    client.post("/login", data={"username": "hannah", "password": "correct-horse-9"})
    inbox = client.get("/approvals/").data.decode()
    assert po.number in inbox and "Approve" in inbox
    response = client.post(f"/approvals/{po.approval_request_id}/decide", data={"decision": "approve", "note": "ok"})
    assert response.status_code == 302 and po.status == "approved"
    client.post("/logout")
    client.post("/login", data={"username": "luis", "password": "correct-horse-9"})
    mine = client.get("/approvals/mine").data.decode()
    assert "Approved" in mine and "Test finance" in mine


def test_the_buyer_cannot_approve_their_own_po_from_the_inbox(client, world, steady, make_user):
    admin = make_user("admin", "alex")
    po = sent_po(world, steady, [("MUG", 3000, None)], user=admin)
    client.post("/login", data={"username": "alex", "password": "correct-horse-9"})
    assert "another person decides" in client.get("/approvals/").data.decode()
    response = client.post(f"/approvals/{po.approval_request_id}/decide", data={"decision": "approve"})
    assert response.status_code == 403 and po.status == "awaiting_approval"


def test_a_rejected_po_shows_who_rejected_it_and_why(client, world, steady, make_user):
    from app.services.approvals import decide_approval
    buyer = make_user("procurement", "luis")
    po = sent_po(world, steady, [("MUG", 3000, None)], user=buyer)
    decide_approval(po.approval_request_id, make_user("finance", "hannah").id, False, "split it over two months")
    client.post("/login", data={"username": "luis", "password": "correct-horse-9"})
    page = client.get(f"/procurement/purchase-orders/{po.id}").data.decode()
    assert "Rejected by Test finance" in page and "split it over two months" in page and "Save lines" in page


def test_finance_sees_what_a_po_holds_without_a_link_to_a_screen_it_may_not_open(client, world, steady, make_user):
    buyer = make_user("procurement", "luis")
    po = sent_po(world, steady, [("MUG", 3000, None)], user=buyer)
    make_user("finance", "hannah")
    client.post("/login", data={"username": "hannah", "password": "correct-horse-9"})
    inbox = client.get("/approvals/").data.decode()
    assert "MUG 3000 × 2.5" in inbox and "7,500.00 GBP" in inbox
    assert f"/procurement/purchase-orders/{po.id}" not in inbox
