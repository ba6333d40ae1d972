"""People and their credentials: sign-in, passwords, API tokens."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.domain.errors import NotFound, ValidationError
from app.domain.roles import Role, password_problems
from app.extensions import db
from app.models import ApiToken, User
from app.models.types import utcnow
from app.services._uow import service

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
TOKEN_SCOPES = ("read", "write")


@service
def create_user(username: str, role: str, password: str, *, full_name: str = "", email: str = "",
                enforce_policy: bool = True) -> User:
    """Add a person with one role."""
    errors = {}
    if role not in set(Role):
        errors["role"] = "Choose one of the roles."
    if not username or len(username) > 64:
        errors["username"] = "A username of 1 to 64 characters is needed."
    elif db.session.scalar(select(User.id).where(User.username == username)):
        errors["username"] = "That username is taken."
    if enforce_policy and (problems := password_problems(password, username)):
        errors["password"] = " ".join(problems)
    if errors:
        raise ValidationError(errors=errors)
    user = User(username=username, role=role, full_name=full_name, email=email,
                password_hash=generate_password_hash(password))
    db.session.add(user)
    db.session.commit()
    return user


@service
def authenticate(username: str, password: str) -> User | None:
    """The user when the password is right and the account is usable; counts failures and locks."""
    user = db.session.scalar(select(User).where(User.username == username))
    now = utcnow()
    if user is None or not user.active:
        check_password_hash(generate_password_hash("x"), password)  # same cost whether or not the user exists
        return None
    if user.locked_until and user.locked_until > now:
        return None
    if not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until, user.failed_logins = now + LOCKOUT, 0
        db.session.commit()
        return None
    user.failed_logins, user.locked_until = 0, None
    db.session.commit()
    return user


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@service
def create_token(username: str, *, label: str = "", scopes: str = "read write") -> str:
    """A new API token for a user; only its hash is kept, so it is shown once."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No user named {username}.", field="username")
    if not set(scopes.split()) <= set(TOKEN_SCOPES) or not scopes.split():
        raise ValidationError("Scopes are 'read', 'write' or both.", field="scopes")
    token = "keel_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=_hash_token(token), prefix=token[:12], label=label,
                            scopes=scopes))
    db.session.commit()
    return token


def user_for_token(token: str) -> tuple[User, set[str]] | None:
    """The active user and scopes behind a bearer token, or None."""
    if not token or len(token) > 200:
        return None
    found = db.session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                               .where(ApiToken.token_hash == _hash_token(token))).first()
    if found is None:
        return None
    row, user = found
    if row.revoked_at is not None or not user.active:
        return None
    return user, set(row.scopes.split())


@service
def revoke_token(token_id: int) -> None:
    """Stop a token working from now on."""
    row = db.session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("No such token.")
    row.revoked_at = row.revoked_at or utcnow()
    db.session.commit()
