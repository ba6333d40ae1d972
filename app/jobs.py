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


def deliver_events_job(app: Flask) -> str:
    from app.services.outbox import deliver_for
    with app.app_context():
        return f"webhooks: {deliver_for(seconds=20)}"


def prune_history_job(app: Flask) -> str:
    from app.services.scheduling import prune_job_runs
    with app.app_context():
        return f"forgot {prune_job_runs()} job runs older than 90 days"


def kpi_snapshots_job(app: Flask) -> str:
    from app.services.kpis import take_snapshots
    with app.app_context():
        return f"stored {take_snapshots()} KPI snapshots"


def replenishment_job(app: Flask) -> str:
    from app.services.replenishment import run_replenishment
    with app.app_context():
        run = run_replenishment(trigger="nightly")
        return f"replenishment run {run.id}: {run.series} forecasts, {run.suggestions} to buy, {run.seconds:.1f} s"


def retry_labels_job(app: Flask) -> None:
    from app.services.shipping import retry_label_requests
    with app.app_context():
        result = retry_label_requests()
        if result["labelled"] or result["waiting"]:
            log.info("label retry: %d labelled, %d still waiting for the carrier", result["labelled"], result["waiting"])


def plan_waves_job(app: Flask) -> None:
    from app.services.waves import plan_all_warehouses
    with app.app_context():
        for line in plan_all_warehouses():
            log.info("wave plan: %s", line)


def expire_rmas_job(app: Flask) -> str:
    from app.services.returns import expire_overdue_rmas
    with app.app_context():
        return f"expired {expire_overdue_rmas()} return authorisations with nothing received"


def check_books_job(app: Flask) -> str:
    from app.services.finance_reports import books_problems
    with app.app_context():
        problems = books_problems()
        if problems:
            log.error("books check found %d problems, first: %s", len(problems), problems[0])
            return f"books check: {len(problems)} problems, first: {problems[0]}"
        return "books check: the journal balances and the inventory account equals the valuation"


# (id, function, trigger kwargs). Later areas add routing, waves, replenishment, event delivery, KPIs.
JOBS = [
    ("check_ledger", check_ledger_job, {"trigger": "cron", "hour": 2, "minute": 15}),
    ("check_books", check_books_job, {"trigger": "cron", "hour": 2, "minute": 25}),
    ("replenishment", replenishment_job, {"trigger": "cron", "hour": 3, "minute": 30}),
    ("deliver_events", deliver_events_job, {"trigger": "interval", "seconds": 30}),
    ("prune_history", prune_history_job, {"trigger": "cron", "hour": 3, "minute": 40}),
    ("routing", routing_job, {"trigger": "interval", "minutes": 1}),
    ("kpi_snapshots", kpi_snapshots_job, {"trigger": "cron", "minute": 0}),
    ("retry_labels", retry_labels_job, {"trigger": "interval", "minutes": 5}),
    ("plan_waves", plan_waves_job, {"trigger": "cron", "hour": 6, "minute": 30}),
    ("expire_rmas", expire_rmas_job, {"trigger": "cron", "hour": 4, "minute": 10}),
]


def start_scheduler(app: Flask) -> None:
    """Run the jobs inside this process (make run): each run recorded, one scheduler per database.

    Every job in JOBS is wrapped by app.services.scheduling.recorded, which skips it while paused
    and writes a JobRun for each run; `flask scheduler` runs the same jobs as a process of its own.
    """
    from app.services.scheduling import start_in_process
    if scheduler.running:
        return
    start_in_process(app, scheduler)
    log.info("scheduler starting with %d jobs", len(JOBS))
