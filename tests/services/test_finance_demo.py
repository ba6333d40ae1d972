"""On the demo data the books balance, the inventory account equals the valuation, postings carry the
dates of their history, every shipped shipment is invoiced, and margins trace to orders."""
from __future__ import annotations

from sqlalchemy import func, select

from app.models.finance import Invoice, JournalEntry
from app.models.orders import Shipment
from app.services import finance
from app.services.demo import seed_demo_data
from app.services.finance_reports import margins, period_rows, reconciliation, trial_balance


def test_the_demo_books_balance_and_the_inventory_account_equals_the_valuation(db):
    summary = seed_demo_data(orders=150)
    assert "trial balance balances" in summary and "equals the inventory account" in summary, summary
    balance = trial_balance()
    assert balance.balanced and balance.total_debit > 0
    check = reconciliation()
    assert check.agrees and check.account == check.layers > 0, check.problems[:5]

    shipped = db.session.scalar(select(func.count(Shipment.id)).where(Shipment.status == "shipped"))
    assert shipped and db.session.scalar(select(func.count(Invoice.id))) == shipped

    opening = db.session.scalar(select(func.min(JournalEntry.entry_date)).where(JournalEntry.kind == "opening_balance"))
    assert opening < finance.today() and db.session.scalar(select(func.min(JournalEntry.entry_date))) == opening
    months = {row.period for row in period_rows() if row.entries}
    assert len(months) >= 3  # the history spreads over the last three months
    assert any(row.closed for row in period_rows())

    by_order = margins("order", sort="worst")
    assert by_order.total and all(row.net_revenue >= 0 for row in by_order.items)
