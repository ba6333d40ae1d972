"""Scheduled jobs: thin wrappers that each call one service inside the app context."""
from __future__ import annotations

import logging

from flask import Flask

from app.extensions import scheduler

log = logging.getLogger("keel.jobs")


def check_ledger_job(app: Flask) -> None:
    from app.services.integrity import ledger_problems
    with app.app_context():
        problems = ledger_problems()
        if problems:
            log.error("stock ledger check found %d problems, first: %s", len(problems), problems[0])
        else:
            log.info("stock ledger check: balances agree with moves")


def routing_job(app: Flask) -> None:
    from app.services.routing import scheduled_run_due, run_scheduled
    with app.app_context():
        if scheduled_run_due():
            run = run_scheduled()
            if run is not None:
                log.info("routing run %s: %s, %s orders", run.id, run.status, run.orders_count)


# (id, function, trigger kwargs). Later areas add routing, waves, replenishment, event delivery, KPIs.
JOBS = [
    ("check_ledger", check_ledger_job, {"trigger": "cron", "hour": 2, "minute": 15}),
    ("routing", routing_job, {"trigger": "interval", "minutes": 1}),
]


def start_scheduler(app: Flask) -> None:
    """Start the in-process scheduler with every job (make run, or `flask scheduler`)."""
    if scheduler.running:
        return
    for job_id, fn, trigger in JOBS:
        scheduler.add_job(fn, id=job_id, args=[app], replace_existing=True, coalesce=True, max_instances=1, **trigger)
    scheduler.start()
    log.info("scheduler started with %d jobs", len(JOBS))
