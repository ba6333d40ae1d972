"""Backup and restore of the whole database, on SQLite and PostgreSQL: what was changed after the backup
is gone after the restore, and the stock ledger still adds up."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.domain.errors import ValidationError
from app.domain.inventory import Cause
from app.extensions import db as database
from app.models import Sku, StockBalance, StockMove, User
from app.services import backup, inventory
from app.services.integrity import ledger_problems
from app.services.people import create_user


def snapshot() -> dict:
    database.session.expire_all()
    return {"moves": database.session.scalar(select(func.count()).select_from(StockMove)),
            "units": database.session.scalar(select(func.sum(StockBalance.qty))),
            "mug": database.session.scalar(select(Sku.name).where(Sku.code == "MUG")),
            "users": sorted(database.session.scalars(select(User.username)))}


def change_everything(world) -> None:
    inventory.adjust_stock(world.skus["TEE-M"].id, world.bins["E0-1"].id, -3, reason_code="damaged_in_warehouse", user_id=None)
    inventory.receive_stock(world.skus["CAP"].id, world.bins["W0-1"].id, 9, cause=Cause("po", 2))
    database.session.get(Sku, world.skus["MUG"].id).name = "Renamed after the backup"
    database.session.commit()
    create_user("late-arrival", "retail", "correct-horse-9")


@pytest.fixture()
def stocked(world):
    inventory.receive_stock(world.skus["TEE-M"].id, world.bins["E0-1"].id, 10, cause=Cause("po", 1))
    inventory.receive_stock(world.skus["MUG"].id, world.bins["W0-2"].id, 4, cause=Cause("po", 1))
    return world


def test_a_restore_brings_back_exactly_what_was_backed_up(stocked, tmp_path):
    before, mug_id = snapshot(), stocked.skus["MUG"].id
    result = backup.backup_database(tmp_path / "keel.backup")
    assert result.size_bytes > 0 and result.path.exists()
    change_everything(stocked)
    assert snapshot() != before
    backup.restore_database(result.path)
    assert snapshot() == before
    assert ledger_problems() == []
    assert database.session.get(Sku, mug_id).price == Decimal("10.00")


def test_the_commands_back_up_and_restore(app, stocked, tmp_path):
    target = tmp_path / "nightly" / "keel.backup"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0 and "Backed up" in result.output
    before = snapshot()
    change_everything(stocked)
    refused = runner.invoke(args=["restore", str(target)], input="n\n")
    assert refused.exit_code != 0 and snapshot() != before
    result = runner.invoke(args=["restore", "--yes", str(target)])
    assert result.exit_code == 0, result.output
    assert "schema is up to date" in result.output
    assert snapshot() == before and ledger_problems() == []


def test_a_file_that_is_not_a_backup_is_refused_and_changes_nothing(stocked, tmp_path):
    before = snapshot()
    bogus = tmp_path / "notes.txt"
    bogus.write_text("shopping list")
    with pytest.raises(ValidationError):
        backup.restore_database(bogus)
    with pytest.raises(ValidationError):
        backup.restore_database(tmp_path / "missing.backup")
    assert snapshot() == before


def test_a_backup_never_leaves_a_half_written_file(stocked, tmp_path):
    target = tmp_path / "keel.backup"
    backup.backup_database(target)
    first = target.read_bytes()
    backup.backup_database(target)
    assert target.exists() and not (tmp_path / "keel.backup.partial").exists()
    assert len(target.read_bytes()) == len(first) or database.engine.dialect.name == "postgresql"
    with pytest.raises(ValidationError):
        backup.backup_database(tmp_path)
