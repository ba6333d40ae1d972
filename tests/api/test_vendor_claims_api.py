"""/api/v1/vendor-claims: the list with its filters, sending claims to the supplier and settling them, by role."""
from __future__ import annotations

from decimal import Decimal

import jsonschema
import pytest
from sqlalchemy import func, select

from app.api.vendor_claims import CLAIM_ITEM, LIST_RESPONSE, SENT_RESPONSE
from app.extensions import db as _db
from app.models import Event, StockMove
from app.models.finance import JournalEntry
from app.models.returns import VendorClaim
from app.services import vendor_claims
from app.services.people import create_token
from tests.api import bearer
from tests.services.test_vendor_claims import claims_world, open_claims  # noqa: F401  (fixture)



@pytest.fixture()
def tokens(make_user, claims_world):
    make_user("procurement", "pat")
    make_user("warehouse", "tom")
    make_user("returns", "rita")
    make_user("finance", "fay")
    return {"procurement": create_token("pat"), "warehouse": create_token("tom"), "returns": create_token("rita"),
            "finance": create_token("fay"), "read_only": create_token("pat", scopes="read")}


def test_the_claim_list_answers_with_filters_and_pages(client, tokens):
    mug, cap = open_claims("MUG", 1, "A1")[0], open_claims("CAP", 1, "A2")[0]
    vendor_claims.send_vendor_claims([mug.id], reference="POTS-1")
    vendor_claims.settle_vendor_claim(mug.id, credited=str(mug.claimed))
    everything = client.get("/api/v1/vendor-claims", headers=bearer(tokens["procurement"]))
    assert everything.status_code == 200
    body = everything.get_json()
    jsonschema.validate(body, LIST_RESPONSE)
    assert body["total"] == 2 and {c["number"] for c in body["items"]} == {mug.number, cap.number}
    settled = client.get("/api/v1/vendor-claims?status=settled", headers=bearer(tokens["procurement"])).get_json()
    assert [c["number"] for c in settled["items"]] == [mug.number]
    assert settled["items"][0]["credited"] == str(mug.claimed) and settled["items"][0]["reference"] == "POTS-1"
    by_supplier = client.get("/api/v1/vendor-claims?supplier=HATS&q=CAP", headers=bearer(tokens["procurement"]))
    assert [c["number"] for c in by_supplier.get_json()["items"]] == [cap.number]


def test_a_bad_status_is_a_400_and_the_wrong_role_a_403(client, tokens):
    bad = client.get("/api/v1/vendor-claims?status=lost", headers=bearer(tokens["procurement"]))
    assert bad.status_code == 400 and bad.get_json()["error"] == "invalid"
    assert client.get("/api/v1/vendor-claims", headers=bearer(tokens["warehouse"])).status_code == 403
    assert client.get("/api/v1/vendor-claims").status_code == 401


# --- sending and settling ----------------------------------------------------------------------------------------

def send(client, token: str, body) -> object:
    return client.post("/api/v1/vendor-claims/send", json=body, headers=bearer(token))


def settle(client, token: str, number: str, body) -> object:
    return client.post(f"/api/v1/vendor-claims/{number}/settle", json=body, headers=bearer(token))


def fresh(number: str) -> VendorClaim:
    _db.session.expire_all()
    return _db.session.scalar(select(VendorClaim).where(VendorClaim.number == number))


def nothing_written(*numbers: str) -> bool:
    """The claims are still open, no unit left for the supplier and no event or journal entry was recorded."""
    _db.session.expire_all()
    claims = [fresh(n) for n in numbers]
    moves = _db.session.scalar(select(func.count()).select_from(StockMove)
                               .where(StockMove.cause_type == "vendor_claim"))
    events = _db.session.scalar(select(func.count()).select_from(Event)
                                .where(Event.type.in_(("vendor_claim.sent", "vendor_claim.settled"))))
    return all(c.status == "open" and c.sent_at is None for c in claims) and moves == 0 and events == 0


def test_claims_are_sent_by_number_and_answer_as_the_list_shows_them(client, tokens):
    mugs = open_claims("MUG", 2, "S1")
    answer = send(client, tokens["returns"], {"claims": [mugs[1].number, mugs[0].number.lower(), mugs[1].number],
                                              "reference": "  POTS-RMA-9 "})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    jsonschema.validate(body, SENT_RESPONSE)
    assert [c["number"] for c in body["items"]] == [mugs[0].number, mugs[1].number]
    assert all(c["status"] == "sent" and c["reference"] == "POTS-RMA-9" and c["sent_at"] for c in body["items"])
    listed = client.get("/api/v1/vendor-claims?status=sent", headers=bearer(tokens["returns"])).get_json()
    assert sorted(listed["items"], key=lambda c: c["id"]) == body["items"]
    claim = fresh(mugs[0].number)
    assert claim.sent_by.username == "rita"
    moves = _db.session.scalars(select(StockMove).where(StockMove.cause_type == "vendor_claim")).all()
    assert sorted(m.cause_id for m in moves) == sorted(c.number for c in mugs)


