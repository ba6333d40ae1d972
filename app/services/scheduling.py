"""Scheduled jobs under control: every run recorded, pause and resume kept in settings, run now,
and one scheduler at a time across processes (a PostgreSQL advisory lock elects it).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.pool import NullPool

from app.domain.errors import Conflict, NotFound
from app.extensions import db
from app.models.jobs import JobRun
from app.models.types import utcnow
from app.services import audit
from app.services._uow import service
from app.services.queries import Page, paginate
from app.services.settings import get_setting, set_setting

log = logging.getLogger("keel.scheduler")

PAUSED_KEY = "jobs.paused"
LOCK_KEY = 0x4B45454C  # "KEEL": the advisory lock only the running scheduler holds
RETRY_SECONDS = 30
STALE_RUN = timedelta(hours=6)
OVERDUE = timedelta(minutes=2)
CATCH_UP = timedelta(minutes=15)  # a new leader runs a cron job it finds due this recently and not yet run
INTERRUPTED = "Interrupted: the scheduler stopped during this run."
HOST = f"{socket.gethostname()}:{os.getpid()}"[:120]

Job = tuple[str, Callable, dict]


def all_jobs() -> list[Job]:
    from app.jobs import JOBS
    return list(JOBS)


def _job(job_id: str) -> Job:
    for job in all_jobs():
        if job[0] == job_id:
            return job
    raise NotFound(f"No scheduled job called {job_id}.")


# --- schedules -----------------------------------------------------------------------------------------------

def _trigger(kwargs: dict):
    options = {k: v for k, v in kwargs.items() if k != "trigger"}
    if kwargs.get("trigger") == "cron":
        return CronTrigger(timezone=timezone.utc, **options)
    return IntervalTrigger(timezone=timezone.utc, **options)


def describe_schedule(kwargs: dict) -> str:
    """A schedule in words: "every 30 seconds", "daily at 02:15 UTC"."""
    if kwargs.get("trigger") == "interval":
        parts = [f"{v} {k if v != 1 else k.rstrip('s')}" for k, v in kwargs.items()
                 if k in ("weeks", "days", "hours", "minutes", "seconds")]
        return "every " + " ".join(parts)
    fields = {k: v for k, v in kwargs.items() if k != "trigger"}
    if set(fields) <= {"hour", "minute"} and "hour" in fields:
        return f"daily at {int(fields['hour']):02d}:{int(fields.get('minute', 0)):02d} UTC"
    if set(fields) == {"minute"} and str(fields["minute"]).isdigit():
        return f"hourly at :{int(fields['minute']):02d}"
    return "cron " + ", ".join(f"{k}={v}" for k, v in fields.items()) + " (UTC)"


def next_run_time(job_id: str, kwargs: dict, last_started: datetime | None, now: datetime) -> datetime | None:
    """When the job fires next: from the scheduler in this process, else worked out from its trigger."""
    from app.extensions import scheduler
    if scheduler.running and (job := scheduler.get_job(job_id)) is not None:
        return job.next_run_time
    trigger = _trigger(kwargs)
    if isinstance(trigger, IntervalTrigger):  # due one interval after the last scheduled run
        return (last_started or now) + timedelta(seconds=trigger.interval_length)
    return trigger.get_next_fire_time(None, now)


def _latest_due(trigger: CronTrigger, since: datetime, now: datetime) -> datetime | None:
    """The last time the cron trigger fired between `since` and `now`, if it did."""
    latest, due = None, trigger.get_next_fire_time(None, since)
    while due is not None and due <= now:
        latest, due = due, trigger.get_next_fire_time(due, due + timedelta(seconds=1))
    return latest


def first_run_time(job_id: str, kwargs: dict, now: datetime) -> datetime:
    """When a new leader first runs a job: where the recorded runs' cadence puts it, or now for a missed due time.

    An interval job that never ran runs at once; a scheduler that takes over from one that died continues
    each interval job one interval after its last scheduled run (not one interval after the takeover, which
    would push every job back by up to an interval). A cron job whose due time
    passed within CATCH_UP without a run that finished (the dead leader's interrupted run does not count)
    runs at once.
    """
    trigger = _trigger(kwargs)
    if isinstance(trigger, IntervalTrigger):
        last = db.session.scalar(select(func.max(JobRun.started_at)).where(JobRun.job_id == job_id,
                                                                           JobRun.trigger == "schedule"))
        interval = timedelta(seconds=trigger.interval_length)
        return now if last is None else max(now, last + interval)
    due = _latest_due(trigger, now - CATCH_UP, now)
    if due is not None:
        served = db.session.scalar(select(JobRun.id).where(JobRun.job_id == job_id, JobRun.trigger == "schedule",
                                                           JobRun.started_at >= due, JobRun.message != INTERRUPTED)
                                   .limit(1))
        if served is None:
            return now
    return trigger.get_next_fire_time(None, now)


# --- pause and resume ----------------------------------------------------------------------------------------

def paused_jobs() -> set[str]:
    value = get_setting(PAUSED_KEY)
    return set(value) if isinstance(value, list) else set()


def pause_job(job_id: str, *, user_id: int | None = None) -> None:
    """Stop a job firing until it is resumed, in every process and across restarts."""
    _job(job_id)
    set_setting(PAUSED_KEY, sorted(paused_jobs() | {job_id}), user_id=user_id)


def resume_job(job_id: str, *, user_id: int | None = None) -> None:
    """Let a paused job fire on its schedule again."""
    _job(job_id)
    set_setting(PAUSED_KEY, sorted(paused_jobs() - {job_id}), user_id=user_id)


# --- recording runs ------------------------------------------------------------------------------------------

class _LastMessage(logging.Handler):
    """Keeps the last thing a job logged from its own thread, to show as the run's message."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.thread, self.message = threading.get_ident(), ""

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.message = record.getMessage()


@service
def _start_run(job_id: str, trigger: str, user_id: int | None) -> int:
    run = JobRun(job_id=job_id, trigger=trigger, started_at=utcnow(), result="running", host=HOST,
                 started_by_id=user_id)
    db.session.add(run)
    db.session.commit()
    return run.id


@service
def _finish_run(run_id: int, result: str, message: str) -> None:
    run = db.session.get(JobRun, run_id)
    run.finished_at = utcnow()
    run.duration_ms = int((run.finished_at - run.started_at).total_seconds() * 1000)
    run.result, run.message = result, message[:1000]
    db.session.commit()


def run_recorded(app: Flask, job_id: str, fn: Callable, *, trigger: str = "schedule", user_id: int | None = None,
                 respect_pause: bool = True) -> int | None:
    """Run one job and record the run: start, finish, duration, ok or failed, and what it said."""
    with app.app_context():
        if respect_pause and job_id in paused_jobs():
            return None
        run_id = _start_run(job_id, trigger, user_id)
    keel_log, listener = logging.getLogger("keel"), _LastMessage()
    if keel_log.level == logging.NOTSET:  # jobs report at INFO; let those records reach the listener
        keel_log.setLevel(logging.INFO)
    keel_log.addHandler(listener)
    source = audit.current_source.set(f"job {job_id}")
    try:
        outcome = fn(app)
        result, message = "ok", outcome if isinstance(outcome, str) and outcome else listener.message or "Finished."
    except Exception as exc:  # the run is recorded as failed; the scheduler carries on with the next one
        log.exception("job %s failed", job_id)
        result, message = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        audit.current_source.reset(source)
        keel_log.removeHandler(listener)
    with app.app_context():
        _finish_run(run_id, result, message)
    return run_id


def recorded(job_id: str, fn: Callable) -> Callable[[Flask], int | None]:
    """The job as the scheduler calls it: skipped while paused, every run recorded."""
    def run(app: Flask) -> int | None:
        return run_recorded(app, job_id, fn)
    run.__name__ = f"recorded_{job_id}"
    return run


def job_running(job_id: str) -> bool:
    since = utcnow() - STALE_RUN
    return db.session.scalar(select(JobRun.id).where(JobRun.job_id == job_id, JobRun.result == "running",
                                                      JobRun.started_at > since).limit(1)) is not None


def start_job_now(app: Flask, job_id: str, *, user_id: int | None = None) -> threading.Thread:
    """Run a job at once in the background (paused or not), unless a run of it is still going."""
    _, fn, _ = _job(job_id)
    if job_running(job_id):
        raise Conflict(f"{job_id} is running now; wait for it to finish.")
    thread = threading.Thread(target=run_recorded, args=(app, job_id, fn),
                              kwargs={"trigger": "manual", "user_id": user_id, "respect_pause": False},
                              name=f"job-{job_id}", daemon=True)
    thread.start()
    return thread


@service
def close_interrupted_runs() -> int:
    """Scheduled runs left 'running' by a scheduler that stopped: mark them failed (the new leader calls this)."""
    result = db.session.execute(update(JobRun).where(JobRun.result == "running", JobRun.trigger == "schedule")
                                .values(result="failed", finished_at=utcnow(),
                                        message=INTERRUPTED))
    db.session.commit()
    return result.rowcount


# --- reading -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class JobStatus:
    id: str
    schedule: str
    paused: bool
    last_run: JobRun | None
    next_run: datetime | None
    running: bool
    overdue: bool = False  # should have run a while ago: no scheduler is running the jobs


def job_overview() -> list[JobStatus]:
    """Every job with its schedule, last run, next run and whether it is paused or running."""
    paused, now = paused_jobs(), utcnow()
    rows = []
    for job_id, _fn, kwargs in all_jobs():
        last = db.session.scalar(select(JobRun).where(JobRun.job_id == job_id)
                                 .order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(1))
        last_scheduled = db.session.scalar(select(JobRun.started_at).where(JobRun.job_id == job_id,
                                                                          JobRun.trigger == "schedule")
                                           .order_by(JobRun.started_at.desc()).limit(1))
        upcoming = None if job_id in paused else next_run_time(job_id, kwargs, last_scheduled, now)
        running = last is not None and last.result == "running" and last.started_at > now - STALE_RUN
        rows.append(JobStatus(job_id, describe_schedule(kwargs), job_id in paused, last, upcoming, running,
                              upcoming is not None and upcoming < now - OVERDUE))
    return rows


def job_history(job_id: str = "", result: str = "", page: int = 1, per_page: int = 50) -> Page:
    stmt = select(JobRun)
    if job_id:
        stmt = stmt.where(JobRun.job_id == job_id)
    if result in ("running", "ok", "failed"):
        stmt = stmt.where(JobRun.result == result)
    return paginate(stmt.order_by(JobRun.started_at.desc(), JobRun.id.desc()), page, per_page)


@service
def prune_job_runs(keep_days: int = 90) -> int:
    """Forget finished runs older than `keep_days`; returns how many."""
    cutoff = utcnow() - timedelta(days=keep_days)
    result = db.session.execute(JobRun.__table__.delete().where(JobRun.started_at < cutoff,
                                                                 JobRun.result != "running"))
    db.session.commit()
    return result.rowcount


# --- one scheduler across processes --------------------------------------------------------------------------

class SchedulerLeader:
    """Runs the jobs only while it holds the advisory lock; otherwise waits and tries again.

    On PostgreSQL the lock lives on a connection of its own, held for as long as this process
    leads: if the process dies, the server drops the connection and the lock with it, and a
    waiting scheduler takes over at its next try. SQLite assumes a single scheduler process.
    """

    def __init__(self, app: Flask, jobs: list[Job] | None = None, *, scheduler: BackgroundScheduler | None = None,
                 retry_seconds: float = RETRY_SECONDS):
        self.app, self.jobs = app, jobs
        self.scheduler = scheduler or BackgroundScheduler(timezone="UTC")
        self.retry_seconds = retry_seconds
        self.leading = False
        self.stop_event = threading.Event()
        self._engine = None
        self._conn = None
        self._conn_lock = threading.Lock()  # the step thread and the job threads share the lock connection

    def _postgresql(self) -> bool:
        with self.app.app_context():
            return db.engine.dialect.name == "postgresql"

    def try_lead(self) -> bool:
        """Take the lock when it is free; True while this process holds it."""
        if not self._postgresql():
            return True
        try:
            if self._conn is None:
                with self.app.app_context():
                    self._engine = create_engine(db.engine.url, poolclass=NullPool,  # named for pg_stat_activity
                                                 connect_args={"application_name": f"keel-scheduler {HOST}"[:63]})
                self._conn = self._engine.connect()
            got = self._conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}).scalar()
            self._conn.commit()
        except Exception:
            log.exception("could not reach the database to take the scheduler lock")
            self._drop_connection()
            return False
        if not got:
            self._drop_connection()
        return bool(got)

    def still_leading(self) -> bool:
        """The lock connection still answers (if it broke, the server has released the lock)."""
        with self._conn_lock:
            if self._conn is None:
                return not self._postgresql()
            try:
                self._conn.execute(text("SELECT 1"))
                self._conn.commit()
                return True
            except Exception:
                log.exception("lost the scheduler lock connection")
                self._drop_connection()
                return False

    def _while_leading(self, job: Callable[[Flask], int | None]) -> Callable[[Flask], int | None]:
        """The job, run only after the lock connection answered: a leader whose lock was lost since its last
        look skips the run (the other scheduler may already lead) instead of running it a second time."""
        def run(app: Flask) -> int | None:
            if not self.still_leading():
                log.error("skipped a run of %s: this scheduler no longer holds the lock", job.__name__)
                return None
            return job(app)
        run.__name__ = job.__name__
        return run

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                log.warning("closing the scheduler lock connection failed", exc_info=True)
        if self._engine is not None:
            self._engine.dispose()
        self._conn = self._engine = None

    def _start_jobs(self) -> None:
        with self.app.app_context():
            closed = close_interrupted_runs()
        if closed:
            log.warning("marked %d interrupted runs as failed", closed)
        jobs = self.jobs if self.jobs is not None else all_jobs()
        with self.app.app_context():
            now = utcnow()
            first_runs = {job_id: first_run_time(job_id, trigger, now) for job_id, _fn, trigger in jobs}
            db.session.rollback()
        for job_id, fn, trigger in jobs:
            self.scheduler.add_job(self._while_leading(recorded(job_id, fn)), id=job_id, args=[self.app], replace_existing=True,
                                   coalesce=True, max_instances=1, misfire_grace_time=60,
                                   next_run_time=first_runs[job_id], **trigger)
        if not self.scheduler.running:
            self.scheduler.start()
        else:
            self.scheduler.resume()
        log.info("this process (%s) now runs the scheduler with %d jobs", HOST, len(jobs))

    def _stop_jobs(self) -> None:
        if self.scheduler.running:
            self.scheduler.remove_all_jobs()
            self.scheduler.pause()

    def step(self) -> None:
        """One look: lead if the lock is free, stand down if it was lost."""
        if self.leading and not self.still_leading():
            self.leading = False
            self._stop_jobs()
            log.error("scheduler stood down: the lock connection was lost")
        if not self.leading:
            if self.try_lead():
                self.leading = True
                self._start_jobs()
            else:
                log.info("another scheduler holds the lock; this one waits (next try in %ss)", self.retry_seconds)

    def run(self) -> None:
        """Lead or wait until `stop_event` is set, then let go of the jobs and the lock."""
        try:
            while not self.stop_event.is_set():
                self.step()
                self.stop_event.wait(self.retry_seconds)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
                self._conn.commit()
            except Exception:
                log.warning("releasing the scheduler lock failed; closing its connection releases it", exc_info=True)
        self._drop_connection()
        self.leading = False


_in_process: SchedulerLeader | None = None


def start_in_process(app: Flask, scheduler: BackgroundScheduler) -> SchedulerLeader:
    """The scheduler inside the web process (make run): leads at once on SQLite, waits for the lock on PostgreSQL."""
    global _in_process
    if _in_process is None:
        _in_process = SchedulerLeader(app, scheduler=scheduler)
        threading.Thread(target=_in_process.run, name="scheduler-leader", daemon=True).start()
    return _in_process
