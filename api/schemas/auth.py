"""Request and response bodies of sign-in, tokens, /me and invitations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.models.people import ParticipantOrGuardian, Role
from core.text import SafeText


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenPublic(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)
    expires_in: int = Field(description="seconds the access token stays valid")


class RefreshRequest(_Body):
    refresh_token: SafeText = Field(min_length=1, max_length=200)


class PasswordChange(_Body):
    current_password: SafeText = Field(min_length=1, max_length=128)
    new_password: SafeText = Field(min_length=1, max_length=128)


class MeParticipant(BaseModel):
    id: uuid.UUID
    subject_code: str
    relationship: str


class MeStudy(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    role: Role = Field(description="this login's role in the study")
    site_codes: list[str] = Field(
        description="this login's sites; empty: study-wide (or admin, or participant)"
    )


class MePublic(BaseModel):
    id: uuid.UUID
    email: str
    role: Role
    participants: list[MeParticipant]
    studies: list[MeStudy] = Field(
        description="the studies this login belongs to (staff: GET /studies pages them)"
    )


class InvitationCreate(_Body):
    role: ParticipantOrGuardian
    relationship: SafeText | None = Field(
        default=None, min_length=1, max_length=40, description="for a guardian: mother, father, carer ..."
    )


class InvitationPublic(BaseModel):
    code: str = Field(description="shown once; only its hash is kept")
    expires_at: datetime


class InvitationRedeem(_Body):
    code: SafeText = Field(min_length=1, max_length=200)
    email: SafeText = Field(min_length=3, max_length=320)
    password: SafeText = Field(min_length=1, max_length=128)


class UserRef(BaseModel):
    """Who: a login and its role (the login an invitation created, the author of an entry's version)."""

    user_id: uuid.UUID
    role: Role
