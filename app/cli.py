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


def commands():
    return [seed_demo, create_token, demo_logins]
