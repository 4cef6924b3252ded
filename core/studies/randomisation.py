"""Randomisation lists: an unblinded statistician uploads the allocation sequence per site and stratum, and each
enrolment of a study allocating `by list` takes the next free slot, so blinded coordinators never name an arm."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass

import orjson
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, func, select

from core import audit, clock
from core.access import Actor
from core.errors import Conflict, FieldProblem, Forbidden, InvalidInput
from core.models.people import Role
from core.models.study import Arm, Participant, RandomisationSlot, Site, Study

# a concurrent enrolment may take the slot we picked between our read and our claim: read the next one again
_CLAIM_ATTEMPTS = 5


@dataclass(frozen=True)
class SlotSpec:
    site_code: str
    stratum: str
    sequence: int
    arm_code: str


@dataclass(frozen=True)
class SlotCount:
    """How many slots a site and stratum have and how many are still free (no arm: this is shown to uploaders
    and is safe to show to anyone)."""

    site_code: str
    stratum: str
    slots: int
    free: int


def _invalid(path: str, message: str) -> InvalidInput:
    return InvalidInput(f"{path}: {message}.", fields=[FieldProblem(path, message)])


async def upload(
    *,
    session: AsyncSession,
    actor: Actor,
    study: Study,
    slots: list[SlotSpec],
    context: audit.AuditContext,
) -> list[SlotCount]:
    """Add `slots` to the study's list (never replacing a slot); audited with counts and a digest, not arms."""
    if actor.role not in (Role.statistician, Role.admin):
        raise Forbidden("Only an unblinded statistician (or an admin) uploads a randomisation list.")
    sites = {
        s.code: s.id
        for s in (await session.execute(select(Site).where(col(Site.study_id) == study.id))).scalars()
    }
    arms = {
        a.code: a.id
        for a in (await session.execute(select(Arm).where(col(Arm.study_id) == study.id))).scalars()
    }
    seen: set[tuple[str, str, int]] = set()
    for i, slot in enumerate(slots):
        if slot.site_code not in sites:
            raise _invalid(
                f"slots.{i}.site_code",
                f"{slot.site_code!r} is not a site of {study.code}; allowed {sorted(sites)}",
            )
        if slot.arm_code not in arms:
            raise _invalid(
                f"slots.{i}.arm_code",
                f"{slot.arm_code!r} is not an arm of {study.code}; allowed {sorted(arms)}",
            )
        key = (slot.site_code, slot.stratum, slot.sequence)
        if key in seen:
            raise _invalid(
                f"slots.{i}.sequence",
                f"sequence {slot.sequence} repeats for site {slot.site_code}, stratum {slot.stratum!r}",
            )
        seen.add(key)
    taken = await session.execute(
        select(Site.code, RandomisationSlot.stratum, RandomisationSlot.sequence)
        .join(Site, col(Site.id) == col(RandomisationSlot.site_id))
        .where(col(RandomisationSlot.study_id) == study.id)
    )
    clashes = seen & {tuple(row) for row in taken.all()}
    if clashes:
        site, stratum, sequence = sorted(clashes)[0]
        i = next(
            i
            for i, s in enumerate(slots)
            if (s.site_code, s.stratum, s.sequence) == (site, stratum, sequence)
        )
        raise Conflict(
            f"slots.{i}.sequence: sequence {sequence} of site {site}, stratum {stratum!r} is on the list already; "
            "a list only grows (upload the following sequence numbers).",
            fields=[FieldProblem(f"slots.{i}.sequence", f"{sequence} exists already")],
        )
    session.add_all(
        RandomisationSlot(
            study_id=study.id,
            site_id=sites[s.site_code],
            stratum=s.stratum,
            sequence=s.sequence,
            arm_id=arms[s.arm_code],
            uploaded_by=actor.user_id,
        )
        for s in slots
    )
    await session.flush()
    canonical = orjson.dumps(sorted([s.site_code, s.stratum, s.sequence, s.arm_code] for s in slots))
    await audit.record(
        session=session,
        actor_id=actor.user_id,
        action="randomisation.uploaded",
        subject_type="study",
        subject_id=study.id,
        # the arms stay out of the audit trail: the digest proves which list was uploaded
        after={
            "slots": len(slots),
            "per_site_stratum": {
                f"{k[0]}/{k[1]}": n for k, n in Counter((s.site_code, s.stratum) for s in slots).items()
            },
            "sha256": hashlib.sha256(canonical).hexdigest(),
        },
        context=context,
    )
    return await counts(session=session, study=study)


async def counts(*, session: AsyncSession, study: Study) -> list[SlotCount]:
    rows = await session.execute(
        select(
            Site.code,
            RandomisationSlot.stratum,
            func.count(col(RandomisationSlot.id)),
            func.count(col(RandomisationSlot.id)).filter(col(RandomisationSlot.participant_id).is_(None)),
        )
        .join(Site, col(Site.id) == col(RandomisationSlot.site_id))
        .where(col(RandomisationSlot.study_id) == study.id)
        .group_by(Site.code, RandomisationSlot.stratum)
        .order_by(Site.code, RandomisationSlot.stratum)
    )
    return [SlotCount(site, stratum, total, free) for site, stratum, total, free in rows.all()]


async def allocate(
    *, session: AsyncSession, study: Study, site: Site, stratum: str | None, participant: Participant
) -> uuid.UUID:
    """Give `participant` the next free slot of its site and stratum; returns the slot's arm id."""
    strata = set(
        (
            await session.execute(
                select(RandomisationSlot.stratum).where(
                    col(RandomisationSlot.study_id) == study.id, col(RandomisationSlot.site_id) == site.id
                )
            )
        ).scalars()
    )
    if not strata:
        raise Conflict(
            f"The randomisation list of {study.code} has no slots for site {site.code}; "
            "the study's statistician uploads them before anyone is enrolled there.",
            fields=[FieldProblem("site_code", f"no randomisation slots for {site.code}")],
        )
    wanted = stratum or ""
    if wanted not in strata:
        named = ", ".join(sorted(repr(s) for s in strata))
        raise _invalid(
            "stratum",
            f"{stratum!r} is not a stratum of the randomisation list at {site.code}; allowed {named}",
        )
    for _ in range(_CLAIM_ATTEMPTS):
        slot = (
            await session.execute(
                select(RandomisationSlot.id, RandomisationSlot.arm_id)
                .where(
                    col(RandomisationSlot.study_id) == study.id,
                    col(RandomisationSlot.site_id) == site.id,
                    col(RandomisationSlot.stratum) == wanted,
                    col(RandomisationSlot.participant_id).is_(None),
                )
                .order_by(col(RandomisationSlot.sequence))
                .limit(1)
            )
        ).first()
        if slot is None:
            raise Conflict(
                f"The randomisation list of {study.code} has no free slot left for site {site.code}"
                + (f", stratum {wanted!r}" if wanted else "")
                + "; the study's statistician uploads more.",
                fields=[FieldProblem("stratum" if wanted else "site_code", "no free randomisation slot")],
            )
        claimed = await session.execute(
            update(RandomisationSlot)
            .where(col(RandomisationSlot.id) == slot.id, col(RandomisationSlot.participant_id).is_(None))
            .values(participant_id=participant.id, assigned_at=clock.now())
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            return slot.arm_id
    raise Conflict("Many enrolments at once took the free randomisation slots; try again.")
