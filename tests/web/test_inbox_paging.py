"""The order inbox at scale: pages seek from a neighbouring order, counts stop at a cap, search uses indexes."""
from __future__ import annotations

import html
import re
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import event

from app.domain.capture import Address, LineDraft, OrderDraft
from app.extensions import db as database
from app.services import order_queries, orders

PLACED = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)


def capture(external_id: str, *, name="Amelia Hughes", sku="CAP", channel="WEB", postcode="BA1 2QT",
            placed_at=PLACED):
    draft = OrderDraft(external_id=external_id, number=f"#{external_id}", currency="GBP", placed_at=placed_at,
                       updated_at=None, customer_name=name, customer_email=f"{name.split()[0].lower()}@example.co.uk",
                       ship_to=Address(name=name, address1="1 High Street", city="Bath", postcode=postcode,
                                       country="GB"),
                       billing_country=None, payment_captured=True, lines=(LineDraft(sku, 1, Decimal("18.00")),),
                       shipping=Decimal("0"), shipping_tax=Decimal("0"), order_discount=Decimal("0"),
                       total=Decimal("18.00"))
    return orders.capture_order(channel, draft, source="api").order


def order_ids(body: bytes) -> list[int]:
    return [int(i) for i in re.findall(rb'href="/orders/(\d+)"', body)]


def link(body: bytes, rel: str) -> str | None:
    found = re.search(rb'href="([^"]+)"[^>]*rel="' + rel.encode() + rb'"', body)
    return html.unescape(found.group(1).decode()) if found else None


def walk(client, url: str, rel: str) -> list[list[int]]:
    """The order ids of each page, following the `rel` link from `url` until there is none."""
    pages = []
    while url:
        body = client.get(url).data
        pages.append(order_ids(body))
        url = link(body, rel)
    return pages


def test_next_pages_continue_without_duplicates_or_gaps_when_orders_share_a_timestamp(client, login_as, world):
    made = [capture(f"K{n}").id for n in range(120)]  # every one placed at the same moment
    login_as("retail")
    pages = walk(client, "/orders", "next")
    assert [len(p) for p in pages] == [50, 50, 20]
    seen = [i for p in pages for i in p]
    assert len(seen) == len(set(seen)) == 120 and set(seen) == set(made)
    assert seen == sorted(made, reverse=True)  # newest first; the id breaks the tie
    last = client.get("/orders?" + link(client.get("/orders").data, "next").split("?", 1)[1]).data
    assert b"page 2 of 3" in last and b'older=' in link(last, "next").encode()


def test_previous_pages_seek_back_to_the_same_rows(client, login_as, world):
    for n in range(120):
        capture(f"B{n}")
    login_as("retail")
    forward = walk(client, "/orders", "next")
    third = "/orders?" + link(client.get("/orders?" + link(client.get("/orders").data, "next").split("?", 1)[1]).data,
                              "next").split("?", 1)[1]
    backward = walk(client, third, "prev")
    assert backward == forward[::-1]


def test_the_next_page_keeps_the_filters_and_search(client, login_as, world):
    for n in range(120):
        capture(f"F{n}", name="Zora Fielding" if n % 2 else "Ada Byron", channel="WEB")
    capture("F-other", name="Zora Fielding", channel="AMZ")
    login_as("retail")
    first = client.get("/orders?q=fielding&channel=WEB").data
    following = link(first, "next")
    assert following and "q=fielding" in following and "channel=WEB" in following and "older=" in following
    second = client.get(following).data
    ids = order_ids(first) + order_ids(second)
    assert len(ids) == len(set(ids)) == 60 and link(second, "next") is None
    assert b"60 orders" in first and b"page 1 of 2" in first and b"page 2 of 2" in second


def test_a_page_number_from_an_old_link_still_opens_that_page(client, login_as, world):
    for n in range(55):
        capture(f"O{n}")
    login_as("retail")
    body = client.get("/orders?page=2").data
    assert len(order_ids(body)) == 5 and b"page 2 of 2" in body and link(body, "prev") == "/orders"
    assert client.get("/orders?older=nonsense&newer=-4&page=zz").status_code == 200
    assert len(order_ids(client.get("/orders?older=999999").data)) == 50  # an unknown order: the top


def test_browsing_counts_each_status_only_up_to_the_cap(client, login_as, world, monkeypatch):
    for n in range(7):
        capture(f"C{n}")
    monkeypatch.setattr(order_queries, "COUNT_CAP", 2)  # the seven fall into two statuses
    login_as("retail")
    body = client.get("/orders").data
    assert b"2+" in body and b"4+ orders" in body and b"page 1 of" not in body and b"page 1" in body
    searched = client.get("/orders?q=amelia").data  # a search counts its matches exactly
    assert b"7 orders" in searched and b"2+" not in searched


def test_search_finds_names_emails_postcodes_skus_and_identifiers(client, login_as, world):
    amelia = capture("S1", name="Amelia Hughes", sku="MUG", postcode="LS1 4AB")
    oliver = capture("S2", name="Oliver Grant", sku="TEE-M")
    login_as("retail")

    def found(q):
        return set(order_ids(client.get("/orders", query_string={"q": q}).data)) & {amelia.id, oliver.id}
    assert found("ughe") == {amelia.id}  # a substring of the name
    assert found("oliver@example") == {oliver.id}
    assert found("ls1 4ab") == {amelia.id}
    assert found("MUG") == {amelia.id}
    assert found(amelia.number) == {amelia.id} and found("S2") == {oliver.id} and found("#S2") == {oliver.id}
    assert found("100%_") == set()


def test_the_inbox_runs_the_same_statements_however_many_rows_a_page_shows(client, login_as, world):
    login_as("retail")
    capture("N0")
    client.get("/orders")

    def statements(url):
        client.get(url)  # the signed-in user and the channels are loaded again after the captures' commits
        seen = []
        listener = lambda *args: seen.append(args[2])
        event.listen(database.engine, "before_cursor_execute", listener)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(database.engine, "before_cursor_execute", listener)
        return len(seen)
    one = {url: statements(url) for url in ("/orders", "/orders?q=amelia", "/orders?status=backordered")}
    for n in range(1, 60):
        capture(f"N{n}", sku="MUG" if n % 2 else "CAP")
    many = {url: statements(url) for url in one}
    assert many == one
