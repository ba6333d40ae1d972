"""Scheduled jobs under control: every run recorded, pause and resume kept across restarts, run now,
and one scheduler across processes (a PostgreSQL advisory lock keeps the second one idle)."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app.domain.errors import Conflict, NotFound
from app.extensions import db as database
from app.models.jobs import JobRun
from app.services import scheduling
from app.services.settings import get_setting

ROOT = Path(__file__).resolve().parents[2]


def runs(job_id: str | None = None) -> list[JobRun]:
    database.session.expire_all()
    stmt = select(JobRun).order_by(JobRun.id)
    if job_id:
        stmt = stmt.where(JobRun.job_id == job_id)
    return list(database.session.scalars(stmt))


def quiet_job(app):
    logging.getLogger("keel.jobs").info("checked 12 things")


def failing_job(app):
    raise RuntimeError("the carrier API said no")


def test_every_run_is_recorded_with_its_result_duration_and_last_message(app, db):
    scheduling.run_recorded(app, "quiet", quiet_job)
    scheduling.run_recorded(app, "failing", failing_job)
    scheduling.run_recorded(app, "talking", lambda app: "moved 3 orders")
    ok, failed, talking = runs()
    assert (ok.job_id, ok.result, ok.message, ok.trigger) == ("quiet", "ok", "checked 12 things", "schedule")
    assert ok.finished_at >= ok.started_at and ok.duration_ms >= 0 and ok.host
    assert (failed.result, failed.message) == ("failed", "RuntimeError: the carrier API said no")
    assert talking.message == "moved 3 orders"


def test_a_paused_job_is_skipped_until_resumed_and_the_pause_is_kept_in_settings(app, db):
    job_id = scheduling.all_jobs()[0][0]
    scheduling.pause_job(job_id)
    assert get_setting(scheduling.PAUSED_KEY) == [job_id]  # a restarted process reads the same setting
    assert scheduling.run_recorded(app, job_id, quiet_job) is None
    assert runs() == []
    scheduling.resume_job(job_id)
    assert scheduling.run_recorded(app, job_id, quiet_job) is not None
    with pytest.raises(NotFound):
        scheduling.pause_job("no_such_job")


def test_run_now_runs_a_paused_job_in_the_background_and_marks_it_manual(app, db, make_user):
    root = make_user("admin", "root")
    scheduling.pause_job("check_ledger")
    scheduling.start_job_now(app, "check_ledger", user_id=root.id).join(30)
    [run] = runs("check_ledger")
    assert (run.trigger, run.result, run.started_by_id) == ("manual", "ok", root.id)
    assert "balances agree" in run.message


def test_run_now_refuses_a_job_that_is_still_running(app, db):
    database.session.add(JobRun(job_id="check_ledger", result="running", started_at=datetime.now(timezone.utc)))
    database.session.commit()
    with pytest.raises(Conflict):
        scheduling.start_job_now(app, "check_ledger")


def test_the_overview_lists_every_job_with_schedule_last_and_next_run(app, db):
    scheduling.run_recorded(app, "check_ledger", quiet_job)
    scheduling.pause_job("deliver_events")
    overview = {job.id: job for job in scheduling.job_overview()}
    assert set(overview) == {job_id for job_id, _fn, _trigger in scheduling.all_jobs()}
    ledger = overview["check_ledger"]
    assert ledger.schedule == "daily at 02:15 UTC" and ledger.last_run.result == "ok"
    assert ledger.next_run.hour == 2 and ledger.next_run.minute == 15 and not ledger.paused
    assert overview["deliver_events"].paused and overview["deliver_events"].next_run is None
    assert overview["deliver_events"].schedule == "every 30 seconds"


def test_schedules_read_as_words():
    assert scheduling.describe_schedule({"trigger": "interval", "minutes": 1}) == "every 1 minute"
    assert scheduling.describe_schedule({"trigger": "interval", "hours": 6}) == "every 6 hours"
    assert scheduling.describe_schedule({"trigger": "cron", "hour": 3, "minute": 5}) == "daily at 03:05 UTC"
    assert scheduling.describe_schedule({"trigger": "cron", "minute": 0}) == "hourly at :00"
    assert scheduling.describe_schedule({"trigger": "cron", "day_of_week": "mon", "hour": 4}) == \
        "cron day_of_week=mon, hour=4 (UTC)"


def test_a_new_leader_closes_runs_its_predecessor_left_running(app, db):
    database.session.add(JobRun(job_id="routing", result="running", trigger="schedule",
                                started_at=datetime.now(timezone.utc)))
    database.session.commit()
    assert scheduling.close_interrupted_runs() == 1
    [run] = runs()
    assert run.result == "failed" and run.message.startswith("Interrupted")


def test_the_jobs_screen_runs_pauses_and_resumes(app, client, login_as):
    login_as("admin")
    assert client.post("/admin/jobs/deliver_events/pause").status_code == 302
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert "deliver_events" in page and "Resume" in page
    assert client.post("/admin/jobs/deliver_events/resume").status_code == 302
    assert scheduling.paused_jobs() == set()
    assert client.post("/admin/jobs/check_ledger/run").status_code == 302
    for _ in range(100):
        if runs("check_ledger") and runs("check_ledger")[0].result != "running":
            break
        time.sleep(0.1)
    history = client.get("/admin/jobs/history?job=check_ledger").get_data(as_text=True)
    assert "balances agree" in history and "Manual" in history
    assert client.post("/admin/jobs/nothing/run").status_code == 302
    assert "No scheduled job called nothing" in client.get("/admin/jobs").get_data(as_text=True)


def test_a_scheduler_alone_leads_at_once_and_lets_go_when_stopped(app, db):
    ticks = []
    leader = scheduling.SchedulerLeader(app, [("tick", lambda app: ticks.append(1), {"trigger": "interval", "seconds": 0.2})],
                                        retry_seconds=0.2)
    thread = threading.Thread(target=leader.run)
    thread.start()
    time.sleep(1.0)
    leader.stop_event.set()
    thread.join(10)
    assert leader.leading is False and ticks


def _leader(app, name: str, ticks: list):
    def tick(app):
        ticks.append(name)
    leader = scheduling.SchedulerLeader(app, [("tick", tick, {"trigger": "interval", "seconds": 0.2})], retry_seconds=0.3)
    thread = threading.Thread(target=leader.run, name=f"leader-{name}", daemon=True)
    thread.start()
    return leader, thread


def _wait(condition, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _advisory_holders() -> int:
    return database.session.scalar(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                                        "AND objid = :key"), {"key": scheduling.LOCK_KEY})


@pytest.mark.postgres
def test_a_second_scheduler_stays_idle_until_the_first_stops(app, db):
    ticks: list[str] = []
    first, first_thread = _leader(app, "first", ticks)
    assert _wait(lambda: "first" in ticks)
    second, second_thread = _leader(app, "second", ticks)
    time.sleep(1.5)
    assert first.leading and not second.leading
    assert "second" not in ticks and _advisory_holders() == 1
    first.stop_event.set()
    first_thread.join(10)
    assert _wait(lambda: "second" in ticks, 5), "the waiting scheduler did not take over"
    assert second.leading and _advisory_holders() == 1
    count = ticks.count("first")
    time.sleep(0.6)
    assert ticks.count("first") == count  # the first one really stopped
    second.stop_event.set()
    second_thread.join(10)
    assert _advisory_holders() == 0
    database.session.commit()


def _scheduler_process(url: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "KEEL_SCHEDULER": "0", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "--retry-seconds", "1"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _read_until(process: subprocess.Popen, needle: str, seconds: float = 30) -> str:
    seen, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        seen.append(line)
        if needle in line:
            return "".join(seen)
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"{needle!r} not printed; output was:\n{''.join(seen)}")


@pytest.mark.postgres
def test_killing_the_scheduler_process_hands_the_jobs_to_the_waiting_one(app, db):
    url = database.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    first = _scheduler_process(url)
    second = None
    try:
        _read_until(first, "now runs the scheduler")
        second = _scheduler_process(url)
        _read_until(second, "another scheduler holds the lock")
        assert _advisory_holders() == 1
        database.session.commit()
        first.send_signal(signal.SIGKILL)  # no clean shutdown: the server drops the connection and the lock
        first.wait(10)
        _read_until(second, "now runs the scheduler", 15)
        assert _advisory_holders() == 1
        database.session.commit()
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(20)
    assert database.session.scalar(select(func.count()).select_from(JobRun)) >= 0


def test_an_interval_job_that_missed_its_runs_shows_as_overdue(app, db, client, login_as):
    from datetime import timedelta
    long_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    database.session.add(JobRun(job_id="deliver_events", result="ok", trigger="schedule", started_at=long_ago,
                                finished_at=long_ago))
    database.session.commit()
    overview = {job.id: job for job in scheduling.job_overview()}
    assert overview["deliver_events"].overdue and not overview["check_ledger"].overdue
    login_as("admin")
    assert "no scheduler seems to be running" in client.get("/admin/jobs").get_data(as_text=True)


def _scheduled_run(job_id: str, started_at: datetime, message: str = "Finished.") -> None:
    database.session.add(JobRun(job_id=job_id, trigger="schedule", result="ok", message=message,
                                started_at=started_at, finished_at=started_at))
    database.session.commit()


def test_a_new_leader_continues_an_interval_job_one_interval_after_the_last_recorded_run(app, db):
    from datetime import timedelta
    now = datetime(2026, 3, 2, 10, 0, 40, tzinfo=timezone.utc)
    every_minute = {"trigger": "interval", "minutes": 1}
    assert scheduling.first_run_time("routing", every_minute, now) == now  # never ran: at once
    _scheduled_run("routing", now - timedelta(seconds=25))  # the dead leader's last run
    assert scheduling.first_run_time("routing", every_minute, now) == now + timedelta(seconds=35)
    late = now + timedelta(minutes=5)  # the takeover came after the due time: run at once, not a minute later
    assert scheduling.first_run_time("routing", every_minute, late) == late


def test_a_new_leader_runs_a_cron_job_whose_due_time_passed_without_a_finished_run(app, db):
    from datetime import timedelta
    hourly = {"trigger": "cron", "minute": 0}
    due = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    takeover = due + timedelta(seconds=40)  # the leader died just before 10:00; the other took over after
    assert scheduling.first_run_time("kpi_snapshots", hourly, takeover) == takeover
    _scheduled_run("kpi_snapshots", due + timedelta(seconds=1), scheduling.INTERRUPTED)  # killed during its run
    assert scheduling.first_run_time("kpi_snapshots", hourly, takeover) == takeover
    _scheduled_run("kpi_snapshots", due + timedelta(seconds=2))  # this due time was served: wait for 11:00
    assert scheduling.first_run_time("kpi_snapshots", hourly, takeover) == due + timedelta(hours=1)
    long_after = due + scheduling.CATCH_UP + timedelta(minutes=1)
    assert scheduling.first_run_time("check_ledger", {"trigger": "cron", "hour": 10, "minute": 0}, long_after) == \
        datetime(2026, 3, 3, 10, 0, tzinfo=timezone.utc)  # missed too long ago: next day, not now


def test_a_leader_schedules_its_jobs_where_the_recorded_runs_left_off(app, db):
    from datetime import timedelta
    last = datetime.now(timezone.utc) - timedelta(seconds=20)
    _scheduled_run("tick", last)
    leader = scheduling.SchedulerLeader(app, [("tick", quiet_job, {"trigger": "interval", "seconds": 60})],
                                        retry_seconds=30)
    try:
        leader.step()
        assert leader.leading
        next_run = leader.scheduler.get_job("tick").next_run_time
        assert abs((next_run - (last + timedelta(seconds=60))).total_seconds()) < 0.01
    finally:
        leader.shutdown()


@pytest.mark.postgres
def test_a_leader_whose_lock_connection_was_cut_runs_no_further_job_before_its_next_look(app, db, caplog):
    ticks: list[float] = []
    leader = scheduling.SchedulerLeader(app, [("tick", lambda app: ticks.append(time.monotonic()),
                                              {"trigger": "interval", "seconds": 0.2})], retry_seconds=60)
    thread = threading.Thread(target=leader.run, daemon=True)
    thread.start()
    try:
        assert _wait(lambda: len(ticks) >= 2)
        cut = database.session.scalar(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'keel-scheduler%'"))
        database.session.commit()
        assert cut == 1
        time.sleep(1.0)  # a run that had passed its check before the cut may still finish
        settled = len(ticks)
        time.sleep(1.5)  # about seven due times; the leader's own next look is a minute away
        assert len(ticks) == settled
        assert "no longer holds the lock" in caplog.text
    finally:
        leader.stop_event.set()
        thread.join(10)
