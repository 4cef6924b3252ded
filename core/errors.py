"""Domain errors: what went wrong in the trial's terms. No HTTP here; api/errors.py maps them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FieldProblem:
    path: str
    message: str


class DomainError(Exception):
    code = "error"

    def __init__(
        self, detail: str, *, fields: list[FieldProblem] | None = None, keep_changes: bool = False
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fields = fields or []
        # a refusal that must still be saved (a failed login counted, a reused token family revoked, audited)
        self.keep_changes = keep_changes


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    code = "forbidden"


class NotAuthenticated(DomainError):
    code = "not_authenticated"


class Conflict(DomainError):
    code = "conflict"


class PreconditionFailed(DomainError):
    code = "precondition_failed"


class InvalidInput(DomainError):
    code = "invalid_input"


class Throttled(DomainError):
    code = "too_many_requests"

    def __init__(self, detail: str, *, retry_after_seconds: int, keep_changes: bool = False) -> None:
        super().__init__(detail, keep_changes=keep_changes)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(DomainError):
    code = "service_unavailable"
