"""Migrations are the only way the schema is made, so they must match the models exactly."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

VERSIONS = Path(__file__).resolve().parent.parent / "migrations" / "versions"


def database_only_indexes() -> set[str]:
    """Indexes hand-written revisions add that no model can declare (trigram, partial): named in each revision."""
    names: set[str] = set()
    for path in sorted(VERSIONS.glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"revision_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        names |= set(getattr(module, "DATABASE_ONLY_INDEXES", ()))
    return names


def test_the_migrated_schema_matches_the_models(app, db):
    skipped = database_only_indexes()

    def compared(obj, name, type_, reflected, compare_to):
        return not (type_ == "index" and name in skipped)

    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_object": compared}), db.metadata)
    assert diff == []


def test_only_indexes_a_revision_names_are_left_out_of_the_comparison():
    assert database_only_indexes() == {"ix_orders_customer_name_trgm", "ix_orders_customer_email_trgm",
                                       "ix_orders_open_promise"}
