"""The vendor claims screen: list, filters, outstanding per supplier, send with a reference, settle, CSV, roles."""
from __future__ import annotations

from app.extensions import db as _db
from tests.services.test_vendor_claims import claims_world, open_claims  # noqa: F401  (fixture)


def row(claim) -> bytes:
    return f'id="claim-{claim.id}"'.encode()


def test_the_claim_list_filters_by_status_supplier_and_search_with_fragments(client, login_as, claims_world):
    mug, cap = open_claims("MUG", 1, "W1")[0], open_claims("CAP", 1, "W2")[0]
    login_as("returns")
    full = client.get("/vendor-claims")
    assert full.status_code == 200 and b"<html" in full.data
    assert row(mug) in full.data and row(cap) in full.data
    assert b"Outstanding by supplier" in full.data and b"Pots Ltd" in full.data and b"Hats &amp; Co" in full.data
    fragment = client.get("/vendor-claims?supplier=HATS", headers={"HX-Request": "true"})
    assert b"<html" not in fragment.data and b'id="results"' in fragment.data
    assert row(cap) in fragment.data and row(mug) not in fragment.data
    assert row(mug) not in client.get(f"/vendor-claims?q={cap.rma.number}").data
    assert row(mug) in client.get("/vendor-claims?q=mug").data
    assert row(mug) not in client.get("/vendor-claims?status=sent").data
    assert b"No vendor claims match" in client.get("/vendor-claims?q=nothing-like-it").data
    assert client.get("/vendor-claims?status=bogus&page=abc&supplier=NOPE").status_code == 200


def test_an_empty_list_says_where_claims_come_from(client, login_as, claims_world):
    login_as("procurement")
    page = client.get("/vendor-claims")
    assert page.status_code == 200 and b"No vendor claims yet" in page.data


def test_procurement_marks_claims_sent_with_the_supplier_reference(client, login_as, claims_world):
    first, second = open_claims("MUG", 2, "W3")
    login_as("procurement")
    done = client.post("/vendor-claims/send", data={"claim": [str(first.id), str(second.id)], "reference": "POTS-9",
                                                    "supplier": "POTS"})
    assert done.status_code == 302 and "supplier=POTS" in done.headers["Location"]
    _db.session.refresh(first)
    assert first.status == "sent" and first.reference == "POTS-9"
    page = client.get("/vendor-claims?status=sent")
    assert b"POTS-9" in page.data and f"/vendor-claims/{first.id}/settle".encode() in page.data


def test_sending_without_a_reference_or_claims_or_across_suppliers_answers_422(client, login_as, claims_world):
    mug, cap = open_claims("MUG", 1, "W4")[0], open_claims("CAP", 1, "W5")[0]
    login_as("returns")
    no_reference = client.post("/vendor-claims/send", data={"claim": [str(mug.id)], "reference": " "})
    assert no_reference.status_code == 422 and b"Enter the supplier" in no_reference.data
    assert b'aria-invalid="true"' in no_reference.data and b"checked" in no_reference.data
    nothing = client.post("/vendor-claims/send", data={"reference": "X"})
    assert nothing.status_code == 422 and b"Choose at least one claim" in nothing.data
    mixed = client.post("/vendor-claims/send", data={"claim": [str(mug.id), str(cap.id)], "reference": "X"})
    assert mixed.status_code == 422 and b"one supplier" in mixed.data
    _db.session.refresh(mug)
    assert mug.status == "open"


def test_settling_asks_for_the_credit_confirms_and_refuses_bad_amounts(client, login_as, claims_world):
    claim = open_claims("MUG", 1, "W6")[0]
    login_as("returns")
    client.post("/vendor-claims/send", data={"claim": [str(claim.id)], "reference": "R-1"})
    form = client.get(f"/vendor-claims/{claim.id}/settle")
    assert form.status_code == 200 and b"data-confirm" in form.data and str(claim.claimed).encode() in form.data
    bad = client.post(f"/vendor-claims/{claim.id}/settle", data={"credited": "lots", "note": ""},
                      headers={"HX-Request": "true"})
    assert bad.status_code == 422 and b"<html" not in bad.data and b"such as 12.50" in bad.data
    short = client.post(f"/vendor-claims/{claim.id}/settle", data={"credited": "0", "note": ""})
    assert short.status_code == 422 and b"Say why" in short.data
    done = client.post(f"/vendor-claims/{claim.id}/settle", data={"credited": "0", "note": "refused: misuse"})
    assert done.status_code == 302
    _db.session.refresh(claim)
    assert claim.status == "settled" and claim.credited == 0 and claim.entry_id is not None
    again = client.post(f"/vendor-claims/{claim.id}/settle", data={"credited": "0", "note": "x"})
    assert again.status_code == 409 and b"only a sent claim" in again.data
    assert client.get("/vendor-claims/99999/settle").status_code == 404


def test_the_rma_links_its_claims_to_the_list_and_the_csv_follows_the_filters(client, login_as, claims_world):
    claim = open_claims("MUG", 1, "W7")[0]
    open_claims("CAP", 1, "W8")
    login_as("returns")
    detail = client.get(f"/returns/{claim.rma_id}")
    assert f'/vendor-claims?q={claim.number}'.encode() in detail.data
    csv = client.get("/vendor-claims.csv?supplier=POTS")
    text = csv.get_data(as_text=True)
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert claim.number in text and "CAP" not in text.split("\n", 1)[1] and "Claimed" in text


def test_retail_sees_the_rma_without_a_claim_link_and_may_not_open_claims(client, login_as, claims_world):
    claim = open_claims("MUG", 1, "W9")[0]
    login_as("retail")
    assert b"/vendor-claims?q=" not in client.get(f"/returns/{claim.rma_id}").data
    assert client.get("/vendor-claims").status_code == 403
    assert client.post("/vendor-claims/send", data={"claim": [str(claim.id)], "reference": "X"}).status_code == 403


def test_finance_traces_a_settled_claim_to_its_posting_and_its_claim(client, login_as, claims_world):
    claim = open_claims("MUG", 1, "W6")[0]
    login_as("returns")
    client.post("/vendor-claims/send", data={"claim": [str(claim.id)], "reference": "R-7"})
    client.post(f"/vendor-claims/{claim.id}/settle", data={"credited": str(claim.claimed), "note": ""})
    client.post("/logout")
    login_as("finance")
    page = client.get(f"/finance/sources/vendor_claim/{claim.number}").data.decode()
    assert f"Vendor claim <span class=\"mono\">{claim.number}</span>" in page and "their reference R-7" in page
    assert f"/vendor-claims?q={claim.number}" in page and "Open the vendor claim" in page
