"""A random mix of receipts, reservations, shipments, returns, adjustments, write-offs, transfers, payments
and refunds keeps the books true: the trial balance sums to zero, the inventory account equals the
valuation, cost layers hold exactly the stock on hand, and invoice and credit note numbers have no gaps."""
from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import select

from app.domain.errors import DomainError
from app.domain.inventory import Cause, Outside, Reason, Status
from app.extensions import db as database
from app.models.finance import CreditNote, Invoice, JournalEntry, JournalLine
from app.models.orders import Order, Shipment
from app.services import finance, inventory, ledger, orders
from app.services.finance_reports import trial_balance
from app.services.integrity import ledger_problems
from app.services.ledger import Place
from app.services.valuation import valuation_problems
from tests.services.test_finance_flows import place_order, receive, ship

SKUS = ["TEE-M", "MUG", "CAP"]
BINS = ["E0-1", "E1-2", "W0-1", "W1-1"]
COSTS = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("40"), places=4)


@pytest.fixture()
def finance_machine(world):
    serial = itertools.count(1)

    class Books(RuleBasedStateMachine):
        def _try(self, fn, *args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except DomainError:
                database.session.rollback()  # a refused step changes nothing; the invariants check that
                return None

        @rule(sku=st.sampled_from(SKUS), bin_=st.sampled_from(BINS), qty=st.integers(1, 25), cost=COSTS | st.none())
        def receive_from_a_supplier(self, sku, bin_, qty, cost):
            self._try(receive, world, sku, bin_, qty, str(cost) if cost is not None else None,
                      cause=("purchase_order", f"PO-{next(serial)}"))

        @rule(items=st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 4)), min_size=1, max_size=3,
                             unique_by=lambda item: item[0]),
              channel=st.sampled_from(["WEB", "AMZ"]), paid=st.booleans(), shipping=st.sampled_from(["0", "3.95"]))
        def place_an_order(self, items, channel, paid, shipping):
            n = next(serial)
            total = sum(Decimal("10.00") * qty for _, qty in items) + Decimal(shipping)
            order = self._try(place_order, world, f"H{n}", items, channel=channel, payment_captured=paid,
                              shipping=Decimal(shipping), total=total, postcode=f"T{n} 1AA")
            if order is not None and order.status == "on_hold":
                self._try(orders.release_order_holds, order.id, user_id=None)

        @rule(pick=st.integers(0, 1000))
        def ship_a_shipment(self, pick):
            waiting = list(database.session.scalars(select(Shipment).where(Shipment.status == "allocated")
                                                    .order_by(Shipment.id)))
            if waiting:
                self._try(ship, waiting[pick % len(waiting)])

        @rule(pick=st.integers(0, 1000), bin_=st.sampled_from(BINS), restock=st.booleans())
        def return_a_unit(self, pick, bin_, restock):
            shipped = list(database.session.scalars(select(Order).where(Order.id.in_(
                select(Shipment.order_id).where(Shipment.status == "shipped"))).order_by(Order.id)))
            if not shipped:
                return
            order = shipped[pick % len(shipped)]
            line = next((l for l in order.lines if l.qty_shipped), None)
            if line is None:
                return
            status = Status.AVAILABLE if restock else Status.DAMAGED
            self._try(self._return, order, line, bin_, status)

        def _return(self, order, line, bin_, status):
            ledger.post_move(line.sku_id, 1, Place(ledger.outside(Outside.CUSTOMER)), Place(world.bins[bin_], status),
                             reason=Reason.RETURN, cause=Cause("order", order.number))
            database.session.commit()

        @rule(pick=st.integers(0, 1000), fee=st.sampled_from(["0", "1.00"]))
        def refund_a_unit(self, pick, fee):
            invoiced = list(database.session.scalars(select(Invoice).order_by(Invoice.id)))
            if invoiced:
                invoice = invoiced[pick % len(invoiced)]
                goods = [l for l in invoice.lines if l.kind == "goods"]
                if goods:
                    self._try(finance.issue_credit_note, invoice.order_id, reference=f"RMA-{next(serial)}",
                              lines=[finance.RefundLine(goods[0].order_line_id, 1)], restocking_fee=Decimal(fee))

        @rule(pick=st.integers(0, 1000))
        def pay_what_an_order_owes(self, pick):
            ids = list(database.session.scalars(select(Invoice.order_id).distinct().order_by(Invoice.order_id)))
            if ids:
                order_id = ids[pick % len(ids)]
                owed = finance.order_receivable(order_id)
                if owed > 0:
                    self._try(finance.record_payment, order_id, owed, f"BANK-{next(serial)}")

        @rule(pick=st.integers(0, 1000))
        def pay_out_a_refund(self, pick):
            pending = list(database.session.scalars(select(CreditNote).where(CreditNote.refunded_at.is_(None),
                                                                            CreditNote.refund_due > 0)))
            if pending:
                self._try(finance.pay_refund, pending[pick % len(pending)].id, reference=f"OUT-{next(serial)}")

        @rule(sku=st.sampled_from(SKUS), bin_=st.sampled_from(BINS), delta=st.integers(-8, 8).filter(bool),
              reason=st.sampled_from(["count_correction", "found", "theft_or_loss", "opening_balance"]))
        def adjust(self, sku, bin_, delta, reason):
            self._try(inventory.adjust_stock, world.skus[sku].id, world.bins[bin_].id, delta, reason_code=reason,
                      user_id=None)

        @rule(sku=st.sampled_from(SKUS), bin_=st.sampled_from(BINS), qty=st.integers(1, 5),
              status=st.sampled_from([Status.AVAILABLE, Status.DAMAGED]))
        def write_off(self, sku, bin_, qty, status):
            self._try(self._scrap, sku, bin_, qty, status)

        def _scrap(self, sku, bin_, qty, status):
            ledger.post_move(world.skus[sku].id, qty, Place(world.bins[bin_], status), Place(ledger.outside(Outside.SCRAP)),
                             reason=Reason.SCRAP, cause=Cause("scrap", next(serial)))
            database.session.commit()

        @rule(sku=st.sampled_from(SKUS), a=st.sampled_from(BINS), b=st.sampled_from(BINS), qty=st.integers(1, 6),
              via_transit=st.booleans())
        def move_between_bins_and_warehouses(self, sku, a, b, qty, via_transit):
            if via_transit:
                self._try(self._via_transit, sku, a, b, qty)
            elif a != b:
                self._try(inventory.transfer_stock, world.skus[sku].id, world.bins[a].id, world.bins[b].id, qty,
                          user_id=None)

        def _via_transit(self, sku, a, b, qty):
            transit = Place(ledger.outside(Outside.TRANSIT), Status.IN_TRANSIT)
            cause = Cause("transfer", next(serial))
            ledger.post_move(world.skus[sku].id, qty, Place(world.bins[a], Status.AVAILABLE), transit,
                             reason=Reason.TRANSFER, cause=cause)
            database.session.commit()
            ledger.post_move(world.skus[sku].id, qty, transit, Place(world.bins[b], Status.AVAILABLE),
                             reason=Reason.TRANSFER, cause=cause)
            database.session.commit()

        @rule(sku=st.sampled_from(SKUS), bin_=st.sampled_from(BINS), qty=st.integers(1, 4))
        def quarantine(self, sku, bin_, qty):
            self._try(inventory.change_stock_status, world.skus[sku].id, world.bins[bin_].id, qty, "available",
                      "quarantined", cause=Cause("count", 1), user_id=None)

        @invariant()
        def the_trial_balance_sums_to_zero(self):
            balance = trial_balance()
            assert balance.total_debit == balance.total_credit

        @invariant()
        def every_entry_balances(self):
            sums = database.session.execute(select(JournalLine.entry_id, JournalLine.debit, JournalLine.credit)).all()
            per_entry: dict[int, Decimal] = {}
            for entry_id, dr, cr in sums:
                per_entry[entry_id] = per_entry.get(entry_id, Decimal(0)) + dr - cr
            assert all(v == 0 for v in per_entry.values())

        @invariant()
        def the_inventory_account_equals_the_valuation(self):
            assert valuation_problems() == []
            assert ledger_problems() == []

        @invariant()
        def document_numbers_have_no_gaps(self):
            for model in (Invoice, CreditNote):
                numbers = list(database.session.scalars(select(model.sequence).order_by(model.sequence)))
                assert numbers == list(range(1, len(numbers) + 1))

    return Books


def test_a_random_mix_of_flows_keeps_the_books_true(finance_machine):
    finance_machine.TestCase.settings = settings(max_examples=12, stateful_step_count=25, deadline=None,
                                                 suppress_health_check=list(HealthCheck))
    finance_machine.TestCase().runTest()
    assert database.session.query(JournalEntry).count() > 0
