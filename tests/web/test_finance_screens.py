"""Finance screens as full pages and htmx fragments, their forms, CSV exports and PDFs."""
from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db as _db
from app.models import Supplier
from app.models.finance import CreditNote, Invoice, JournalEntry, Payment
from app.services import finance, orders
from app.services.finance import RefundLine
from tests.services.test_finance_flows import place_order, receive, return_to_stock, ship

HX = {"HX-Request": "true"}


@pytest.fixture()
def books(world):
    """Stock received, one paid order shipped and partly refunded, one unpaid order shipped."""
    receive(world, "MUG", "E0-1", 20, "4.0000")
    receive(world, "TEE-M", "E0-2", 10, "3.0000", cause=("purchase_order", "PO-2"))
    paid = place_order(world, "W1", [("MUG", 2), ("TEE-M", 1)], shipping=Decimal("3.95"), total=Decimal("33.95"))
    ship(paid.shipments[0])
    return_to_stock(world, paid, "MUG", 1)
    finance.issue_credit_note(paid.id, reference="RMA-1", lines=[RefundLine(paid.lines[0].id, 1)],
                              restocking_fee=Decimal("1.00"), reason="too small")
    unpaid = place_order(world, "W2", [("MUG", 1)], payment_captured=False, postcode="M1 1AA")
    orders.release_order_holds(unpaid.id, user_id=None)
    ship(unpaid.shipments[0])
    return {"paid": paid, "unpaid": unpaid}


SCREENS = ["/finance/journal", "/finance/trial-balance", "/finance/invoices", "/finance/credit-notes",
           "/finance/payments", "/finance/order-to-cash", "/finance/margins", "/finance/pnl", "/finance/valuation",
           "/finance/supplier-invoices", "/finance/periods"]


@pytest.mark.parametrize("url", SCREENS)
def test_every_finance_screen_opens_for_finance_with_the_sections_in_the_navigation(client, login_as, books, url):
    login_as("finance")
    response = client.get(url)
    assert response.status_code == 200, response.data[:300]
    assert b"Order to cash" in response.data and b"Period close" in response.data


def test_the_journal_filters_by_account_and_returns_only_results_to_htmx(client, login_as, books):
    login_as("finance")
    full = client.get("/finance/journal?account=1200")
    assert b"<html" in full.data and b"Received" in full.data and b"Invoice INV-000001" not in full.data
    fragment = client.get("/finance/journal?q=INV-000001", headers=HX)
    assert b"<html" not in fragment.data and b'id="results"' in fragment.data and b"INV-000001" in fragment.data
    assert b"No entries match" in client.get("/finance/journal?q=nothing-like-it").data


def test_the_journal_narrows_to_one_sku_and_names_it(client, login_as, books, world):
    login_as("finance")
    page = client.get(f"/finance/journal?sku={world.skus['TEE-M'].id}")
    assert b"Only entries for sku" in page.data and b"TEE-M" in page.data


def test_bad_filters_are_ignored_not_errors(client, login_as, books):
    login_as("finance")
    for url in ("/finance/journal?from=yesterday&page=-4&account=x", "/finance/margins?by=planet&sort=x&from=2026-02-31",
                "/finance/pnl?from=2026-13&to=abc&channel=x", "/finance/order-to-cash?view=drop&page=zz",
                "/finance/valuation?warehouse=99999999999&q=%25", "/finance/trial-balance?as_of=never",
                "/finance/invoices?q=_&channel=%C2%B2", "/finance/sources/shipment/%C2%B2", "/finance/payments?q=a%5Cb"):
        assert client.get(url).status_code == 200, url
    for url in ("/finance/journal?q=%00", "/finance/payments?q=a%00b"):  # NUL is refused before any route
        assert client.get(url).status_code == 400, url


def test_an_entry_links_to_its_source_document_which_lists_its_moves_and_postings(client, login_as, books):
    login_as("finance")
    cogs = _db.session.scalar(select(JournalEntry).where(JournalEntry.kind == "shipment"))
    page = client.get(f"/finance/journal/{cogs.id}")
    assert page.status_code == 200 and f"/finance/sources/shipment/{cogs.source_id}".encode() in page.data
    assert f"stock move #{cogs.move_id}".encode() in page.data and b"correct the stock" in page.data
    assert b"Reverse entry" not in page.data
    source = client.get(f"/finance/sources/shipment/{cogs.source_id}")
    assert b"Stock moves" in source.data and b"Cost of goods sold" in source.data and books["paid"].number.encode() in source.data


def test_reversing_a_payment_needs_a_reason_and_posts_a_mirror_entry(client, login_as, books):
    login_as("finance")
    payment = _db.session.scalar(select(Payment))
    refused = client.post(f"/finance/journal/{payment.entry_id}/reverse", data={"reason": ""}, headers=HX)
    assert refused.status_code == 422 and b"Say why" in refused.data
    done = client.post(f"/finance/journal/{payment.entry_id}/reverse", data={"reason": "chargeback"})
    assert done.status_code == 302
    assert _db.session.scalar(select(JournalEntry).where(JournalEntry.reverses_id == payment.entry_id)) is not None


