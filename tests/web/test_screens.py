"""The foundation's screens as full pages and as htmx fragments."""
from __future__ import annotations

from app.domain.inventory import Cause
from app.services import inventory

HX = {"HX-Request": "true"}


def test_signing_in_with_the_wrong_password_is_refused_with_a_clear_message(client, make_user):
    make_user("retail", "priya")
    response = client.post("/login", data={"username": "priya", "password": "nope"})
    assert response.status_code == 401
    assert b"do not match" in response.data


def test_five_wrong_passwords_lock_the_account_for_a_while(client, make_user):
    make_user("retail", "priya")
    for _ in range(5):
        client.post("/login", data={"username": "priya", "password": "nope"})
    response = client.post("/login", data={"username": "priya", "password": "correct-horse-9"})
    assert response.status_code == 401


def test_signing_in_lands_on_the_dashboard_with_the_roles_own_navigation(client, login_as, world):
    login_as("warehouse")
    page = client.get("/")
    assert page.status_code == 200
    assert b"Stock value" in page.data and b"SKUs" in page.data
    assert b"Users" not in page.data


def test_signing_out_ends_the_session(client, login_as):
    login_as("finance")
    client.post("/logout")
    assert client.get("/").status_code == 302


def test_the_sku_list_searches_and_returns_only_the_results_to_htmx(client, login_as, world):
    login_as("retail")
    full = client.get("/skus?q=MUG")
    assert full.status_code == 200 and b"<html" in full.data and b"MUG" in full.data and b"TEE-M" not in full.data
    fragment = client.get("/skus?q=TEE", headers=HX)
    assert b"<html" not in fragment.data and b'id="results"' in fragment.data and b"TEE-M" in fragment.data
    assert "HX-Request" in fragment.headers["Vary"]


def test_the_sku_list_finds_a_sku_by_its_barcode(client, login_as, world):
    login_as("retail")
    assert b"TEE-M" in client.get("/skus?q=5060123410019").data


def test_an_empty_search_says_so(client, login_as, world):
    login_as("retail")
    assert b"No SKUs match" in client.get("/skus?q=nothing-like-this").data


def test_sku_detail_shows_stock_by_warehouse_bin_and_status_with_its_moves(client, login_as, world):
    sku = world.skus["MUG"]
    inventory.receive_stock(sku.id, world.bins["E0-1"].id, 9, cause=Cause("purchase_order", "PO-7"))
    login_as("warehouse")
    page = client.get(f"/skus/{sku.id}")
    assert page.status_code == 200
    for text in (b"EAST", b"E0-1", b"PO-7", b"Available to sell"):
        assert text in page.data


def test_an_unknown_sku_is_a_friendly_404(client, login_as, world):
    login_as("warehouse")
    response = client.get("/skus/999999")
    assert response.status_code == 404 and b"Back to your dashboard" in response.data


def test_a_bad_adjustment_returns_the_form_with_422_and_messages(client, login_as, world):
    login_as("warehouse")
    response = client.post("/stock/adjust", data={"sku": "NOPE", "warehouse": "EAST", "bin": "ZZ", "delta": "abc",
                                                  "reason": ""}, headers=HX)
    assert response.status_code == 422
    body = response.data.decode()
    assert 'id="adjust-form"' in body and "<html" not in body
    for message in ("No SKU with that code", "No bin &#39;ZZ&#39; in EAST", "whole number", "Choose a reason"):
        assert message in body


def test_removing_more_than_the_bin_holds_is_refused_with_422(client, login_as, world):
    login_as("warehouse")
    response = client.post("/stock/adjust", data={"sku": "MUG", "warehouse": "EAST", "bin": "E0-1", "delta": "-3",
                                                  "reason": "theft_or_loss"})
    assert response.status_code == 422 and b"cannot take 3" in response.data


def test_a_good_adjustment_posts_a_move_and_goes_to_the_sku(client, login_as, world):
    login_as("supervisor")
    response = client.post("/stock/adjust", data={"sku": "MUG", "warehouse": "EAST", "bin": "E0-1", "delta": "4",
                                                  "reason": "found"}, headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"].endswith(f"/skus/{world.skus['MUG'].id}")


def test_warehouses_and_their_bins_are_listed(client, login_as, world):
    login_as("procurement")
    assert b"EAST" in client.get("/warehouses").data
    detail = client.get(f"/warehouses/{world.warehouses['EAST'].id}?q=E1")
    assert b"E1-1" in detail.data and b"E0-1" not in detail.data


def test_every_page_carries_the_security_headers(client):
    response = client.get("/login")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_forms_without_a_csrf_token_are_refused(app, make_user):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        make_user("retail", "priya")
        response = app.test_client().post("/login", data={"username": "priya", "password": "correct-horse-9"})
        assert response.status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
