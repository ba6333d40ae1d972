"""Administration: people and their API tokens, master data (SKUs, warehouses, bins, channels) and settings."""
from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, insert, or_, select
from werkzeug.security import generate_password_hash

from app.domain.errors import Conflict, NotFound, ValidationError
from app.domain.gs1 import is_valid_gtin
from app.domain.roles import Role, password_problems
from app.extensions import db
from app.models import ApiToken, Channel, Location, Sku, StockBalance, User, Warehouse, channel_warehouses
from app.models.masterdata import PriceProposal
from app.models.settings import Setting
from app.models.types import utcnow
from app.services import audit, people
from app.services._uow import service
from app.services.events import record_event
from app.services.ownership import require_ownership
from app.services.queries import like_pattern
from app.services.settings import DEFAULTS, get_setting

USERNAME = re.compile(r"^[A-Za-z0-9._-]{2,64}$")
CODE = re.compile(r"^[A-Za-z0-9._/-]{1,64}$")


def _acting(user_id: int | None) -> User | None:
    return db.session.get(User, user_id) if user_id else None


# --- people --------------------------------------------------------------------------------------------------

def user_search(q: str = "", role: str = "", state: str = ""):
    stmt = select(User)
    if q:
        pattern = like_pattern(q.strip())
        stmt = stmt.where(or_(User.username.ilike(pattern, escape="\\"), User.full_name.ilike(pattern, escape="\\"),
                              User.email.ilike(pattern, escape="\\")))
    if role in set(Role):
        stmt = stmt.where(User.role == role)
    if state in ("active", "inactive"):
        stmt = stmt.where(User.active.is_(state == "active"))
    return stmt.order_by(User.username)


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def create_account(username: str, role: str, password: str, confirm: str, *, full_name: str = "",
                   email: str = "") -> User:
    """Add a person; the password must meet the policy and be typed twice the same."""
    username = (username or "").strip()
    errors = {}
    if username and not USERNAME.match(username):
        errors["username"] = "Use 2 to 64 letters, digits, dots, dashes or underscores."
    if password != confirm:
        errors["confirm"] = "The two passwords differ."
    if email and ("@" not in email or len(email) > 200):
        errors["email"] = "An email address like name@example.com."
    if len(full_name or "") > 120:
        errors["full_name"] = "Up to 120 characters."
    if errors:
        raise ValidationError(errors=errors)
    return people.create_user(username, role, password, full_name=(full_name or "").strip(), email=(email or "").strip())


def _other_active_admins(user: User) -> int:
    return db.session.scalar(select(func.count()).where(User.role == Role.ADMIN.value, User.active.is_(True),
                                                        User.id != user.id))


@service
def set_user_active(user_id: int, active: bool, *, acting_user_id: int) -> User:
    """Let a person sign in again, or stop them (their API tokens stop working with them)."""
    user = get_user(user_id)
    if not active and user.id == acting_user_id:
        raise Conflict("You cannot deactivate yourself.")
    if not active and user.role == Role.ADMIN.value and not _other_active_admins(user):
        raise Conflict("This is the last active administrator; make another one first.")
    user.active = active
    db.session.commit()
    return user


@service
def change_role(user_id: int, role: str, *, acting_user_id: int) -> User:
    """Give a person a different role."""
    user = get_user(user_id)
    if role not in set(Role):
        raise ValidationError("Choose one of the roles.", field="role")
    if user.role == Role.ADMIN.value and role != Role.ADMIN.value:
        if user.id == acting_user_id:
            raise Conflict("You cannot take the administrator role from yourself.")
        if not _other_active_admins(user):
            raise Conflict("This is the last active administrator; make another one first.")
    user.role = role
    db.session.commit()
    return user


@service
def reset_password(user_id: int, password: str, confirm: str) -> User:
    """Set a new password that meets the policy, and lift any sign-in lock."""
    user = get_user(user_id)
    errors = {}
    if problems := password_problems(password, user.username):
        errors["password"] = " ".join(problems)
    if password != confirm:
        errors["confirm"] = "The two passwords differ."
    if errors:
        raise ValidationError(errors=errors)
    user.password_hash = generate_password_hash(password)
    user.failed_logins, user.locked_until = 0, None
    db.session.commit()
    return user