def test_an_invoice_cannot_be_reversed_from_its_screen(client, login_as, books):
    login_as("finance")
    invoice = _db.session.scalar(select(Invoice))
    assert b"credit note instead" in client.get(f"/finance/journal/{invoice.entry_id}").data
    assert client.post(f"/finance/journal/{invoice.entry_id}/reverse", data={"reason": "x"}).status_code == 422


def test_recording_a_payment_names_every_bad_field_and_then_settles_the_order(client, login_as, books):
    login_as("finance")
    bad = client.post("/finance/payments", data={"order": "SO-404", "amount": "ten", "reference": "X",
                                                  "received_on": "31/12"}, headers=HX)
    assert bad.status_code == 422 and b"No order with that number" in bad.data and b"such as 120.50" in bad.data
    assert b"YYYY-MM-DD" in bad.data and b"<html" not in bad.data
    unpaid = books["unpaid"]
    over = client.post("/finance/payments", data={"order": unpaid.number, "amount": "99.00", "reference": "B1"})
    assert over.status_code == 422 and b"overpay" in over.data
    ok = client.post("/finance/payments", data={"order": unpaid.number, "amount": "10.00", "reference": "B1"})
    assert ok.status_code == 302 and finance.order_receivable(unpaid.id) == 0


def test_order_to_cash_lists_what_is_owed_and_offers_to_record_a_payment(client, login_as, books):
    login_as("finance")
    unpaid = client.get("/finance/order-to-cash?view=unpaid")
    assert books["unpaid"].number.encode() in unpaid.data and b"Record payment" in unpaid.data
    refunds = client.get("/finance/order-to-cash?view=refunds", headers=HX)
    assert b"RMA-1" in refunds.data and b"<html" not in refunds.data


def test_a_refund_is_paid_out_from_the_credit_note(client, login_as, books):
    login_as("finance")
    note = _db.session.scalar(select(CreditNote))
    assert client.post(f"/finance/credit-notes/{note.id}/pay", data={"reference": ""}, headers=HX).status_code == 422
    assert client.post(f"/finance/credit-notes/{note.id}/pay", data={"reference": "BACS-1"}).status_code == 302
    assert _db.session.get(CreditNote, note.id).refunded_at is not None
    assert client.post(f"/finance/credit-notes/{note.id}/pay", data={"reference": "BACS-2"}).status_code == 422


def _pdf_facts(data: bytes, tmp_path) -> tuple[str, str]:
    """(pdfinfo's report, the text) of a PDF, read by poppler."""
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return info, text


def test_invoice_and_credit_note_pdfs_are_a4_documents_with_their_numbers(client, login_as, books, tmp_path):
    login_as("finance")
    invoice, note = _db.session.scalar(select(Invoice)), _db.session.scalar(select(CreditNote))
    for url, number, total in ((f"/finance/invoices/{invoice.id}.pdf", invoice.number, "£33.95"),
                               (f"/finance/credit-notes/{note.id}.pdf", note.number, "£9.00")):
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        info, text = _pdf_facts(response.data, tmp_path)
        assert "(A4)" in info and re.search(r"Pages:\s+1\n", info)
        assert number in text and total in text and books["paid"].number in text


def test_margins_by_every_dimension_show_the_order_and_link_to_its_finances(client, login_as, books):
    login_as("finance")
    for by in ("order", "sku", "channel", "warehouse"):
        page = client.get(f"/finance/margins?by={by}")
        assert page.status_code == 200 and b"margin-table" in page.data and b"<svg" in page.data
    by_order = client.get("/finance/margins?by=order&sort=worst")
    assert f"/finance/orders/{books['paid'].id}".encode() in by_order.data
    detail = client.get(f"/finance/orders/{books['paid'].id}")
    assert b"INV-000001" in detail.data and b"CN-000001" in detail.data and b"Every posting for this order" in detail.data


def test_the_pnl_shows_months_or_channels(client, login_as, books):
    login_as("finance")
    month = finance.period_of(finance.today())
    by_month = client.get("/finance/pnl")
    assert month.encode() in by_month.data and b"Gross profit" in by_month.data and b"<svg" in by_month.data
    by_channel = client.get("/finance/pnl?view=channel", headers=HX)
    assert b"WEB" in by_channel.data and b"<html" not in by_channel.data
    assert f"/finance/journal?account=4000&amp;from={month}-01".encode() in by_month.data  # each figure opens its entries
    assert b"channel=" in by_channel.data


