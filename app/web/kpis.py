"""KPI screens for every role: all KPIs against target, one KPI's trend and records, and the exception queues."""
from __future__ import annotations

from flask import abort, current_app, request, url_for
from flask_login import current_user
from werkzeug.routing import BuildError

from app.domain.kpis import Standing, Unit, shown
from app.domain.roles import ROLE_TITLES, Role
from app.services import exceptions, kpis, queries
from app.web import charts
from app.web.export import csv_response
from app.web.formatting import money
from app.web.guard import ALL_SIGNED_IN, guarded_blueprint
from app.web.render import page

bp = guarded_blueprint("kpis", __name__, ALL_SIGNED_IN)

STANDING_TEXT = {Standing.OK: "On target", Standing.WARN: "Near target", Standing.BAD: "Off target",
                 Standing.NONE: "No data"}


# --- helpers the dashboard shares ----------------------------------------------------------------------------------

def may_open(endpoint: str) -> bool:
    """The screen exists and the signed-in role may open it."""
    if endpoint not in current_app.view_functions:
        return False
    blueprint = current_app.blueprints.get(endpoint.split(".")[0])
    return current_user.role in getattr(blueprint, "roles", ())


def href(link) -> str | None:
    """The URL of a record's screen when it exists and this role may open it, else None (shown as plain text)."""
    if not link:
        return None
    endpoint, args = link
    if not may_open(endpoint):
        return None
    try:
        return url_for(endpoint, **args)
    except BuildError:
        return None


def value_text(value, unit: str) -> str:
    return money(value) if value is not None and unit == Unit.MONEY else shown(value, Unit(unit))


def target_text(definition) -> str:
    sign = "≥" if definition.direction == "up" else "≤"
    return f"{sign} {value_text(definition.target, definition.unit)}"


def chart_number(unit: str):
    """How the line chart's axis shows a value of this unit."""
    if unit == Unit.PERCENT:
        return lambda v: f"{v * 100:.1f}%"
    if unit == Unit.MONEY:
        return lambda v: f"£{v:,.2f}"
    return lambda v: f"{v:,.1f}"


def tile_context(readings: list[kpis.Reading]) -> dict:
    """What the KPI tiles need: each reading with its trend as numbers for the sparkline."""
    series = kpis.trends([r.kpi.code for r in readings])
    return {"readings": readings,
            "sparks": {code: [None if v is None else float(v) for _day, v in points] for code, points in series.items()}}


def helpers() -> dict:
    return {"value_text": value_text, "target_text": target_text, "standing_text": STANDING_TEXT, "href": href,
            "standing_colours": charts.STANDING_COLOURS, "role_titles": ROLE_TITLES, "age_text": exceptions.age_text,
            "may_open": may_open}


# --- KPIs ---------------------------------------------------------------------------------------------------------

@bp.route("/kpis")
def index():
    owner = request.args.get("owner", "")
    chosen = [k for k in kpis.registry() if not owner or k.definition.owner == owner]
    return page("kpis/index.html", owner=owner, owners=[r for r in Role if any(k.definition.owner == r
                                                                             for k in kpis.registry())],
                **tile_context(kpis.current_readings(chosen)), **helpers())


def _kpi_or_404(code: str) -> kpis.Kpi:
    return kpis.get_kpi(code) or abort(404)


@bp.route("/kpis/<code>")
def detail(code: str):
    reading = kpis.read(_kpi_or_404(code))
    records, results = kpis.records_page(reading.kpi, reading.period, queries.page_number(request.args.get("page")))
    points = kpis.trend(code)
    chart = charts.trend_chart([d.strftime("%d %b") for d, _v in points],
                              [None if v is None else float(v) for _d, v in points],
                              target=float(reading.definition.target), fmt=chart_number(reading.definition.unit),
                              colour=charts.STANDING_COLOURS[reading.standing],
                              title=f"{reading.definition.name}, last {kpis.TREND_DAYS} days")
    return page("kpis/detail.html", "records", reading=reading, records=records, results=results, chart=chart,
                measured=any(v is not None for _day, v in points), **helpers())


@bp.route("/kpis/<code>/records.csv")
def export_records(code: str):
    reading = kpis.read(_kpi_or_404(code))
    records = reading.kpi.records(reading.period)
    day = reading.period.end.astimezone(kpis.zone()).strftime("%Y%m%d")
    return csv_response(f"{code}-records-{day}.csv", records.header, kpis.stream_rows(records))


# --- exception queues -------------------------------------------------------------------------------------------------

@bp.route("/exception-queues")
def exception_overview():
    summaries = exceptions.overview(current_user.role)
    mine = [s for s in summaries if s.queue.owner == current_user.role or current_user.role == Role.ADMIN]
    return page("exceptions/overview.html", summaries=summaries, mine=mine, screen=_screen, **helpers())


def _screen(queue: exceptions.Queue) -> str | None:
    """The owning area's screen for a queue, when it exists and this role may open it."""
    return next((url for url in (href(link) for link in queue.screens) if url), None)


@bp.route("/exception-queues.csv")
def export_overview():
    rows = ((s.queue.name, s.queue.owner.value, s.shown, s.oldest, exceptions.age_text(s.age))
            for s in exceptions.overview(current_user.role))
    return csv_response("exception-queues.csv", ("Queue", "Owner role", "Open", "Oldest since", "Oldest age"), rows)


def _queue_or_404(code: str) -> exceptions.Queue:
    return exceptions.get_queue(code) or abort(404)


@bp.route("/exception-queues/<code>")
def queue_detail(code: str):
    queue = _queue_or_404(code)
    records = queue.records()
    results = kpis.page_of(records, queries.page_number(request.args.get("page")))
    return page("exceptions/queue.html", "records", queue=queue, summary=exceptions.summarise(queue), records=records,
                results=results, screen=_screen(queue), **helpers())


@bp.route("/exception-queues/<code>/export.csv")
def export_queue(code: str):
    queue = _queue_or_404(code)
    records = queue.records()
    return csv_response(f"{code}.csv", records.header, kpis.stream_rows(records))
