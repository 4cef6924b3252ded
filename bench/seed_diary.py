"""Bench-only seeding (never shipped): a study, P participants with a login each and N diary entries for the
first; prints {"participant_id", "token", "cursor", "people": [[participant_id, token], ...]} as JSON.
Run with the service's environment by a setup hook: `python -m bench.seed_diary --entries 1000 --participants 1`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta

from core import security
from core.access import Actor
from core.db import database, session_scope
from core.diary import batch as diary_batch
from core.models.people import Role, User
from core.models.study import Participant, ProtocolVersion, Site, Study
from core.pagination import encode_cursor
from core.protocol import DEFAULT_PROTOCOL


async def seed(entries: int, participants: int) -> dict[str, object]:
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
            "people": [[str(p.id), t] for p, _, t in people],
        }
    await database.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=0)
    parser.add_argument("--participants", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(seed(args.entries, args.participants))))


if __name__ == "__main__":
    main()
