"""Named errors that services raise and the web, API and CLI layers translate."""
from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the request; the message is fit to show a person."""

    code = "domain_error"
    status = 422

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(DomainError):
    code = "invalid"

    def __init__(self, message: str = "Please correct the highlighted fields.", *, errors: dict[str, str] | None = None, field: str | None = None):
        super().__init__(message, field=field)
        self.errors = dict(errors or {})
        if field and field not in self.errors:
            self.errors[field] = message


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class InsufficientStock(Conflict):
    code = "insufficient_stock"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class PermissionDenied(DomainError):
    code = "forbidden"
    status = 403