# --- API tokens ----------------------------------------------------------------------------------------------

def token_search(user_id: int | None = None, state: str = "", q: str = ""):
    stmt = select(ApiToken).join(User)
    if user_id:
        stmt = stmt.where(ApiToken.user_id == user_id)
    if state == "active":
        stmt = stmt.where(ApiToken.revoked_at.is_(None))
    elif state == "revoked":
        stmt = stmt.where(ApiToken.revoked_at.is_not(None))
    if q:
        pattern = like_pattern(q.strip())
        stmt = stmt.where(or_(ApiToken.label.ilike(pattern, escape="\\"), ApiToken.prefix.ilike(pattern, escape="\\"),
                              User.username.ilike(pattern, escape="\\")))
    return stmt.order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc())


def issue_token(user_id: int, label: str, scopes: list[str]) -> str:
    """A new API token for a person, with the scopes chosen; the token is shown once."""
    user = get_user(user_id)
    if not user.active:
        raise Conflict("This person is deactivated; activate them before giving them a token.")
    label = (label or "").strip()
    if not label or len(label) > 120:
        raise ValidationError("Say what the token is for (up to 120 characters).", field="label")
    return people.create_token(user.username, label=label, scopes=" ".join(s for s in people.TOKEN_SCOPES if s in scopes))


def revoke_token(token_id: int) -> None:
    """Stop a token working from now on."""
    people.revoke_token(token_id)


# --- SKUs ----------------------------------------------------------------------------------------------------

ITEM_FIELDS = ("code", "name", "category", "gtin", "length_cm", "width_cm", "height_cm", "weight_kg", "unit_cost", "active")
DECIMALS = {"length_cm": (1, "1000"), "width_cm": (1, "1000"), "height_cm": (1, "1000"), "weight_kg": (3, "1000"),
            "unit_cost": (4, "100000"), "price": (2, "1000000")}


def _decimal(form: dict, key: str, errors: dict) -> Decimal | None:
    places, most = DECIMALS[key]
    raw = str(form.get(key, "")).strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        errors[key] = "A number, such as 12.50."
        return None
    if not value.is_finite() or value < 0 or value > Decimal(most):
        errors[key] = f"A number from 0 to {most}."
        return None
    if value != value.quantize(Decimal(1).scaleb(-places)):
        errors[key] = f"At most {places} decimal places."
        return None
    return value


