"""Command line: flask --app wsgi <command>. Commands translate arguments into service calls."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.domain.errors import DomainError


@click.command("seed-demo")
@click.option("--orders", default=3000, show_default=True, help="How many demo orders to create.")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
@with_appcontext
def seed_demo(orders: int, if_empty: bool):
    """Create the demo retailer: warehouses, bins, SKUs, suppliers, channels, stock, orders and users."""
    from app.services.demo import database_is_empty, seed_demo_data
    if if_empty and not database_is_empty():
        click.echo("Database already has data; demo not seeded.")
        return
    summary = seed_demo_data(orders=orders)
    click.echo(summary)


@click.command("create-token")
@click.argument("username")
@click.option("--read-only", is_flag=True, help="A token that may only read.")
@with_appcontext
def create_token(username: str, read_only: bool):
    """Print a new API token for USERNAME (shown once)."""
    from app.services.people import create_token as make
    try:
        click.echo(make(username, scopes="read" if read_only else "read write"))
    except DomainError as exc:
        raise click.ClickException(exc.message) from None


@click.command("demo-logins")
def demo_logins():
    """Print the demo users and their password."""
    from app.services.demo import DEMO_USERS
    click.echo("Demo logins (password: demo)")
    for username, _role, title in DEMO_USERS:
        click.echo(f"  {username:<12} {title}")


@click.command("route-orders")
@click.option("--time-limit", default=None, type=int, help="Seconds the optimiser may take.")
@click.option("--apply/--no-apply", default=True, show_default=True, help="Apply the plan once solved.")
@click.option("--channel", default=None, help="Only this channel's orders.")
@with_appcontext
def route_orders(time_limit: int | None, apply: bool, channel: str | None):
    """Route the orders waiting for allocation now, and print what the plan saves."""
    from app.services import routing
    try:
        run = routing.create_run(scope={"channel": channel} if channel else {}, time_limit_s=time_limit,
                                 trigger="manual", auto_apply=apply)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    run = routing.execute_run(run.id)
    click.echo(f"Run {run.id}: {run.status} ({run.solver_status}), {run.orders_count} orders, cost {run.objective}, "
               f"baseline {run.baseline_cost}, saving {run.saving}; applied {run.applied_orders}, skipped {run.skipped_orders}")
    if run.message:
        click.echo(run.message)


@click.command("set-channel-secret")
@click.argument("channel_code")
@click.argument("secret")
@with_appcontext
def set_channel_secret(channel_code: str, secret: str):
    """Set the secret CHANNEL_CODE signs its webhooks with (Shopify or WooCommerce)."""
    from app.services.intake import set_channel_secret as set_secret
    try:
        channel = set_secret(channel_code, secret)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Webhook secret set for channel {channel.code}.")


@click.command("scheduler")
@click.option("--retry-seconds", default=30, show_default=True, help="How often a waiting scheduler tries to lead.")
@with_appcontext
def run_scheduler(retry_seconds: int):
    """Run the scheduled jobs as a process of their own; a second one waits until the first stops."""
    import logging
    import os
    import signal

    from flask import current_app

    from app.services.scheduling import SchedulerLeader
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    leader = SchedulerLeader(current_app._get_current_object(), retry_seconds=retry_seconds)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: leader.stop_event.set())
    click.echo(f"Scheduler starting (pid {os.getpid()}); Ctrl-C stops it.")
    leader.run()
    click.echo("Scheduler stopped.")


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@with_appcontext
def backup(path: str):
    """Write a consistent backup of the whole database to PATH."""
    from app.services.backup import backup_database
    try:
        click.echo(f"Backed up {backup_database(path)}")
    except DomainError as exc:
        raise click.ClickException(exc.message) from None


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore(path: str, yes: bool):
    """Replace the whole database with the backup at PATH, then bring its schema up to date."""
    from flask_migrate import upgrade

    from app.services.backup import restore_database
    if not yes:
        click.confirm("This replaces every row in the database with the backup. Stop the web and scheduler "
                      "processes first. Continue?", abort=True)
    try:
        result = restore_database(path)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    upgrade()
    click.echo(f"Restored {result}; schema is up to date.")


@click.command("replenish")
@with_appcontext
def replenish():
    """Forecast every SKU in every warehouse and suggest what to buy: the nightly run, now."""
    from app.services.replenishment import run_replenishment
    try:
        run = run_replenishment(trigger="cli")
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    accuracy = f"MASE {run.mean_mase:.2f}" if run.mean_mase is not None else "no accuracy yet"
    click.echo(f"Replenishment run {run.id}: {run.series} forecasts over {run.skus} SKUs in {run.seconds:.1f} s, "
               f"{run.suggestions} to buy, {accuracy}.")


@click.command("plan-waves")
@click.argument("warehouse")
@click.option("--mode", type=click.Choice(["max_on_time", "min_labour"]), default="max_on_time", show_default=True)
@click.option("--day", default=None, help="YYYY-MM-DD; today in the warehouse's time zone when left out.")
@with_appcontext
def plan_waves(warehouse: str, mode: str, day: str | None):
    """Plan WAREHOUSE's waves for the day from its allocated shipments and save the labour plan."""
    from datetime import date

    from app.services.waves import plan_waves_for_code
    try:
        plan = plan_waves_for_code(warehouse, mode=mode, day=date.fromisoformat(day) if day else None)
    except ValueError:
        raise click.ClickException("--day must be a date like 2026-03-02.") from None
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Plan {plan.id} for {warehouse} on {plan.day}: {plan.orders} shipments in {sum(1 for w in plan.waves if w.members)} "
               f"waves, {plan.late} late, {plan.unplanned} not planned, {plan.picker_hours} picker hours ({plan.solver_status}).")


@click.command("set-setting")
@click.argument("key")
@click.argument("value")
@with_appcontext
def set_setting_command(key: str, value: str):
    """Set one of the retailer's settings; VALUE is JSON (true, 15, "text", null)."""
    import json

    from app.services.settings import DEFAULTS, set_setting
    if key not in DEFAULTS:
        raise click.ClickException(f"Unknown setting {key}. Known: {', '.join(sorted(DEFAULTS))}")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    set_setting(key, parsed)
    click.echo(f"{key} = {json.dumps(parsed)}")


def commands():
    return [seed_demo, create_token, demo_logins, run_scheduler, backup, restore, set_channel_secret, route_orders,
            replenish, plan_waves, set_setting_command]
