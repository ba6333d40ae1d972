"""Demo KPI history: every KPI measured as of the end of each of the last 90 days from the seeded records."""
from __future__ import annotations

from app.services.demo import demo_seeder
from app.services.kpis import TREND_DAYS, backfill_snapshots, registry


@demo_seeder(90)
def seed_kpi_history(rng, *, orders: int) -> str:
    """Back-fill daily snapshots so the dashboards have trends from the first start."""
    stored = backfill_snapshots(TREND_DAYS)
    return f"{stored} KPI snapshots ({len(registry())} KPIs × {TREND_DAYS} days)"