def _clean_item(form: dict, sku: Sku | None) -> dict[str, Any]:
    """The SKU fields from a form, every problem named by field."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    code = str(form.get("code", "")).strip()
    if not CODE.match(code):
        errors["code"] = "1 to 64 letters, digits, dots, dashes, slashes or underscores."
    elif db.session.scalar(select(Sku.id).where(Sku.code == code, Sku.id != (sku.id if sku else -1))):
        errors["code"] = "Another SKU has this code."
    name = str(form.get("name", "")).strip()
    if not name or len(name) > 200:
        errors["name"] = "A name of up to 200 characters."
    category = str(form.get("category", "")).strip()
    if len(category) > 60:
        errors["category"] = "Up to 60 characters."
    gtin = str(form.get("gtin", "")).strip() or None
    if gtin and gtin != (sku.gtin if sku else None) and not is_valid_gtin(gtin):  # only a new barcode is checked
        errors["gtin"] = "A GTIN of 8, 12, 13 or 14 digits with a correct check digit."
    elif gtin and db.session.scalar(select(Sku.id).where(Sku.gtin == gtin, Sku.id != (sku.id if sku else -1))):
        errors["gtin"] = "Another SKU has this barcode."
    for key in ("length_cm", "width_cm", "height_cm", "weight_kg", "unit_cost", "price"):
        clean[key] = _decimal(form, key, errors)
    if errors:
        raise ValidationError(errors=errors)
    clean.update(code=code, name=name, category=category, gtin=gtin, active=bool(form.get("active")))
    return clean


@service
def create_sku(form: dict, *, user_id: int | None) -> Sku:
    """Add a SKU; its first price is part of the item, so item owners set it."""
    require_ownership(_acting(user_id), "items")
    clean = _clean_item(form, None)
    sku = Sku(**clean, created_at=utcnow())
    db.session.add(sku)
    db.session.flush()
    record_event("sku.created", "sku", sku.code, {"sku": sku.code, "price": str(sku.price)}, user_id=user_id)
    db.session.commit()
    return sku


@dataclass(frozen=True)
class SkuChange:
    sku: Sku
    changed: list[str]
    price_outcome: str  # unchanged, applied, approval_requested


@service
def update_sku(sku_id: int, form: dict, *, user_id: int | None, reason: str = "") -> SkuChange:
    """Change a SKU. Item fields need the items owner; a new price needs the prices owner and,
    when an approval rule covers price changes, waits for approval instead of applying."""
    sku = db.session.get(Sku, sku_id)
    if sku is None:
        raise NotFound("No such SKU.")
    user = _acting(user_id)
    clean = _clean_item(form, sku)
    new_price = clean.pop("price")
    changed = [key for key in ITEM_FIELDS if getattr(sku, key) != clean[key]]
    if changed:
        require_ownership(user, "items")
    price_outcome = "unchanged"
    if new_price != sku.price:
        require_ownership(user, "prices")
        price_outcome = _change_price(sku, new_price, user_id, reason)
    for key in changed:
        setattr(sku, key, clean[key])
    if changed:
        record_event("sku.updated", "sku", sku.code, {"sku": sku.code, "changed": changed}, user_id=user_id)
    db.session.commit()
    return SkuChange(sku, changed, price_outcome)


def _approvals():
    """The approvals service when this installation has it (plain import at call time)."""
    try:
        from app.services import approvals
    except ImportError:
        return None
    return approvals if "price_change" in getattr(approvals, "KINDS", {}) else None


def _change_price(sku: Sku, new_price: Decimal, user_id: int | None, reason: str) -> str:
    approvals = _approvals()
    amount = abs(new_price - sku.price)
    if approvals is not None and approvals.approval_needed("price_change", amount) is not None:
        if db.session.scalar(select(PriceProposal.id).where(PriceProposal.sku_id == sku.id,
                                                             PriceProposal.status == "pending")):
            raise Conflict(f"A price change for {sku.code} is already waiting for approval.", field="price")
        request = approvals.request_approval(
            "price_change", "sku", sku.id, amount, user_id, reason or "Price change",
            summary=f"{sku.code} price {sku.price} → {new_price}")
        db.session.add(PriceProposal(sku_id=sku.id, old_price=sku.price, new_price=new_price, status="pending",
                                     approval_request_id=request.id, requested_by_id=user_id, created_at=utcnow()))
        return "approval_requested"
    _apply_price(sku, new_price, user_id)
    return "applied"


def _apply_price(sku: Sku, new_price: Decimal, user_id: int | None) -> None:
    old, sku.price = sku.price, new_price
    record_event("sku.price_changed", "sku", sku.code, {"sku": sku.code, "from": str(old), "to": str(new_price)},
                 user_id=user_id)


def pending_price(sku_id: int) -> PriceProposal | None:
    return db.session.scalar(select(PriceProposal).where(PriceProposal.sku_id == sku_id,
                                                         PriceProposal.status == "pending"))


def _proposal_for(request) -> PriceProposal | None:
    return db.session.scalar(select(PriceProposal).where(PriceProposal.approval_request_id == request.id,
                                                         PriceProposal.status == "pending"))


def apply_approved_price(request) -> None:
    """When a price change is approved: the proposed price becomes the SKU's price (in the deciding transaction)."""
    proposal = _proposal_for(request)
    if proposal is not None:
        proposal.status, proposal.decided_at = "applied", utcnow()
        _apply_price(proposal.sku, proposal.new_price, request.decided_by_id)


def drop_rejected_price(request) -> None:
    proposal = _proposal_for(request)
    if proposal is not None:
        proposal.status, proposal.decided_at = "rejected", utcnow()


def _register_price_approval() -> None:
    approvals = _approvals()
    if approvals is not None:
        approvals.on_approved("price_change")(apply_approved_price)
        approvals.on_rejected("price_change")(drop_rejected_price)