def test_a_sent_claim_is_settled_with_its_credit_and_the_journal_entry_is_posted(client, tokens):
    claim = open_claims("MUG", 1, "S2")[0]
    assert send(client, tokens["procurement"], {"claims": [claim.number], "reference": "POTS-1"}).status_code == 200
    answer = settle(client, tokens["finance"], claim.number, {"credited": str(claim.claimed), "note": "in full"})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    jsonschema.validate(body, CLAIM_ITEM)
    assert body["status"] == "settled" and body["credited"] == str(claim.claimed) and body["note"] == "in full"
    settled = fresh(claim.number)
    assert settled.settled_by.username == "fay" and settled.entry_id is not None
    entry = _db.session.get(JournalEntry, settled.entry_id)
    assert entry.kind == "vendor_claim_credit" and entry.source_id == claim.number
    assert sum(line.debit for line in entry.lines) == sum(line.credit for line in entry.lines) > 0


def test_a_partial_credit_needs_a_note_and_a_refusal_settles_at_zero(client, tokens):
    first, second = open_claims("MUG", 2, "S3")
    send(client, tokens["returns"], {"claims": [first.number, second.number], "reference": "POTS-2"})
    short = settle(client, tokens["returns"], first.number, {"credited": "1.00"})
    assert short.status_code == 422 and set(short.get_json()["fields"]) == {"note"}
    assert fresh(first.number).status == "sent" and fresh(first.number).entry_id is None
    partial = settle(client, tokens["returns"], first.number, {"credited": "1.5", "note": "one chip allowed"})
    assert partial.status_code == 200 and partial.get_json()["credited"] == "1.50"
    refused = settle(client, tokens["returns"], second.number, {"credited": "0", "note": "misuse"})
    assert refused.status_code == 200 and refused.get_json()["credited"] == "0.00"
    assert fresh(second.number).entry_id is not None


@pytest.mark.parametrize("body, field", [
    ([], "body"),
    ({"reference": "R"}, "claims"),
    ({"claims": [], "reference": "R"}, "claims"),
    ({"claims": "VC-000001", "reference": "R"}, "claims"),
    ({"claims": [1], "reference": "R"}, "claims"),
    ({"claims": [None], "reference": "R"}, "claims"),
    ({"claims": ["VC-1"] * 201, "reference": "R"}, "claims"),
    ({"claims": ["{claim}"]}, "reference"),
    ({"claims": ["{claim}"], "reference": "   "}, "reference"),
    ({"claims": ["{claim}"], "reference": 7}, "reference"),
    ({"claims": ["{claim}"], "reference": ["R"]}, "reference"),
])
def test_a_malformed_sending_is_refused_naming_the_field_and_nothing_moves(client, tokens, body, field):
    claim = open_claims("MUG", 1, "S4")[0]
    if isinstance(body, dict) and body.get("claims") == ["{claim}"]:
        body = {**body, "claims": [claim.number]}
    answer = send(client, tokens["returns"], body)
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["error"] == "invalid" and field in answer.get_json()["fields"]
    assert nothing_written(claim.number)


def test_a_body_that_is_not_json_is_refused(client, tokens):
    claim = open_claims("MUG", 1, "S5")[0]
    for data, kind in (("claims=VC-1", "application/x-www-form-urlencoded"), ("{not json", "application/json")):
        answer = client.post("/api/v1/vendor-claims/send", data=data, content_type=kind,
                             headers=bearer(tokens["returns"]))
        assert answer.status_code == 422 and answer.get_json()["fields"] == {"body": answer.get_json()["message"]}
        answer = client.post(f"/api/v1/vendor-claims/{claim.number}/settle", data=data, content_type=kind,
                             headers=bearer(tokens["returns"]))
        assert answer.status_code in (409, 422)
    assert nothing_written(claim.number)


def test_a_nul_character_anywhere_is_a_400_before_anything_is_written(client, tokens):
    claim = open_claims("MUG", 1, "S12")[0]
    for answer in (send(client, tokens["returns"], {"claims": [claim.number + "\x00"], "reference": "R"}),
                   send(client, tokens["returns"], {"claims": [claim.number], "reference": "R\x00"})):
        assert answer.status_code == 400 and answer.get_json()["error"] == "invalid"
    assert nothing_written(claim.number)
    send(client, tokens["returns"], {"claims": [claim.number], "reference": "R"})
    for body in ({"credited": "1\x00"}, {"credited": "1.00", "note": " \x00 "}):
        assert settle(client, tokens["returns"], claim.number, body).status_code == 400
    assert fresh(claim.number).status == "sent"


def test_sending_an_unknown_claim_is_a_404_and_the_known_ones_stay_open(client, tokens):
    claim = open_claims("MUG", 1, "S6")[0]
    answer = send(client, tokens["returns"], {"claims": [claim.number, "VC-999999"], "reference": "R"})
    assert answer.status_code == 404 and answer.get_json()["error"] == "not_found"
    assert "VC-999999" in answer.get_json()["message"] and claim.number not in answer.get_json()["message"]
    assert nothing_written(claim.number)


