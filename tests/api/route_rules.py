"""The route x role matrix: what every role gets on every /api/v1 route (walked by test_route_matrix.py).

HOW TO ADD A RULE (one call per route, next to the others of your domain, at the end of this file):

    rule(
        "POST", "/api/v1/participants/{participant_id}/entries",       # exactly as in app.routes
        ok={PARTICIPANT, GUARDIAN, CLINICIAN, COORDINATOR, ADMIN},     # roles that succeed (any 2xx)
        build=lambda c: Call(json={"kind": "weight", "id": str(uuid.uuid4()), ...}),
    )

What the matrix then checks, for each role of ROLES (one request each, on a fresh rolled-back world):
- roles in `ok` get a 2xx; ANONYMOUS gets 401 (unless in `ok`); every other role gets 403;
  `expect={ROLE: status}` overrides single roles when the documented answer differs.
- A path with {participant_id} is called a second time on `world.stranger`, a participant at another site
  whom the participant and guardian users are not linked to: the scope-limited roles (participant, guardian,
  clinician, coordinator) that succeed in scope must get 404 there; refused roles may get 403 or 404.
- A 2xx JSON answer to a role that may not see the allocation (the world's study is blinded) must not contain
  an `arm`, `arm_id`, `arm_code` or `arms` key anywhere.

`build(ctx)` (a plain function or a coroutine function) returns a `Call` making a VALID request for `ctx.user`
acting on `ctx.target`: json / form data / query params, and `path_params` for placeholders other than
{participant_id} (filled with ctx.target.id) and {study_id} (filled with ctx.world.study.id). `ctx.session` is
the test's session (flush, never commit) to create what the request needs (e.g. the entry whose id is in the
path); `ctx.client` may make earlier requests (e.g. log in for a refresh token). `ctx.world` holds the study,
its sites S1/S2, `subject` (S1, with a login and a guardian), `stranger` (S2, with a login and another
guardian), and `users[ROLE]`: participant = subject's login, guardian = subject's guardian, clinician and
coordinator at S1, statistician study-wide, admin. Each role's request runs on a fresh world, so a rule may
spend what it builds (an invitation code, a refresh token, a password change).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.people import User
from core.models.study import Participant, Study

PARTICIPANT = "participant"
GUARDIAN = "guardian"
CLINICIAN = "clinician"
COORDINATOR = "coordinator"
STATISTICIAN = "statistician"
ADMIN = "admin"
ANONYMOUS = "anonymous"

ROLES = (PARTICIPANT, GUARDIAN, CLINICIAN, COORDINATOR, STATISTICIAN, ADMIN, ANONYMOUS)
SIGNED_IN = frozenset(ROLES) - {ANONYMOUS}
EVERYONE = frozenset(ROLES)
PARTICIPANT_SIDE = frozenset({PARTICIPANT, GUARDIAN})
STAFF = frozenset({CLINICIAN, COORDINATOR, STATISTICIAN})
# roles whose view of participants is limited by scope (statistician and admin see the whole study)
SCOPE_LIMITED = frozenset({PARTICIPANT, GUARDIAN, CLINICIAN, COORDINATOR})
# roles that may see the arm allocation of a blinded study
UNBLINDED = frozenset({STATISTICIAN, ADMIN})


@dataclass
class World:
    study: Study
    subject: Participant
    stranger: Participant
    stranger_guardian: User
    users: dict[str, User]


@dataclass
class Ctx:
    world: World
    target: Participant
    role: str
    user: User | None
    session: AsyncSession
    client: httpx.AsyncClient


@dataclass
class Call:
    json: Any = None
    data: dict[str, str] | None = None
    params: dict[str, str] | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


Builder = Callable[[Ctx], "Call | Awaitable[Call]"]


@dataclass(frozen=True)
class Rule:
    method: str
    path: str
    ok: frozenset[str]
    build: Builder
    expect: dict[str, int]

    def expected(self, role: str) -> int | None:
        """The documented status for `role` in scope: a number, or None for "any 2xx"."""
        if role in self.expect:
            return self.expect[role]
        if role in self.ok:
            return None
        return 401 if role == ANONYMOUS else 403


RULES: dict[tuple[str, str], Rule] = {}


def _empty(_ctx: Ctx) -> Call:
    return Call()


def rule(
    method: str,
    path: str,
    *,
    ok: frozenset[str] | set[str],
    build: Builder = _empty,
    expect: dict[str, int] | None = None,
) -> None:
    key = (method.upper(), path)
    assert key not in RULES, f"two rules for {key}"
    RULES[key] = Rule(method.upper(), path, frozenset(ok), build, dict(expect or {}))


def uid() -> str:
    return str(uuid.uuid4())


# ---- rules, grouped by domain ------------------------------------------------------------------------------