def test_valuation_reconciles_with_the_inventory_account_on_screen(client, login_as, books):
    login_as("finance")
    page = client.get("/finance/valuation")
    assert b"Agrees" in page.data and b"EAST" in page.data
    layers = client.get(f"/finance/valuation/skus/{books['paid'].lines[0].sku_id}")
    assert b"purchase_order" in layers.data.lower() or b"Purchase order" in layers.data


def test_a_supplier_invoice_is_matched_to_a_receipt_from_the_screen(client, login_as, books):
    supplier = Supplier(code="ACME", name="Acme Ceramics")
    _db.session.add(supplier)
    _db.session.commit()
    login_as("finance")
    form = client.get("/finance/supplier-invoices")
    assert b"PO-2" in form.data and b"Match invoice" in form.data
    bad = client.post("/finance/supplier-invoices", data={"receipt": "", "supplier": "", "reference": "", "amount": "x"},
                      headers=HX)
    assert bad.status_code == 422 and b"Choose the receipt" in bad.data
    ok = client.post("/finance/supplier-invoices", data={"receipt": "purchase_order:PO-2", "supplier": str(supplier.id),
                                                         "reference": "AC-77", "amount": "31.00", "tax": "6.20"})
    assert ok.status_code == 302
    assert b"AC-77" in client.get("/finance/supplier-invoices").data


def test_closing_a_month_is_confirmed_and_refuses_the_current_month(client, login_as, books):
    login_as("finance")
    page = client.get("/finance/periods")
    assert b"Before you close" in page.data and b"data-confirm" not in page.data  # only this month has entries
    current = finance.period_of(finance.today())
    response = client.post(f"/finance/periods/{current}/close", follow_redirects=True)
    assert b"has not ended" in response.data
    last = finance.period_of(finance.today().replace(day=1) - timedelta(days=1))
    assert client.post(f"/finance/periods/{last}/close").status_code == 302
    assert finance.period_is_closed(last)


def test_csv_exports_stream_every_report(client, login_as, books):
    login_as("finance")
    for url, header in (("/finance/journal.csv", b"entry,date"), ("/finance/trial-balance.csv", b"account,name"),
                        ("/finance/invoices.csv", b"invoice,date"), ("/finance/credit-notes.csv", b"credit_note"),
                        ("/finance/payments.csv", b"payment,date"), ("/finance/order-to-cash.csv?view=unpaid", b"order,"),
                        ("/finance/order-to-cash.csv?view=not_invoiced", b"shipment,"),
                        ("/finance/order-to-cash.csv?view=refunds", b"credit_note,"),
                        ("/finance/margins.csv?by=sku", b"sku,name"), ("/finance/pnl.csv", b"line,account"),
                        ("/finance/valuation.csv", b"sku,name"), ("/finance/valuation/warehouses.csv", b"warehouse,status"),
                        ("/finance/supplier-invoices.csv", b"number,supplier")):
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "text/csv", url
        assert response.is_streamed and header in response.data, url


def test_the_journal_csv_has_one_row_per_line_and_balances(client, login_as, books):
    import csv
    import io
    login_as("finance")
    rows = list(csv.DictReader(io.StringIO(client.get("/finance/journal.csv").data.decode("utf-8-sig"))))
    assert len(rows) > 10
    assert sum(Decimal(r["debit"]) for r in rows) == sum(Decimal(r["credit"]) for r in rows)


def test_other_roles_cannot_open_finance(client, login_as, books):
    login_as("warehouse")
    assert client.get("/finance/journal").status_code == 403
    assert client.get("/finance/invoices/1.pdf").status_code == 403


def test_a_source_links_to_the_other_areas_screen_only_for_roles_that_may_open_it(client, login_as, books):
    shipment = books["paid"].shipments[0].number
    login_as("finance")
    assert b"Open the order" not in client.get(f"/finance/sources/shipment/{shipment}").data
    client.post("/logout")
    login_as("admin")
    page = client.get(f"/finance/sources/shipment/{shipment}")
    assert b"Open the order" in page.data and f"/orders/{books['paid'].id}".encode() in page.data
    assert b"Purchase order" in client.get("/finance/sources/purchase_order/PO-2").data


def test_the_invoices_screen_warns_until_the_sellers_name_is_set_and_the_pdf_then_carries_it(client, login_as, books,
                                                                                          tmp_path):
    from app.services.settings import set_setting
    login_as("finance")
    assert b"print without the seller" in client.get("/finance/invoices").data
    set_setting("finance.seller_name", "Harbour & Pine Ltd")
    set_setting("finance.seller_vat_number", "GB 123 4567 89")
    assert b"print without the seller" not in client.get("/finance/invoices").data
    invoice = _db.session.scalar(select(Invoice))
    _info, text = _pdf_facts(client.get(f"/finance/invoices/{invoice.id}.pdf").data, tmp_path)
    assert "Harbour & Pine Ltd" in text and "GB 123 4567 89" in text
