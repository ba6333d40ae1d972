"""GET /api/v1/vendor-claims: the list with its filters, by role."""
from __future__ import annotations

import jsonschema
import pytest

from app.api.vendor_claims import LIST_RESPONSE
from app.services import vendor_claims
from app.services.people import create_token
from tests.services.test_vendor_claims import claims_world, open_claims  # noqa: F401  (fixture)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture()
def tokens(make_user, claims_world):
    make_user("procurement", "pat")
    make_user("warehouse", "tom")
    return {"procurement": create_token("pat"), "warehouse": create_token("tom")}


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
