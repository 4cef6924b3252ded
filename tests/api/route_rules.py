"""The route x role matrix: what every role gets on every API route (walked by test_route_matrix.py).

HOW TO ADD A RULE (one call per route, next to the others of your domain, at the end of this file):

    rule(
        "POST", API + "/participants/{participant_id}/entries",       # exactly as in app.routes
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
from tests.urls import API

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

# auth (issue 3)
STRONG_PASSWORD = "Copper-Walrus-Tangerine-58"


def _login_form(ctx: Ctx) -> Call:
    from tests.factories import DEFAULT_PASSWORD

    return Call(data={"username": ctx.world.users[CLINICIAN].email, "password": DEFAULT_PASSWORD})


async def _fresh_refresh_token(ctx: Ctx) -> Call:
    login = _login_form(ctx)
    answer = await ctx.client.post(API + "/auth/token", data=login.data)
    assert answer.status_code == 200, answer.text
    return Call(json={"refresh_token": answer.json()["refresh_token"]})


def _password_change(_ctx: Ctx) -> Call:
    from tests.factories import DEFAULT_PASSWORD

    return Call(json={"current_password": DEFAULT_PASSWORD, "new_password": STRONG_PASSWORD})


async def _guardian_invitation(ctx: Ctx) -> Call:
    from datetime import timedelta

    from core import clock, security
    from core.models.auth import Invitation

    code = security.new_opaque_token()
    ctx.session.add(
        Invitation(
            code_hash=security.token_hash(code),
            participant_id=ctx.target.id,
            role="guardian",
            relationship="aunt",
            created_by=ctx.world.users[COORDINATOR].id,
            expires_at=clock.now() + timedelta(days=1),
        )
    )
    await ctx.session.flush()
    return Call(json={"code": code, "email": f"aunt-{uid()[:8]}@example.org", "password": STRONG_PASSWORD})


rule("POST", API + "/auth/token", ok=EVERYONE, build=_login_form)
rule("POST", API + "/auth/refresh", ok=EVERYONE, build=_fresh_refresh_token)
rule("POST", API + "/auth/logout", ok=SIGNED_IN)
rule("GET", API + "/me", ok=SIGNED_IN)
rule("POST", API + "/me/password", ok=SIGNED_IN, build=_password_change)
rule("POST", API + "/invitations/redeem", ok=EVERYONE, build=_guardian_invitation)
rule(
    "POST",
    API + "/participants/{participant_id}/invitations",
    ok={COORDINATOR, ADMIN},
    build=lambda _c: Call(json={"role": "guardian", "relationship": "grandmother"}),
)

# study set-up (issue 3)


def _new_study(_ctx: Ctx) -> Call:
    code = f"T{uid()[:8].upper()}"
    return Call(
        json={
            "code": code,
            "name": "Matrix study",
            "timezone": "Europe/Ljubljana",
            "blinded": True,
            "arms": [{"code": "A", "name": "Active"}, {"code": "P", "name": "Placebo"}],
            "sites": [{"code": "S1", "name": "Ljubljana", "timezone": "Europe/Ljubljana"}],
            "protocol": {"glucose": {"mg_dl": {"hypo_level1": 72}}},
        }
    )


def _enrolment(_ctx: Ctx) -> Call:
    return Call(
        json={
            "subject_code": f"M-{uid()[:8]}",
            "site_code": "S1",
            "arm_code": "A",
            "sex": "male",
            "birth_date": "2015-03-02",
            "enrolled_at": "2026-02-02T09:00:00+01:00",
            "treatment_date": "2026-02-09",
            "timezone": "Europe/Ljubljana",
            "weight_kg": 30.5,
            "height_cm": 132,
            "diagnosis_date": "2026-01-12",
            "consent": {"given_by": "guardian", "date": "2026-02-01", "form_version": "3.1"},
        }
    )


STUDY_STAFF = STAFF | {ADMIN}
rule("POST", API + "/studies", ok={ADMIN}, build=_new_study)
rule("GET", API + "/studies", ok=STUDY_STAFF)
rule("GET", API + "/studies/{study_id}", ok=STUDY_STAFF)
rule(
    "POST",
    API + "/studies/{study_id}/protocol/versions",
    ok={ADMIN},
    build=lambda _c: Call(json={"protocol": {"visits": {"window_days": 10}}}),
)
rule(
    "GET",
    API + "/studies/{study_id}/protocol/versions/{version}",
    ok=STUDY_STAFF,
    build=lambda _c: Call(path_params={"version": "1"}),
)
rule(
    "POST",
    API + "/studies/{study_id}/staff",
    ok={ADMIN},
    build=lambda _c: Call(
        json={
            "email": f"nurse-{uid()[:8]}@example.org",
            "password": STRONG_PASSWORD,
            "role": "clinician",
            "site_codes": ["S1"],
        }
    ),
)
rule("POST", API + "/studies/{study_id}/participants", ok={COORDINATOR, ADMIN}, build=_enrolment)
rule(
    "POST",
    API + "/studies/{study_id}/randomisation",
    ok=UNBLINDED,
    build=lambda _c: Call(json={"slots": [{"site_code": "S1", "sequence": 1, "arm_code": "A"}]}),
)
rule("GET", API + "/studies/{study_id}/participants", ok=STUDY_STAFF)
rule("GET", API + "/participants/{participant_id}", ok=SIGNED_IN)
rule(
    "PATCH",
    API + "/participants/{participant_id}",
    ok={COORDINATOR, ADMIN},
    build=lambda _c: Call(
        json={"timezone": "Europe/Vienna", "treatment_date": "2026-01-19", "reason": "moved; day 0 corrected"}
    ),
)


def _guardian_of_target(ctx: Ctx) -> Call:
    guardian = ctx.world.users[GUARDIAN] if ctx.target is ctx.world.subject else ctx.world.stranger_guardian
    return Call(params={"reason": "custody changed"}, path_params={"guardian_user_id": str(guardian.id)})


rule(
    "DELETE",
    API + "/participants/{participant_id}/guardians/{guardian_user_id}",
    ok={COORDINATOR, ADMIN},
    build=_guardian_of_target,
)


# ---- alerts (rules helper) ----------------------------------------------------------------------------------
async def _alert_of_target(ctx: Ctx, **overrides: Any) -> str:
    from tests.core.rules.diary_rows import create_alert

    return str((await create_alert(ctx.session, ctx.target, **overrides)).id)


async def _acknowledge(ctx: Ctx) -> Call:
    return Call(path_params={"alert_id": await _alert_of_target(ctx)})


async def _resolve(ctx: Ctx) -> Call:
    return Call(path_params={"alert_id": await _alert_of_target(ctx)}, json={"note": "Called the family."})


async def _decide(ctx: Ctx) -> Call:
    return Call(
        path_params={"alert_id": await _alert_of_target(ctx)},
        json={"decision": "no_change", "note": "Values explained by a birthday party."},
    )


rule("GET", API + "/alerts", ok={CLINICIAN, COORDINATOR, STATISTICIAN})
rule("POST", API + "/alerts/{alert_id}/acknowledge", ok={CLINICIAN}, build=_acknowledge)
rule("POST", API + "/alerts/{alert_id}/resolve", ok={CLINICIAN}, build=_resolve)
rule("POST", API + "/alerts/{alert_id}/decision", ok={CLINICIAN}, build=_decide)


# ---- diary (diary helper) -----------------------------------------------------------------------------------
DIARY_WRITERS = frozenset({PARTICIPANT, GUARDIAN, CLINICIAN, COORDINATOR, ADMIN})


def _diary_entry(kind: str = "weight") -> dict[str, Any]:
    from tests.factories import entry_body

    return entry_body(kind=kind)


async def _stored_entry(ctx: Ctx) -> str:
    from core.access import Actor
    from core.diary import service as diary_service

    entry, _ = await diary_service.record_entry(
        session=ctx.session,
        actor=Actor.of(ctx.world.users[ADMIN]),
        participant=ctx.target,
        entry_in=_diary_entry("glucose"),
    )
    return str(entry["id"])


async def _entry_path(ctx: Ctx) -> Call:
    return Call(path_params={"entry_id": await _stored_entry(ctx)})


async def _entry_edit(ctx: Ctx) -> Call:
    return Call(
        path_params={"entry_id": await _stored_entry(ctx)},
        json={"version": 1, "reason": "typed 98, meter said 89", "value": 89},
    )


async def _entry_void(ctx: Ctx) -> Call:
    return Call(path_params={"entry_id": await _stored_entry(ctx)}, params={"reason": "entered twice"})


ENTRIES = API + "/participants/{participant_id}/entries"
rule("POST", ENTRIES, ok=DIARY_WRITERS, build=lambda _c: Call(json=_diary_entry()))
rule("POST", f"{ENTRIES}/batch", ok=DIARY_WRITERS, build=lambda _c: Call(json={"entries": [_diary_entry()]}))
rule("GET", ENTRIES, ok=SIGNED_IN)
rule("GET", f"{ENTRIES}/{{entry_id}}", ok=SIGNED_IN, build=_entry_path)
rule("PATCH", f"{ENTRIES}/{{entry_id}}", ok=DIARY_WRITERS, build=_entry_edit)
rule("DELETE", f"{ENTRIES}/{{entry_id}}", ok=DIARY_WRITERS, build=_entry_void)
rule("GET", f"{ENTRIES}/{{entry_id}}/history", ok=SIGNED_IN, build=_entry_path)
rule("GET", API + "/participants/{participant_id}/changes", ok=SIGNED_IN)


# ---- visits (visits helper) ---------------------------------------------------------------------------------
async def _planned_visit(ctx: Ctx, **json: Any) -> Call:
    from core.visits import service as visit_service

    await visit_service.plan_participant(
        session=ctx.session, participant=ctx.target, actor=None, reason="matrix"
    )
    first = (await visit_service.visits_of(session=ctx.session, participant_id=ctx.target.id))[0]
    return Call(path_params={"visit_id": str(first.id)}, json=json)


async def _complete_visit(ctx: Ctx) -> Call:
    from datetime import timedelta

    return await _planned_visit(
        ctx, completed_on=str(ctx.target.treatment_date + timedelta(days=30)), hba1c_percent=7.2
    )


rule("GET", API + "/participants/{participant_id}/visits", ok=SIGNED_IN)
rule("POST", API + "/visits/{visit_id}/complete", ok={CLINICIAN, COORDINATOR}, build=_complete_visit)
rule(
    "POST",
    API + "/visits/{visit_id}/missed",
    ok={CLINICIAN, COORDINATOR},
    build=lambda c: _planned_visit(c, reason="did not come"),
)
rule(
    "POST",
    API + "/visits/{visit_id}/cancel",
    ok={CLINICIAN, COORDINATOR},
    build=lambda c: _planned_visit(c, reason="moved abroad"),
)
rule("GET", API + "/studies/{study_id}/visits", ok={CLINICIAN, COORDINATOR})


# ---- episodes and reports (reports helper) ------------------------------------------------------------------
# the participant and guardians see their own episodes (without categories); staff in scope with them
rule("GET", API + "/participants/{participant_id}/episodes", ok=SIGNED_IN)


# ---- notifications (delivery helper) ------------------------------------------------------------------------
async def _own_notification(ctx: Ctx) -> Call:
    """A notification of the caller (anonymous: of the participant), as the dispatcher would have stored it."""
    from core import outbox
    from core.models.notifications import Notification
    from core.models.outbox import OutboxMessage

    owner = ctx.user or ctx.world.users[PARTICIPANT]
    key = f"matrix:{uid()}"
    await outbox.enqueue(
        ctx.session, recipient_user_id=owner.id, kind="visit.reminder", payload={}, dedup_key=key
    )
    from sqlmodel import col, select

    message = (
        await ctx.session.execute(select(OutboxMessage).where(col(OutboxMessage.dedup_key) == key))
    ).scalar_one()
    note = Notification(
        message_id=message.id,
        recipient_user_id=owner.id,
        kind="visit.reminder",
        category="reminder",
        severity="info",
        title="Study visit reminder",
        body="Visit month 3 in 7 days",
    )
    ctx.session.add(note)
    await ctx.session.flush()
    return Call(path_params={"notification_id": str(note.id)})


rule("GET", API + "/me/notifications", ok=SIGNED_IN)
rule("POST", API + "/me/notifications/{notification_id}/read", ok=SIGNED_IN, build=_own_notification)
rule("GET", API + "/me/notification-preferences", ok=SIGNED_IN)
rule(
    "PUT",
    API + "/me/notification-preferences",
    ok=SIGNED_IN,
    build=lambda _c: Call(json={"channels": {"reminder": {"email": False}}, "timezone": "Europe/Ljubljana"}),
)


# ---- reports, snapshots and exports (reports helper) ---------------------------------------------------------
REPORT_READERS = frozenset({CLINICIAN, COORDINATOR, STATISTICIAN, ADMIN})
for _report in (
    "hypoglycemia",
    "glycemic-control",
    "insulin",
    "visits",
    "completeness",
    "exercise",
    "dictionary",
):
    rule("GET", f"{API}/studies/{{study_id}}/reports/{_report}", ok=REPORT_READERS)
rule("GET", API + "/participants/{participant_id}/export/fhir", ok=STAFF | {ADMIN})
rule("GET", API + "/studies/{study_id}/export/readings", ok=REPORT_READERS)
rule("POST", API + "/studies/{study_id}/snapshots", ok={STATISTICIAN, ADMIN}, build=lambda _c: Call(json={}))
rule("GET", API + "/studies/{study_id}/snapshots", ok={STATISTICIAN, ADMIN})


async def _snapshot(ctx: Ctx) -> Call:
    from core.access import Actor
    from core.audit import SYSTEM
    from core.reports import snapshots

    made = await snapshots.create(
        session=ctx.session,
        actor=Actor.of(ctx.world.users[STATISTICIAN]),
        study_id=ctx.world.study.id,
        cut=None,
        context=SYSTEM,
    )
    return Call(path_params={"snapshot_id": str(made.id)})


rule(
    "GET",
    API + "/studies/{study_id}/snapshots/{snapshot_id}/content",
    ok={STATISTICIAN, ADMIN},
    build=_snapshot,
)
