"""Master data ownership: which roles may change which kind of master data, kept in settings.

Services call `require_ownership(user, area)` before they change anything, so the rule holds for
every door (screens, API, imports), not only where a button is hidden.
"""
from __future__ import annotations

from app.domain.errors import PermissionDenied, ValidationError
from app.domain.roles import ROLE_TITLES, Role
from app.extensions import db
from app.models import User
from app.services._uow import service
from app.services.settings import get_setting, set_setting

AREAS: dict[str, str] = {
    "items": "SKUs: names, barcodes, categories, dimensions, weights and costs",
    "prices": "Selling prices of SKUs",
    "suppliers": "Suppliers and their terms",
    "locations": "Warehouses and their bins",
    "channels": "Sales channels: warehouses served, buffers, shipping rules and webhook secrets",
    "rules": "Settings: hold rules, routing, approvals, scheduled jobs and this ownership map",
}

DEFAULT_OWNERS: dict[str, frozenset[str]] = {
    "items": frozenset({Role.ADMIN, Role.PROCUREMENT}),
    "prices": frozenset({Role.ADMIN, Role.RETAIL}),
    "suppliers": frozenset({Role.ADMIN, Role.PROCUREMENT}),
    "locations": frozenset({Role.ADMIN, Role.SUPERVISOR}),
    "channels": frozenset({Role.ADMIN, Role.RETAIL}),
    "rules": frozenset({Role.ADMIN}),
}


def _setting_key(area: str) -> str:
    return f"ownership.{area}"


def owners(area: str) -> frozenset[str]:
    """The roles that may change this area: the retailer's setting, else the default."""
    if area not in AREAS:
        raise ValueError(f"unknown master data area {area!r}")
    value = get_setting(_setting_key(area))
    if isinstance(value, list):
        return frozenset(str(role) for role in value if role in set(Role)) | {Role.ADMIN.value}
    return frozenset(str(role) for role in DEFAULT_OWNERS[area])


def ownership_map() -> dict[str, frozenset[str]]:
    return {area: owners(area) for area in AREAS}


def _role_of(user: User | int | None) -> str | None:
    if user is None:
        return None
    if isinstance(user, int):
        found = db.session.get(User, user)
        if found is None:
            raise PermissionDenied("Unknown user.")
        user = found
    return user.role


def may_change(user: User | int | None, area: str) -> bool:
    """Whether this person may change the area; None is the system itself (jobs, imports, demo data)."""
    role = _role_of(user)
    return role is None or role in owners(area)


def require_ownership(user: User | int | None, area: str) -> None:
    """Refuse with PermissionDenied unless the user's role owns this area of master data."""
    if not may_change(user, area):
        names = ", ".join(ROLE_TITLES[Role(r)].lower() for r in sorted(owners(area)))
        raise PermissionDenied(f"Only {names} may change {area}; ask one of them to make this change.")


@service
def set_owners(area: str, roles: list[str], *, user: User | int | None) -> frozenset[str]:
    """Say which roles own an area. Administrators always keep every area, so the map can be corrected."""
    require_ownership(user, "rules")
    if area not in AREAS:
        raise ValidationError("Unknown master data area.", field="area")
    unknown = [r for r in roles if r not in set(Role)]
    if unknown:
        raise ValidationError(f"Unknown role {unknown[0]}.", field=area)
    chosen = sorted(set(roles) | {Role.ADMIN.value})
    set_setting(_setting_key(area), chosen, user_id=user if isinstance(user, int) else getattr(user, "id", None))
    return frozenset(chosen)
