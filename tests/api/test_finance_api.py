"""Finance over the JSON API: trial balance, journal, margins, P&L and valuation; bad input is a 4xx."""
from __future__ import annotations

from decimal import Decimal

import pytest

from app.services.people import create_token
from tests.api import bearer
from tests.services.test_finance_flows import place_order, receive, ship


@pytest.fixture()
def shipped(world):
    receive(world, "MUG", "E0-1", 10, "4.0000")
    order = place_order(world, "API1", [("MUG", 2)], shipping=Decimal("2.50"), total=Decimal("22.50"))
    ship(order.shipments[0])
    return order


@pytest.fixture()
def auth(make_user):
    tokens: dict[str, str] = {}

    def headers(role: str = "finance"):
        if role not in tokens:
            tokens[role] = create_token(make_user(role, f"{role}-api").username)
        return bearer(tokens[role])
    return headers


def test_the_trial_balance_lists_every_account_and_its_columns_are_equal(client, shipped, auth):
    body = client.get("/api/v1/finance/trial-balance", headers=auth()).get_json()
    assert body["balanced"] is True and body["total_debit"] == body["total_credit"]
    codes = {a["code"]: a for a in body["accounts"]}
    assert codes["1200"]["debit"] == "40.00" and codes["1200"]["credit"] == "8.00"
    assert codes["4000"]["credit"] == "20.00" and codes["4100"]["credit"] == "2.50"
    assert sum(Decimal(a["debit"]) for a in body["accounts"]) == Decimal(body["total_debit"])


def test_the_trial_balance_as_of_an_earlier_date_is_empty_and_a_bad_date_is_refused(client, shipped, auth):
    body = client.get("/api/v1/finance/trial-balance?as_of=2001-01-01", headers=auth()).get_json()
    assert body["total_debit"] == "0.00" and body["balanced"]
    bad = client.get("/api/v1/finance/trial-balance?as_of=01/01/2001", headers=auth())
    assert bad.status_code == 422 and bad.get_json()["error"] == "invalid"


def test_margins_by_order_give_revenue_cost_and_contribution(client, shipped, auth):
    body = client.get("/api/v1/finance/margins?by=order", headers=auth()).get_json()
    row, = body["items"]
    assert row["label"] == shipped.number and row["net_revenue"] == "22.50" and row["cogs"] == "8.00"
    assert row["handling"] == "0.80" and row["contribution"] == "13.70"  # two units at the warehouse's 0.40
    assert body["totals"]["contribution"] == "13.70" and body["total"] == 1
    assert client.get("/api/v1/finance/margins?by=planet", headers=auth()).status_code == 400


def test_the_pnl_by_month_and_by_channel(client, shipped, auth):
    body = client.get("/api/v1/finance/pnl", headers=auth()).get_json()
    gross = next(l for l in body["lines"] if l["name"] == "Gross profit")
    assert gross["total"] == "14.50"
    by_channel = client.get("/api/v1/finance/pnl?by=channel&channel=WEB", headers=auth()).get_json()
    assert "WEB" in by_channel["columns"]
    for query in ("from=2026-13", "from=2026-05&to=2026-01", "by=year", "from=1900-01&to=2100-01"):
        assert client.get(f"/api/v1/finance/pnl?{query}", headers=auth()).status_code == 400, query
    assert client.get("/api/v1/finance/pnl?channel=NOPE", headers=auth()).status_code == 404


def test_valuation_agrees_with_the_inventory_account(client, shipped, auth):
    body = client.get("/api/v1/finance/valuation", headers=auth()).get_json()
    assert body["agrees"] and body["inventory_account"] == body["valuation"] == "32.00"
    east, = body["warehouses"]
    assert east["statuses"]["available"] == {"units": 8, "value": "32.00"}


def test_the_journal_lists_entries_with_their_lines_and_pages(client, shipped, auth):
    body = client.get("/api/v1/finance/journal?source_type=invoice", headers=auth()).get_json()
    entry, = body["items"]
    assert entry["source_id"] == "INV-000001" and {l["account"] for l in entry["lines"]} >= {"1100", "4000", "4100"}
    assert client.get("/api/v1/finance/journal?from=yesterday", headers=auth()).status_code == 422
    assert client.get("/api/v1/finance/journal?q=%25_&account=x", headers=auth()).status_code == 200
    assert client.get("/api/v1/finance/journal?q=%00", headers=auth()).status_code == 400


def test_finance_endpoints_refuse_other_roles_and_are_in_the_openapi_document(client, shipped, auth):
    assert client.get("/api/v1/finance/trial-balance", headers=auth("retail")).status_code == 403
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/finance/trial-balance", "/api/v1/finance/margins", "/api/v1/finance/pnl",
                 "/api/v1/finance/valuation", "/api/v1/finance/journal"):
        operation = spec["paths"][path]["get"]
        assert operation["summary"] and operation["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