_register_price_approval()


# --- warehouses and bins -------------------------------------------------------------------------------------

def _int(form: dict, key: str, errors: dict, low: int, high: int) -> int | None:
    try:
        value = int(str(form.get(key, "")).strip())
    except ValueError:
        errors[key] = "A whole number."
        return None
    if not low <= value <= high:
        errors[key] = f"From {low} to {high}."
        return None
    return value


def _text(form: dict, key: str, errors: dict, most: int, *, required: bool = False) -> str:
    value = str(form.get(key, "")).strip()
    if required and not value:
        errors[key] = "Required."
    elif len(value) > most:
        errors[key] = f"Up to {most} characters."
    return value


def get_warehouse(warehouse_id: int) -> Warehouse:
    warehouse = db.session.get(Warehouse, warehouse_id)
    if warehouse is None:
        raise NotFound("No such warehouse.")
    return warehouse


@service
def update_warehouse(warehouse_id: int, form: dict, *, user_id: int | None) -> Warehouse:
    """Change a warehouse's name, address, time zone, carrier cut-offs, labour and handling cost."""
    require_ownership(_acting(user_id), "locations")
    warehouse = get_warehouse(warehouse_id)
    errors: dict[str, str] = {}
    values = {key: _text(form, key, errors, most, required=key == "name") for key, most in
              (("name", 120), ("address1", 200), ("city", 100), ("postcode", 20), ("carrier_cutoffs", 200))}
    country = str(form.get("country", "")).strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        errors["country"] = "A two-letter country code such as GB."
    zone = str(form.get("timezone", "")).strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = "A time zone such as Europe/London."
    kind = form.get("kind")
    if kind not in ("own", "3pl"):
        errors["kind"] = "Own warehouse or 3PL."
    numbers = {key: _int(form, key, errors, 0, most) for key, most in
               (("pickers_per_shift", 1000), ("units_per_picker_hour", 10000), ("shift_hours", 24))}
    cost = _handling_cost(form, errors)
    active = bool(form.get("active"))
    if not active and warehouse.active and _units_in_warehouse(warehouse.id):
        errors["active"] = "It still holds stock; move the stock out before closing it."
    if errors:
        raise ValidationError(errors=errors)
    for key, value in {**values, **numbers, "country": country, "timezone": zone, "kind": kind,
                       "handling_cost_per_unit": cost, "active": active}.items():
        setattr(warehouse, key, value)
    db.session.commit()
    return warehouse


def _handling_cost(form: dict, errors: dict) -> Decimal | None:
    try:
        cost = Decimal(str(form.get("handling_cost_per_unit", "")).strip())
    except InvalidOperation:
        errors["handling_cost_per_unit"] = "An amount such as 0.40."
        return None
    if not cost.is_finite() or not Decimal(0) <= cost <= Decimal(1000) or cost != cost.quantize(Decimal("0.01")):
        errors["handling_cost_per_unit"] = "An amount from 0 to 1000 with at most 2 decimal places."
        return None
    return cost


def _units_in_warehouse(warehouse_id: int) -> int:
    return db.session.scalar(select(func.coalesce(func.sum(StockBalance.qty), 0))
                             .where(StockBalance.warehouse_id == warehouse_id)) or 0


@service
def add_location(warehouse_id: int, form: dict, *, user_id: int | None) -> Location:
    """Add a bin (or staging area or dock) to a warehouse."""
    require_ownership(_acting(user_id), "locations")
    warehouse = get_warehouse(warehouse_id)
    errors: dict[str, str] = {}
    code = str(form.get("code", "")).strip().upper()
    if not re.fullmatch(r"[A-Z0-9._-]{1,40}", code):
        errors["code"] = "1 to 40 letters, digits, dots, dashes or underscores."
    elif db.session.scalar(select(Location.id).where(Location.warehouse_id == warehouse.id, Location.code == code)):
        errors["code"] = f"{warehouse.code} already has a location {code}."
    kind = form.get("kind") or "bin"
    if kind not in ("bin", "staging", "dock"):
        errors["kind"] = "Bin, staging or dock."
    aisle = _int(form, "aisle", errors, 0, 999) if str(form.get("aisle", "")).strip() else None
    level = _int(form, "level", errors, 0, 99) if str(form.get("level", "")).strip() else None
    position = _position(form, errors)
    if errors:
        raise ValidationError(errors=errors)
    location = Location(warehouse_id=warehouse.id, code=code, kind=kind, aisle=aisle, level=level, position_m=position)
    db.session.add(location)
    db.session.commit()
    return location


