"""Property-based checks of the whole API from its own OpenAPI document: no request, however odd,
gets a server error, and every answer matches the schema the document promises.

The document is read from an app built at collection time (it needs no database); each generated
request is sent to the test app, on the test database, as an admin with a bearer token.
(schemathesis.pytest.from_fixture would do both at once, but does not run under pytest 9.)"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from app.domain.inventory import Cause
from app.services import inventory
from app.services.people import create_token
from tests.api import bearer

MAX_EXAMPLES = 10


@pytest.fixture(scope="module")
def admin_token(app):
    """One small retailer with stock and an admin token, shared by every operation (requests may add to it)."""
    from app.extensions import db
    from app.services.people import create_user
    from tests.conftest import _wipe
    from tests.factories import build_world

    with app.app_context():
        _wipe(db)
        world = build_world()
        create_user("api-admin", "admin", "correct-horse-9")
        for sku, bin_code in (("TEE-M", "E0-1"), ("MUG", "W0-1"), ("CAP", "E1-1")):
            inventory.receive_stock(world.skus[sku].id, world.bins[bin_code].id, 20, cause=Cause("po", 1))
        token = create_token("api-admin")
        db.session.remove()
    yield token
    with app.app_context():
        db.session.remove()
        _wipe(db)


def _document_app():
    from app import create_app
    from config import TestConfig

    class DocumentOnly(TestConfig):
        SQLALCHEMY_DATABASE_URI = "sqlite://"

    return create_app(DocumentOnly)


schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _document_app())


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_the_api_never_fails_on_its_side_and_answers_as_documented(case, app, admin_token):
    case.call_and_validate(app=app, headers=bearer(admin_token),
                           checks=[not_a_server_error, response_schema_conformance])
