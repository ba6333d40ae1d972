"""The people who use Keel and what each role is for."""
from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    RETAIL = "retail"
    WAREHOUSE = "warehouse"
    SUPERVISOR = "supervisor"
    PROCUREMENT = "procurement"
    FINANCE = "finance"
    RETURNS = "returns"


ALL_ROLES = frozenset(Role)

ROLE_TITLES = {
    Role.ADMIN: "Administrator",
    Role.RETAIL: "Ecommerce operations",
    Role.WAREHOUSE: "Warehouse associate",
    Role.SUPERVISOR: "Warehouse supervisor",
    Role.PROCUREMENT: "Procurement",
    Role.FINANCE: "Finance",
    Role.RETURNS: "Returns",
}

MIN_PASSWORD_LENGTH = 10


def password_problems(password: str, username: str) -> list[str]:
    """What is wrong with a new password, as sentences; empty when it is acceptable."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if username and username.lower() in password.lower():
        problems.append("Do not include your username.")
    if password.isdigit() or password.isalpha():
        problems.append("Mix letters with digits or symbols.")
    return problems
