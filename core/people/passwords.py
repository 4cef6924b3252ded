"""Password policy: length 12-128, never truncated, and not guessable (zxcvbn score of at least 3)."""

from __future__ import annotations

from zxcvbn import zxcvbn

from core.errors import FieldProblem, InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 128
MIN_SCORE = 3


def check_password(password: str, *, field: str = "password", user_inputs: list[str] | None = None) -> None:
    """Refuse a password a person should not use, saying why."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise InvalidInput(
            f"The password must be {MIN_LENGTH} to {MAX_LENGTH} characters long (got {len(password)}).",
            fields=[FieldProblem(field, f"length {len(password)}; allowed {MIN_LENGTH}-{MAX_LENGTH}")],
        )
    # zxcvbn is quadratic in length; the first 100 characters decide guessability well enough
    result = zxcvbn(password[:100], user_inputs=[u for u in (user_inputs or []) if u])
    if result["score"] < MIN_SCORE:
        hint = result["feedback"].get("warning") or "it is too easy to guess"
        raise InvalidInput(
            f"The password is too easy to guess: {hint}. Use a longer phrase of unrelated words.",
            fields=[
                FieldProblem(field, f"guessability score {result['score']}; at least {MIN_SCORE} needed")
            ],
        )
