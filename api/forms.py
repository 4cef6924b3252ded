"""Form bodies: the OAuth2 password form with its text refused when it holds a NUL character."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form
from fastapi.security import OAuth2PasswordRequestForm

from core.text import SafeText


class PasswordForm(OAuth2PasswordRequestForm):
    """FastAPI's password form, the same fields; a NUL in username or password is a 422 naming the field
    (the e-mail lookup on PostgreSQL was a 500)."""

    def __init__(
        self,
        *,
        grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
        username: Annotated[SafeText, Form()],
        password: Annotated[SafeText, Form(json_schema_extra={"format": "password"})],
        scope: Annotated[SafeText, Form()] = "",
        client_id: Annotated[SafeText | None, Form()] = None,
        client_secret: Annotated[SafeText | None, Form(json_schema_extra={"format": "password"})] = None,
    ) -> None:
        super().__init__(
            grant_type=grant_type,
            username=username,
            password=password,
            scope=scope,
            client_id=client_id,
            client_secret=client_secret,
        )
