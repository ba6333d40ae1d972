"""Every role opens Keel to its dashboard: KPI tiles with trend charts, and a KPI traced to its records."""
from __future__ import annotations

import pytest

from app.domain.roles import Role
from app.services import kpis
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.browser


def test_each_role_sees_its_kpis_with_a_chart_and_can_open_the_records_behind_one(page, make_user, world):
    kpis.backfill_snapshots(7)
    for role in Role:
        user = make_user(role.value, f"e2e-{role.value}")
        context = page.context
        context.clear_cookies()
        sign_in(page, user.username)
        assert page.locator("h1").first.inner_text().startswith("Good to see you")
        assert page.locator("#attention").is_visible()
        owned = kpis.kpis_owned_by(role.value)
        if not owned:
            continue
        tile = page.locator(f'a.kpi-tile[data-kpi="{owned[0].code}"]')
        assert tile.is_visible()
        assert tile.locator("svg.sparkline").count() == 1
        tile.click()
        page.wait_for_url(f"**/kpis/{owned[0].code}")
        assert page.locator("h2", has_text="Records behind the figure").is_visible()
        assert page.locator("a", has_text="Export CSV").is_visible()
        page.goto(page.base_url + "/")
