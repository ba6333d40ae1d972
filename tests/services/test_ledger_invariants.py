"""Random sequences of ledger operations keep the ledger's invariants."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from app.domain.errors import DomainError
from app.domain.inventory import Cause
from app.extensions import db as database
from app.models import StockBalance, StockMove
from app.services import inventory
from app.services.integrity import ledger_problems

SKUS = ["TEE-M", "MUG"]
BINS = ["E0-1", "E1-2", "W0-1"]


@pytest.fixture()
def ledger_machine(world):
    class LedgerMachine(RuleBasedStateMachine):
        @initialize()
        def clear(self):
            database.session.query(StockMove).delete()
            database.session.query(StockBalance).delete()
            database.session.commit()

        def _do(self, fn, *args, **kwargs):
            try:
                fn(*args, **kwargs)
            except DomainError:
                pass  # refused operations must change nothing; the invariants check that

        @rule(sku=st.sampled_from(SKUS), bin_=st.sampled_from(BINS), qty=st.integers(1, 20))
        def receive(self, sku, bin_, qty):
            self._do(inventory.receive_stock, world.skus[sku].id, world.bins[bin_].id, qty, cause=Cause("po", 1))

        @rule(sku=st.sampled_from(SKUS), bin_=st.sampled_from(BINS), delta=st.integers(-15, 15).filter(bool))
        def adjust(self, sku, bin_, delta):
            self._do(inventory.adjust_stock, world.skus[sku].id, world.bins[bin_].id, delta,
                     reason_code="count_correction", user_id=None)

        @rule(sku=st.sampled_from(SKUS), a=st.sampled_from(BINS), b=st.sampled_from(BINS), qty=st.integers(1, 10))
        def transfer(self, sku, a, b, qty):
            if a != b:
                self._do(inventory.transfer_stock, world.skus[sku].id, world.bins[a].id, world.bins[b].id, qty, user_id=None)

        @rule(sku=st.sampled_from(SKUS), wh=st.sampled_from(["EAST", "WEST"]), qty=st.integers(1, 12))
        def reserve(self, sku, wh, qty):
            self._do(inventory.reserve_stock, world.skus[sku].id, world.warehouses[wh].id, qty, cause=Cause("shipment", 1))

        @rule(sku=st.sampled_from(SKUS), wh=st.sampled_from(["EAST", "WEST"]), qty=st.integers(1, 12))
        def release(self, sku, wh, qty):
            self._do(inventory.release_stock, world.skus[sku].id, world.warehouses[wh].id, qty, cause=Cause("shipment", 1))

        @rule(sku=st.sampled_from(SKUS), bin_=st.sampled_from(BINS), qty=st.integers(1, 5))
        def pick_and_ship(self, sku, bin_, qty):
            self._do(inventory.pick_stock, world.skus[sku].id, world.bins[bin_].id, qty, cause=Cause("shipment", 1))
            self._do(inventory.ship_stock, world.skus[sku].id, world.bins[bin_].id, qty, cause=Cause("shipment", 1))

        @invariant()
        def balances_equal_folded_moves_and_none_is_negative(self):
            assert ledger_problems() == []

        @invariant()
        def every_move_names_its_cause(self):
            assert not database.session.query(StockMove).filter((StockMove.cause_type == "") | (StockMove.cause_id == "")).count()

    return LedgerMachine


def test_random_ledger_operations_keep_balances_equal_to_moves_and_never_negative(ledger_machine):
    ledger_machine.TestCase.settings = settings(max_examples=25, stateful_step_count=20, deadline=None,
                                                suppress_health_check=list(HealthCheck))
    ledger_machine.TestCase().runTest()