def _position(form: dict, errors: dict) -> Decimal | None:
    raw = str(form.get("position_m", "")).strip()
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        errors["position_m"] = "Metres from the aisle start, such as 12.5."
        return None
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(10000):
        errors["position_m"] = "From 0 to 10000 metres."
        return None
    return value.quantize(Decimal("0.1"))


@service
def set_location_active(location_id: int, active: bool, *, user_id: int | None) -> Location:
    """Take a bin out of use (only when it is empty) or put it back."""
    require_ownership(_acting(user_id), "locations")
    location = db.session.get(Location, location_id)
    if location is None or location.is_virtual:
        raise NotFound("No such bin.")
    held = db.session.scalar(select(func.coalesce(func.sum(StockBalance.qty), 0))
                             .where(StockBalance.location_id == location.id)) or 0
    if not active and held:
        raise Conflict(f"{location.code} holds {held} units; move them before taking it out of use.")
    location.active = active
    db.session.commit()
    return location


# --- channels ------------------------------------------------------------------------------------------------

def get_channel(channel_id: int) -> Channel:
    channel = db.session.get(Channel, channel_id)
    if channel is None:
        raise NotFound("No such channel.")
    return channel


def channel_ranking(channel_id: int) -> list[int]:
    return list(db.session.scalars(select(channel_warehouses.c.warehouse_id)
                                   .where(channel_warehouses.c.channel_id == channel_id)
                                   .order_by(channel_warehouses.c.rank)))


@service
def update_channel(channel_id: int, form: dict, warehouse_ids: list[int], *, user_id: int | None) -> Channel:
    """Change a channel: name, safety buffer, SLA, ship-complete, and the warehouses that serve it, best first."""
    require_ownership(_acting(user_id), "channels")
    channel = get_channel(channel_id)
    errors: dict[str, str] = {}
    name = _text(form, "name", errors, 120, required=True)
    buffer = _int(form, "safety_buffer", errors, 0, 100000)
    sla = _int(form, "sla_days", errors, 0, 60)
    ranking = list(dict.fromkeys(warehouse_ids))
    known = set(db.session.scalars(select(Warehouse.id).where(Warehouse.id.in_(ranking)))) if ranking else set()
    if not ranking:
        errors["warehouses"] = "Choose at least one warehouse to serve this channel."
    elif set(ranking) - known:
        errors["warehouses"] = "Choose warehouses from the list."
    if errors:
        raise ValidationError(errors=errors)
    channel.name, channel.safety_buffer, channel.sla_days = name, buffer, sla
    channel.ship_complete, channel.active = bool(form.get("ship_complete")), bool(form.get("active"))
    _rank_warehouses(channel, ranking)
    record_event("channel.updated", "channel", channel.code, {"channel": channel.code}, user_id=user_id)
    db.session.commit()
    return channel


def _rank_warehouses(channel: Channel, ranking: list[int]) -> None:
    before = channel_ranking(channel.id)
    if before == ranking:
        return
    db.session.execute(delete(channel_warehouses).where(channel_warehouses.c.channel_id == channel.id))
    db.session.execute(insert(channel_warehouses), [{"channel_id": channel.id, "warehouse_id": w, "rank": rank}
                                                    for rank, w in enumerate(ranking, 1)])
    db.session.expire(channel, ["warehouses"])
    codes = dict(db.session.execute(select(Warehouse.id, Warehouse.code)).all())
    audit.note_change("channels", channel.id, "update", {"warehouses": [codes.get(w) for w in before]},
                      {"warehouses": [codes.get(w) for w in ranking]})