def test_sending_a_claim_twice_or_to_two_suppliers_is_refused_whole(client, tokens):
    mug, cap = open_claims("MUG", 1, "S7")[0], open_claims("CAP", 1, "S8")[0]
    mixed = send(client, tokens["returns"], {"claims": [mug.number, cap.number], "reference": "R"})
    assert mixed.status_code == 422 and "claims" in mixed.get_json()["fields"]
    assert nothing_written(mug.number, cap.number)
    assert send(client, tokens["returns"], {"claims": [mug.number], "reference": "R"}).status_code == 200
    again = send(client, tokens["returns"], {"claims": [mug.number], "reference": "R2"})
    assert again.status_code == 409 and again.get_json()["error"] == "conflict"
    assert mug.number in again.get_json()["message"] and fresh(mug.number).reference == "R"


def test_only_a_sent_claim_settles_and_only_once(client, tokens):
    claim = open_claims("MUG", 1, "S9")[0]
    early = settle(client, tokens["returns"], claim.number, {"credited": "1.00", "note": "x"})
    assert early.status_code == 409 and fresh(claim.number).status == "open"
    send(client, tokens["returns"], {"claims": [claim.number], "reference": "R"})
    assert settle(client, tokens["returns"], claim.number, {"credited": str(claim.claimed)}).status_code == 200
    twice = settle(client, tokens["returns"], claim.number, {"credited": "0", "note": "changed our mind"})
    assert twice.status_code == 409
    settled = fresh(claim.number)
    assert settled.credited == claim.claimed and settled.note == ""
    assert _db.session.scalar(select(func.count()).select_from(JournalEntry)
                              .where(JournalEntry.kind == "vendor_claim_credit")) == 1


@pytest.mark.parametrize("number", ["VC-999999", "nope", "VC-1%00", "%20VC-000001"])
def test_settling_an_unknown_claim_is_a_404(client, tokens, number):
    answer = settle(client, tokens["returns"], number, {"credited": "1.00"})
    assert answer.status_code == 404 and answer.get_json()["error"] == "not_found"


@pytest.mark.parametrize("body, field", [
    ({}, "credited"),
    ({"credited": 12.5}, "credited"),
    ({"credited": 3}, "credited"),
    ({"credited": True}, "credited"),
    ({"credited": None}, "credited"),
    ({"credited": ""}, "credited"),
    ({"credited": "twelve"}, "credited"),
    ({"credited": "NaN"}, "credited"),
    ({"credited": "Infinity"}, "credited"),
    ({"credited": "1e400"}, "credited"),
    ({"credited": "-1.00"}, "credited"),
    ({"credited": "1.005", "note": "n"}, "credited"),
    ({"credited": "999999.00"}, "credited"),
    ({"credited": "0" * 29 + "1.50", "note": "n"}, "credited"),
    ({"credited": "1.00", "note": 5}, "note"),
    ({"credited": "1.00", "note": ["why"]}, "note"),
])
def test_a_malformed_settlement_is_refused_naming_the_field_and_nothing_is_posted(client, tokens, body, field):
    claim = open_claims("MUG", 1, "S10")[0]
    send(client, tokens["returns"], {"claims": [claim.number], "reference": "R"})
    answer = settle(client, tokens["returns"], claim.number, body)
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["error"] == "invalid" and set(answer.get_json()["fields"]) == {field}
    still = fresh(claim.number)
    assert still.status == "sent" and still.credited is None and still.entry_id is None
    assert _db.session.scalar(select(func.count()).select_from(JournalEntry)
                              .where(JournalEntry.kind == "vendor_claim_credit")) == 0


def test_sending_and_settling_need_a_claim_role_and_a_write_token(client, tokens):
    claim = open_claims("MUG", 1, "S11")[0]
    body = {"claims": [claim.number], "reference": "R"}
    for token, status in ((tokens["warehouse"], 403), (tokens["read_only"], 403), ("nope", 401)):
        assert send(client, token, body).status_code == status
        assert settle(client, token, claim.number, {"credited": "1.00"}).status_code == status
    assert client.post("/api/v1/vendor-claims/send", json=body).status_code == 401
    assert nothing_written(claim.number)
    assert send(client, tokens["procurement"], body).status_code == 200
    assert fresh(claim.number).credited is None


def test_both_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    send_op = paths["/api/v1/vendor-claims/send"]["post"]
    settle_op = paths["/api/v1/vendor-claims/{number}/settle"]["post"]
    assert send_op["requestBody"]["content"]["application/json"]["schema"]["required"] == ["claims", "reference"]
    credited = settle_op["requestBody"]["content"]["application/json"]["schema"]["properties"]["credited"]
    assert credited["type"] == "string"
    assert settle_op["responses"]["200"]["content"]["application/json"]["schema"] == CLAIM_ITEM
