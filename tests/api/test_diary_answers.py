"""One entry answers the same everywhere: its create, its read, a list page, the changes feed, a batch and its
history's latest version (api/diary_answers.py renders the first five from the entry's columns; the history is
the stored audit record). A value corrected by a protocol change later shows in every answer at once."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests import factories as f
from tests.factories import entries_path, entry_body
from tests.urls import API


async def test_every_route_answers_the_same_entry_alike(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study = await f.create_study(session)
    participant = await f.create_participant(session, study)
    headers = f.auth_headers(await f.participant_user(session, participant))
    low = entry_body(value=3.4, unit="mmol/L", context="random")  # a low: flags and an alert to render
    meal = entry_body("meal")
    created = (await client.post(entries_path(participant), json=low, headers=headers)).json()
    batch = (
        await client.post(entries_path(participant, "batch"), json={"entries": [meal]}, headers=headers)
    ).json()

    def by_id(items: list[dict[str, Any]], entry_id: str) -> dict[str, Any]:
        return next(item for item in items if item["id"] == entry_id)

    read = (await client.get(entries_path(participant, low["id"]), headers=headers)).json()
    listed = (await client.get(entries_path(participant), headers=headers)).json()["items"]
    changes = (await client.get(f"{API}/participants/{participant.id}/changes", headers=headers)).json()
    history = (await client.get(entries_path(participant, low["id"], "history"), headers=headers)).json()

    assert created["flags"] and created["alerts"]  # the rules' outcome is part of the answer
    assert read == created
    assert by_id(listed, low["id"]) == created
    assert by_id([c["entry"] for c in changes["changes"]], low["id"]) == created
    assert history["items"][-1]["entry"] == created  # the audit record of the latest version
    assert created["value_mg_dl"] == 61.3  # 3.4 x 18.016 = 61.25 -> one decimal
    stored_meal = batch["results"][0]["entry"]
    assert by_id(listed, meal["id"]) == stored_meal
    assert uuid.UUID(stored_meal["id"]) == uuid.UUID(meal["id"])
