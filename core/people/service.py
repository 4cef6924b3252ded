"""Accounts: creating users with a checked password, and finding them by e-mail."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core import audit, security
from core.errors import Conflict, FieldProblem, InvalidInput
from core.models.people import Role, User
from core.people.passwords import check_password


def normalise_email(email: str) -> str:
    cleaned = email.strip().lower()
    local, _, domain = cleaned.partition("@")
    if not local or "." not in domain or " " in cleaned or len(cleaned) > 320:
        raise InvalidInput(
            f"{email!r} is not an e-mail address.", fields=[FieldProblem("email", "expected name@domain")]
        )
    return cleaned


async def find_user_by_email(*, session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == email.strip().lower()))
    return result.scalar_one_or_none()


async def create_user(*, session: AsyncSession, email: str, password: str, role: Role) -> User:
    """A new account; the e-mail is unique ignoring case and the password must pass the policy."""
    address = normalise_email(email)
    check_password(password, user_inputs=[address, address.partition("@")[0]])
    if await find_user_by_email(session=session, email=address) is not None:
        raise Conflict(
            f"An account with e-mail {address} already exists.", fields=[FieldProblem("email", address)]
        )
    user = User(email=address, password_hash=await security.hash_password(password), role=role)
    session.add(user)
    await session.flush()
    return user


async def create_admin(
    *, session: AsyncSession, email: str, password: str, context: audit.AuditContext
) -> User:
    """An administrator account (from the command line: the only way to make the first one), audited."""
    user = await create_user(session=session, email=email, password=password, role=Role.admin)
    await audit.record(
        session=session,
        actor_id=None,
        action="account.created",
        subject_type="user",
        subject_id=user.id,
        after={"email": user.email, "role": Role.admin},
        context=context,
    )
    return user
