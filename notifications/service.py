"""Running the dispatcher: as its own process (`glucodiary dispatcher`) or as a task of the API process."""

from __future__ import annotations

import asyncio
import logging
import signal

from core import recipients
from core.config import get_settings
from core.db import database, session_scope
from notifications.channels import configured_channels
from notifications.dispatcher import Dispatcher

log = logging.getLogger("glucodiary.dispatcher")


async def log_start_up() -> None:
    """Say which channels are on, and name every site whose clinical alerts can reach no clinician."""
    settings = get_settings().notifications
    on = (
        ["in-app"]
        + (["e-mail"] if settings.smtp_host else [])
        + (["webhook"] if settings.webhook_url else [])
    )
    if len(on) == 1:
        log.warning(
            "notifications: only the in-app channel is on (no GLUCODIARY_NOTIFICATIONS__SMTP_HOST or "
            "__WEBHOOK_URL configured)"
        )
    else:
        log.info("notifications: channels on: %s", ", ".join(on))
    try:
        async with session_scope() as session:
            uncovered = await recipients.sites_without_clinician(session=session)
    except Exception as exc:  # the database may not be there yet; the dispatcher will retry its queries
        log.warning("notifications: could not check sites for clinicians (%s)", type(exc).__name__)
        return
    for study_id, code, name in uncovered:
        log.warning(
            "study %s: site %s (%s) has no clinician; its clinical alerts go to the study's coordinators",
            study_id,
            code,
            name,
        )


def build_dispatcher() -> Dispatcher:
    settings = get_settings().notifications
    return Dispatcher(
        sessions=database.session,  # the process's one engine and pool
        settings=settings,
        channels=configured_channels(settings),
    )


async def run_in_background(stop: asyncio.Event) -> None:
    """The dispatcher as a task of another process (the API under `make run`): runs until `stop` is set."""
    dispatcher = build_dispatcher()
    await log_start_up()
    runner = asyncio.create_task(dispatcher.run())
    await stop.wait()
    dispatcher.stop()
    await runner


async def run_forever() -> None:
    """`glucodiary dispatcher`: until SIGTERM or SIGINT, then finish the batch in hand and release the rest."""
    logging.basicConfig(
        level=get_settings().log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    dispatcher = build_dispatcher()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, dispatcher.stop)
    await log_start_up()
    try:
        await dispatcher.run()
    finally:
        await database.dispose()
