"""`episodes.refresh`: the participants who logged since their episodes were detected are detected again by the
scheduler, ahead of any report; the others are left alone, and a second run finds nothing to do."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.episodes import jobs
from core.models.diary import DiarySequence
from core.models.reports import EpisodeState, HypoEpisode
from core.scheduling.registry import JOBS
from tests.core.episodes.test_weekly_summary import at, diary, low
from tests.factories import create_participant, create_study

NOW = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


async def _state(session: AsyncSession, participant_id: object) -> tuple[int, int] | None:
    state = await session.get(EpisodeState, participant_id)
    if state is None:
        return None
    await session.refresh(state)
    return state.change_seq, state.protocol_version


async def test_stale_participants_are_detected_again_and_only_they(session: AsyncSession) -> None:
    study = await create_study(session)
    logging_one = await create_participant(session, study)
    quiet_one = await create_participant(session, study)
    assert JOBS["episodes.refresh"].run is jobs.refresh

    # a level 2 low of 20 minutes (two readings below 54 mg/dL): one episode
    await diary(session, logging_one, ("glucose", at(3, 10), low(50)), ("glucose", at(3, 10, 20), low(48)))
    first = await jobs.refresh(session, NOW)
    assert first == {"participants": 2}  # neither had a cache yet
    sequence = await session.get(DiarySequence, logging_one.id)
    assert sequence is not None
    assert (await _state(session, logging_one.id)) == (sequence.last_change_seq, study.protocol_version)
    episodes = (
        await session.execute(select(HypoEpisode).where(col(HypoEpisode.participant_id) == logging_one.id))
    ).scalars()
    assert [e.level for e in episodes] == [2]

    assert await jobs.refresh(session, NOW) == {"participants": 0}  # nothing moved since

    # one more reading: only the participant who logged is detected again
    await diary(session, logging_one, ("glucose", at(4, 9), low(60)))
    quiet_before = await _state(session, quiet_one.id)
    assert await jobs.refresh(session, NOW) == {"participants": 1}
    await session.refresh(sequence)
    assert (await _state(session, logging_one.id)) == (sequence.last_change_seq, study.protocol_version)
    assert (await _state(session, quiet_one.id)) == quiet_before
