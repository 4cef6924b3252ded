"""Bench-only seeding (never shipped): a study, P participants with a login each and N diary entries for the
first (and `--entries-each` readings for every one, over the last weeks); prints {"participant_id", "token",
"cursor", "tag", "people": [[participant_id, token], ...]} as JSON.
Run with the service's environment by a setup hook: `python -m bench.seed_diary --entries 1000 --participants 1`.
`--tokens-for TAG` prints fresh tokens for the participants seeded under TAG (long runs outlive a token).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlmodel import col

from core import security
from core.access import Actor
from core.db import database, session_scope
from core.diary import batch as diary_batch
from core.models.people import Role, User
from core.models.study import Participant, ProtocolVersion, Site, Study
from core.pagination import encode_cursor
from core.protocol import DEFAULT_PROTOCOL


async def seed(entries: int, participants: int, entries_each: int = 0) -> dict[str, object]:
    tag = uuid.uuid4().hex[:8]
    async with session_scope() as session:
        study = Study(code=f"BENCH{tag}", name="Bench", timezone="Europe/Ljubljana", blinded=True)
        session.add(study)
        await session.flush()
        session.add(
            ProtocolVersion(study_id=study.id, version=1, settings=DEFAULT_PROTOCOL.model_dump(mode="json"))
        )
        site = Site(study_id=study.id, code="S1", name="Bench site", timezone="Europe/Ljubljana")
        session.add(site)
        await session.flush()
        people = []
        for n in range(participants):
            user = User(email=f"bench-{tag}-{n}@bench.invalid", password_hash="!", role=Role.participant)
            session.add(user)
            await session.flush()
            person = Participant(
                study_id=study.id,
                site_id=site.id,
                subject_code=f"B-{tag}-{n}",
                user_id=user.id,
                sex="female",
                birth_date=date(2010, 4, 1),
                enrolled_at=datetime(2025, 1, 6, 9, 0, tzinfo=UTC),
                treatment_date=date(2025, 1, 13),
                timezone="Europe/Ljubljana",
            )
            session.add(person)
            await session.flush()
            token, _ = security.issue_access_token(user_id=user.id, token_version=user.token_version)
            people.append((person, user, token))
        participant, user, token = people[0]
        start = datetime(2025, 2, 1, 6, 0, tzinfo=UTC)
        for offset in range(0, entries, 1000):
            items = [
                {
                    "id": str(uuid.uuid4()),
                    "kind": "glucose",
                    "occurred_at": (start + timedelta(hours=3 * i)).isoformat(),
                    "value": 90 + (i * 7) % 80,
                    "unit": "mg/dL",
                    "context": "random",
                }
                for i in range(offset, min(entries, offset + 1000))
            ]
            await diary_batch.record_batch(
                session=session, actor=Actor.of(user), participant=participant, entries_in=items
            )
        result: dict[str, object] = {
            "participant_id": str(participant.id),
            "token": token,
            "cursor": encode_cursor([0]),
            "tag": tag,
            "people": [[str(p.id), t] for p, _, t in people],
        }
    if entries_each:
        await _fill_each([(p, u) for p, u, _ in people], entries_each)
    await database.dispose()
    return result


async def _fill_each(people: list[tuple[Participant, User]], count: int, per_commit: int = 50) -> None:
    """`count` readings for every participant, one batch each, over the days before now (a diary in use)."""
    now = datetime.now(UTC)
    for first in range(0, len(people), per_commit):
        async with session_scope() as session:
            for participant, user in people[first : first + per_commit]:
                session.add(participant)
                session.add(user)
                items = [
                    {
                        "id": str(uuid.uuid4()),
                        "kind": "glucose",
                        "occurred_at": (now - timedelta(hours=4 * i + 1)).isoformat(),
                        "value": 70 + (i * 37) % 150,
                        "unit": "mg/dL",
                        "context": "random",
                    }
                    for i in range(count)
                ]
                await diary_batch.record_batch(
                    session=session, actor=Actor.of(user), participant=participant, entries_in=items
                )


async def tokens_for(tag: str) -> list[list[str]]:
    """[[participant_id, a fresh token], ...] of the participants seeded under `tag`, in seeding order."""
    async with session_scope() as session:
        rows = (
            await session.execute(
                select(
                    col(Participant.subject_code), col(Participant.id), col(User.id), col(User.token_version)
                )
                .join(User, col(User.id) == col(Participant.user_id))
                .where(col(Participant.subject_code).like(f"B-{tag}-%"))
            )
        ).all()
    await database.dispose()
    ordered = sorted(rows, key=lambda r: int(r[0].rsplit("-", 1)[1]))
    return [
        [str(pid), security.issue_access_token(user_id=uid, token_version=ver)[0]]
        for _, pid, uid, ver in ordered
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=0)
    parser.add_argument("--participants", type=int, default=1)
    parser.add_argument("--entries-each", type=int, default=0)
    parser.add_argument("--tokens-for", default=None)
    args = parser.parse_args()
    if args.tokens_for:
        print(json.dumps({"people": asyncio.run(tokens_for(args.tokens_for))}))
        return
    print(json.dumps(asyncio.run(seed(args.entries, args.participants, args.entries_each))))


if __name__ == "__main__":
    main()