@service
def rotate_channel_secret(channel_id: int, *, user_id: int | None, secret: str = "") -> str:
    """Give a channel a new webhook secret: the one the platform issued, or a new random one. Shown once."""
    require_ownership(_acting(user_id), "channels")
    channel = get_channel(channel_id)
    secret = (secret or "").strip()
    if secret and not 16 <= len(secret) <= 200:
        raise ValidationError("A secret of 16 to 200 characters, or leave it empty for a new random one.",
                              field="secret")
    channel.webhook_secret = secret or secrets.token_urlsafe(32)
    db.session.commit()
    return channel.webhook_secret


# --- settings ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SettingRow:
    key: str
    value: Any
    default: Any
    kind: str  # bool, int, float, decimal, time, text, optional_int

    @property
    def changed(self) -> bool:
        return self.value != self.default

    @property
    def group(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def json_text(self) -> str:
        return json.dumps(self.value, indent=1, ensure_ascii=False)


def _kind(default: Any) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if default is None:
        return "optional_int"
    if isinstance(default, str) and re.fullmatch(r"-?\d+\.\d+", default):
        return "decimal"
    if isinstance(default, str) and re.fullmatch(r"\d{2}:\d{2}", default):
        return "time"
    if isinstance(default, (list, dict)):
        return "json"
    return "text"


def setting_rows() -> list[SettingRow]:
    """Every setting Keel knows, with its current value and default, grouped by the part of Keel it steers."""
    return [SettingRow(key, get_setting(key), default, _kind(default)) for key, default in sorted(DEFAULTS.items())]


def _json_value(text: str, default: Any) -> Any:
    if len(text) > 20000:
        raise ValueError("Too long.")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"Not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}).") from None
    if type(value) is not type(default):
        raise ValueError("A JSON list, like the default." if isinstance(default, list) else
                         "A JSON object, like the default.")
    return value


def _coerce(kind: str, raw: Any, default: Any = None) -> Any:
    """A typed value from form text; ValueError with a message when it does not fit."""
    text = "" if raw is None else str(raw).strip()
    if kind == "bool":
        return text in ("1", "true", "on", "yes")
    if kind == "optional_int" and text == "":
        return None
    if kind in ("int", "optional_int"):
        if not re.fullmatch(r"-?\d{1,9}", text):
            raise ValueError("A whole number.")
        return int(text)
    if kind == "float":
        try:
            value = float(text)
        except ValueError:
            raise ValueError("A number.") from None
        if value != value or value in (float("inf"), float("-inf")) or abs(value) > 1e9:
            raise ValueError("A number.")
        return value
    if kind == "decimal":
        if not re.fullmatch(r"-?\d{1,12}(\.\d{1,4})?", text):
            raise ValueError("An amount such as 1500.00.")
        return str(Decimal(text).quantize(Decimal("0.01")))
    if kind == "time":
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text):
            raise ValueError("A time such as 08:00.")
        return text
    if kind == "json":
        return _json_value(text, default)
    if len(text) > 500:
        raise ValueError("Up to 500 characters.")
    return text


@service
def update_settings(form: dict, shown: list[str], *, user_id: int | None) -> list[str]:
    """Save the settings that changed among those `shown` on the form, all or none; returns the keys changed.

    A checkbox left unticked sends nothing, so `shown` says which settings the form carried."""
    require_ownership(_acting(user_id), "rules")
    errors, changes = {}, {}
    for row in setting_rows():
        if row.key not in shown:
            continue
        try:
            value = _coerce(row.kind, form.get(row.key), row.default)
        except ValueError as exc:
            errors[row.key] = str(exc)
            continue
        if value != row.value:
            changes[row.key] = value
    if errors:
        raise ValidationError(errors=errors)
    for key, value in changes.items():
        setting = db.session.get(Setting, key) or Setting(key=key)
        setting.value, setting.updated_by_id, setting.updated_at = value, user_id, utcnow()
        db.session.add(setting)
    db.session.commit()
    return sorted(changes)


@service
def reset_setting(key: str, *, user_id: int | None) -> None:
    """Go back to Keel's default for one setting."""
    require_ownership(_acting(user_id), "rules")
    if key not in DEFAULTS:
        raise NotFound("No such setting.")
    setting = db.session.get(Setting, key)
    if setting is not None:
        db.session.delete(setting)
    db.session.commit()
