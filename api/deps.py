"""Annotated dependency aliases: what a route needs, defined once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from core import access, security
from core.access import Actor
from core.audit import AuditContext
from core.db import database
from core.errors import DomainError, FieldProblem, Forbidden, InvalidInput, NotAuthenticated
from core.models.people import Role, User
from core.models.study import Participant

# HTTP's safe methods only read (RFC 9110 section 9.2.1): their sessions skip the transaction on PostgreSQL.
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One unit of work per request: commit if the route returned, roll back if it raised."""
    session = database.session(read_only=request.method in READ_ONLY_METHODS)
    try:
        yield session
        await session.commit()
    except BaseException as exc:
        await finish_refused(session, exc)
        raise
    finally:
        await session.close()


async def finish_refused(session: AsyncSession, exc: BaseException) -> None:
    """A request that raised: roll back, unless the refusal itself must be saved (DomainError.keep_changes)."""
    if isinstance(exc, DomainError) and exc.keep_changes:
        await session.commit()
    else:
        await session.rollback()


# scope="function": the commit runs before the answer is sent, so a failed commit is never reported as saved.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_stream_session() -> AsyncIterator[AsyncSession]:
    """A session for an answer streamed after the route returned (CSV reports and exports). It only reads and
    is never committed; it holds a transaction even for GET, as PostgreSQL's server-side cursors need one."""
    session = database.session()
    try:
        yield session
    finally:
        await session.close()


# the default scope ("request"): it ends after the last byte is sent, so the answer can read as it streams
StreamSessionDep = Annotated[AsyncSession, Depends(get_stream_session)]

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def current_user(session: SessionDep, token: Annotated[str | None, Depends(_bearer)]) -> User:
    """The user behind a valid access token; revoked (token version moved on) or inactive users are refused."""
    if not token:
        raise NotAuthenticated("Sign in: this needs an access token (Authorization: Bearer ...).")
    claims = security.decode_access_token(token)
    user = await session.get(User, claims.user_id)
    if user is None or not user.active or user.token_version != claims.token_version:
        raise NotAuthenticated("The access token is missing, invalid or expired; sign in again.")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def current_actor(user: CurrentUser) -> Actor:
    return Actor.of(user)


ActorDep = Annotated[Actor, Depends(current_actor)]


def require_roles(*roles: Role) -> Callable[[Actor], Coroutine[Any, Any, Actor]]:
    allowed = frozenset(roles)

    async def _check(actor: ActorDep) -> Actor:
        if actor.role not in allowed:
            raise Forbidden(f"This needs one of the roles {', '.join(sorted(r.value for r in allowed))}.")
        return actor

    return _check


AdminActor = Annotated[Actor, Depends(require_roles(Role.admin))]
StaffActor = Annotated[
    Actor, Depends(require_roles(Role.clinician, Role.coordinator, Role.statistician, Role.admin))
]
ClinicianActor = Annotated[Actor, Depends(require_roles(Role.clinician))]
CoordinatorActor = Annotated[Actor, Depends(require_roles(Role.coordinator, Role.admin))]
# the roles that see the arm allocation of a blinded study (core.access.sees_allocation)
UnblindedActor = Annotated[Actor, Depends(require_roles(Role.statistician, Role.admin))]


async def participant_for_reading(
    session: SessionDep, actor: ActorDep, participant_id: Annotated[uuid.UUID, Path()]
) -> Participant:
    return await access.participant_in_scope(session=session, actor=actor, participant_id=participant_id)


async def participant_for_writing(
    session: SessionDep, actor: ActorDep, participant_id: Annotated[uuid.UUID, Path()]
) -> Participant:
    return await access.participant_in_scope(
        session=session, actor=actor, participant_id=participant_id, write=True
    )


# The participant named in the path, loaded through the one scoping function (404 when out of scope).
ParticipantInScope = Annotated[Participant, Depends(participant_for_reading)]
ParticipantWritable = Annotated[Participant, Depends(participant_for_writing)]


def client_address(request: Request) -> str | None:
    """The caller's address. Behind a proxy listed in HTTP__TRUSTED_PROXIES, uvicorn's ProxyHeadersMiddleware
    (installed in api/main.py) has already put the right-most X-Forwarded-For entry that is not itself a trusted
    proxy there (left-most entries are only the client's claim)."""
    return request.client.host[:64] if request.client else None


async def audit_context(request: Request) -> AuditContext:
    return AuditContext(
        client_address=client_address(request),
        user_agent=request.headers.get("user-agent"),
        request_id=getattr(request.state, "request_id", None)
        or request.scope.get("state", {}).get("request_id"),
    )


# Where a request came from, for core.audit.record(context=...) and login throttling.
AuditContextDep = Annotated[AuditContext, Depends(audit_context)]


# ---- unknown query parameters ----------------------------------------------------------------------------------
# FastAPI ignores query parameters a route does not declare, so `GET /alerts?severty=critical` answered every
# alert as if unfiltered. Installed once app-wide (`FastAPI(dependencies=[Depends(reject_unknown_query)])` in
# api/main.py), this makes every route, present and future, answer 422 naming the parameter it does not know.

_declared_query: dict[int, frozenset[str]] = {}


def _query_names(dependant: Dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def declared_query_parameters(route: APIRoute) -> frozenset[str]:
    """The query parameter names a route declares, its dependencies' included (computed once per route)."""
    names = _declared_query.get(id(route))
    if names is None:
        names = _declared_query[id(route)] = frozenset(_query_names(route.dependant))
    return names


async def reject_unknown_query(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = declared_query_parameters(route)
    unknown = [name for name in dict.fromkeys(request.query_params.keys()) if name not in allowed]
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise InvalidInput(
            f"Unknown query parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"this route takes: {known}.",
            fields=[FieldProblem(name, f"unknown query parameter; allowed: {known}") for name in unknown],
        )
