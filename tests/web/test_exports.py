"""CSV exports: the lists' own filters, the roles of their screens, and 100,000 rows streamed in bounded memory."""
from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import timedelta

from sqlalchemy import insert

from app.extensions import db as _db
from app.models import StockMove
from app.models.types import utcnow
from app.services import ledger
from app.domain.inventory import Outside
from app.web.export import csv_lines
from tests.services.test_kpis import new_customer_order

ROWS = 100_000


def _rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_the_sku_export_follows_the_lists_filters(client, login_as, world):
    login_as("procurement")
    rows = _rows(client.get("/exports/skus.csv?q=MUG"))
    assert rows[0][:3] == ["SKU", "Name", "Category"] and [r[0] for r in rows[1:]] == ["MUG"]
    assert len(_rows(client.get("/exports/skus.csv"))) == 4


def test_the_order_export_is_for_the_roles_that_see_the_inbox(client, login_as, world):
    order = new_customer_order("X1", [("MUG", 1)])
    new_customer_order("X2", [("CAP", 1)])
    login_as("retail")
    rows = _rows(client.get("/exports/orders.csv?q=" + order.number))
    assert [r[0] for r in rows[1:]] == [order.number]
    assert len(_rows(client.get("/exports/orders.csv"))) == 3


def test_a_role_without_the_inbox_may_not_export_orders(client, login_as, world):
    login_as("warehouse")
    assert client.get("/exports/orders.csv").status_code == 403


def test_text_a_spreadsheet_would_run_as_a_formula_is_defused():
    lines = list(csv_lines(["a", "b"], [["=HYPERLINK(1)", "-3"], [-3, None]]))
    assert lines == ["a,b\r\n", "'=HYPERLINK(1),'-3\r\n", "-3,\r\n"]


def test_a_hundred_thousand_stock_moves_stream_out_in_bounded_memory(client, login_as, world):
    sku, bin_ = world.skus["MUG"], world.bins["E0-1"]
    supplier = ledger.outside(Outside.SUPPLIER)
    _db.session.commit()
    start = utcnow() - timedelta(days=30)
    for chunk in range(0, ROWS, 10_000):
        _db.session.execute(insert(StockMove), [
            {"sku_id": sku.id, "qty": 1 + n % 7, "from_location_id": supplier.id, "from_status": None,
             "to_location_id": bin_.id, "to_status": "available", "reason": "receipt", "cause_type": "test",
             "cause_id": str(n), "note": "", "created_at": start + timedelta(seconds=n)}
            for n in range(chunk, chunk + 10_000)])
    _db.session.commit()
    login_as("warehouse")
    tracemalloc.start()
    try:
        response = client.get(f"/exports/skus/{sku.id}/moves.csv", buffered=False)
        baseline, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        lines = size = 0
        for chunk in response.iter_encoded():
            lines += chunk.count(b"\n")
            size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    response.close()
    print(f"streamed {lines} lines, {size / 1e6:.1f} MB; peak memory growth {(peak - baseline) / 1e6:.2f} MB")
    assert lines == ROWS + 1
    assert size > 5_000_000  # the file itself is several megabytes ...
    assert peak - baseline < 30_000_000, f"peak grew by {(peak - baseline) / 1e6:.1f} MB"  # ... and never held whole
