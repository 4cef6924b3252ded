"""The `glucodiary` command: serve, migrate, create accounts, load the demo study."""

from __future__ import annotations

import asyncio
import getpass
import json
import socket
import sys
import uuid
from typing import Annotated, Any

import typer

from core.config import SettingsError, get_settings

app = typer.Typer(
    help="Glucodiary: trial diary service.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
admin_app = typer.Typer(help="Administrator accounts.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
visits_app = typer.Typer(help="Study visits.", no_args_is_help=True)
app.add_typer(visits_app, name="visits")
jobs_app = typer.Typer(help="Scheduled jobs: list them, run one now.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
notifications_app = typer.Typer(
    help="Queued messages: return dead letters to the queue.", no_args_is_help=True
)
app.add_typer(notifications_app, name="notifications")


def _settings_or_exit() -> None:
    try:
        get_settings()
    except SettingsError as exc:
        typer.echo(f"glucodiary: cannot start: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API with uvicorn."""
    _settings_or_exit()
    import uvicorn

    settings = get_settings()
    typer.echo(f"Glucodiary on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(
        # a string, so `core` never imports `api`: the CLI is only the process's entry point
        "api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        server_header=False,
        access_log=False,
        proxy_headers=bool(settings.http.trusted_proxies),
        forwarded_allow_ips=",".join(settings.http.trusted_proxies) or None,
        log_level=settings.log_level.lower(),
    )


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "heads",
    allow_downgrade: Annotated[
        bool,
        typer.Option(
            "--allow-downgrade", help="Go back to an older revision (drops the newer tables' data)."
        ),
    ] = False,
) -> None:
    """Upgrade the database schema (default: to the newest migration), and say what was done."""
    _settings_or_exit()
    from core import migrations

    try:
        done = migrations.migrate(revision, allow_downgrade=allow_downgrade)
    except migrations.UnknownRevision as exc:
        typer.echo(f"glucodiary: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(done.describe(), err=done.action == "refused")
    if done.action == "refused":
        raise typer.Exit(1)


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="The administrator's e-mail (login).")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Create an administrator account (the only way to make the first one)."""
    _settings_or_exit()
    if not password_stdin:
        typer.echo("Give the password on standard input with --password-stdin.", err=True)
        raise typer.Exit(2)
    password = sys.stdin.readline().rstrip("\r\n")
    from core import audit
    from core.db import database, session_scope
    from core.errors import DomainError
    from core.people import service as people_service

    async def _create() -> str:
        try:
            async with session_scope() as session:
                user = await people_service.create_admin(
                    session=session, email=email, password=password, context=audit.SYSTEM
                )
                return str(user.id)
        finally:
            await database.dispose()

    try:
        user_id = asyncio.run(_create())
    except DomainError as exc:
        typer.echo(f"glucodiary: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"admin {email} created (id {user_id})")


@app.command()
def demo() -> None:
    """Load the demo study if it is not there yet, and print its logins."""
    _settings_or_exit()
    from core import demo as demo_data
    from core.db import database, session_scope

    async def _load() -> tuple[bool, list[demo_data.DemoLogin]]:
        try:
            async with session_scope() as session:
                return await demo_data.load_demo(session=session)
        finally:
            await database.dispose()

    created, logins = asyncio.run(_load())
    typer.echo("Demo data loaded." if created else "Demo data already present.")
    typer.echo("Demo logins (POST /api/v1/auth/token with username and password):")
    for login in logins:
        typer.echo(f"  {login.role:<13} {login.email:<36} {login.password:<30} {login.note}".rstrip())


@visits_app.command("plan")
def visits_plan() -> None:
    """Plan the visits of participants enrolled before visits existed (those who have none); idempotent."""
    _settings_or_exit()
    from core.db import database, session_scope
    from core.visits import service as visit_service

    async def _plan() -> int:
        try:
            async with session_scope() as session:
                return await visit_service.plan_unplanned(session=session)
        finally:
            await database.dispose()

    typer.echo(f"{asyncio.run(_plan())} visits planned")


@app.command()
def dispatcher() -> None:
    """Deliver queued messages (in-app, e-mail, webhook) until SIGTERM; several may run on PostgreSQL."""
    _settings_or_exit()
    from core import background

    asyncio.run(background.standalone("dispatcher")())


@app.command()
def scheduler() -> None:
    """Run the scheduled jobs (APScheduler triggers, database locks) until SIGTERM."""
    _settings_or_exit()
    from core.db import database
    from core.scheduling import runner

    async def _run() -> None:
        try:
            await runner.run_forever()
        finally:
            await database.dispose()

    typer.echo(f"scheduler {runner.RUNNER_ID}: jobs {', '.join(runner.JOBS)}; stop with SIGTERM")
    asyncio.run(_run())


@jobs_app.command("list")
def jobs_list() -> None:
    """Each job, its trigger, its last run and outcome."""
    _settings_or_exit()
    from core.db import database, session_scope
    from core.scheduling import runner

    async def _last() -> dict[str, Any]:
        try:
            async with session_scope() as session:
                return await runner.last_runs(session)
        finally:
            await database.dispose()

    last = asyncio.run(_last())
    typer.echo(f"{'job':<22} {'trigger':<18} {'last run (UTC)':<20} {'outcome':<8} counts")
    for name, job in runner.JOBS.items():
        run = last.get(name)
        when = run.started_at.strftime("%Y-%m-%d %H:%M:%S") if run else "never"
        outcome = run.outcome if run else "-"
        detail = (run.error or json.dumps(run.counts, sort_keys=True)) if run else ""
        typer.echo(f"{name:<22} {job.trigger_text:<18} {when:<20} {outcome:<8} {detail}".rstrip())


@jobs_app.command("run")
def jobs_run(name: Annotated[str, typer.Argument(help="The job, e.g. visits.remind.")]) -> None:
    """Run one job now (after an outage, or to check it), with the same once-only guarantees."""
    _settings_or_exit()
    from core.db import database
    from core.scheduling import runner

    if name not in runner.JOBS:
        typer.echo(f"glucodiary: no job {name!r}; jobs: {', '.join(runner.JOBS)}", err=True)
        raise typer.Exit(2)

    async def _run() -> runner.RunResult:
        try:
            return await runner.run_job(name, runner_id=f"cli:{runner.RUNNER_ID}")
        finally:
            await database.dispose()

    result = asyncio.run(_run())
    if result.outcome == "busy":
        typer.echo(f"{name}: another scheduler is running it right now; nothing done", err=True)
        raise typer.Exit(3)
    if result.outcome != "ok":
        typer.echo(f"{name}: failed: {result.error}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{name}: ok {json.dumps(result.counts, sort_keys=True)}")


@notifications_app.command("requeue")
def notifications_requeue(
    ids: Annotated[
        list[str] | None, typer.Option("--id", help="A dead-lettered message's id (repeat for several).")
    ] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Every dead-lettered message.")] = False,
    reason: Annotated[
        str, typer.Option(help="Why, for the audit trail (e.g. the gateway is fixed).")
    ] = "requeued by an operator",
) -> None:
    """Return dead-lettered messages to the queue, due at once; their earlier attempts stay as history."""
    if bool(ids) == all_dead:
        typer.echo("glucodiary: give either --id (one or more) or --all-dead", err=True)
        raise typer.Exit(2)
    try:
        wanted = [uuid.UUID(value) for value in ids] if ids else None
    except ValueError:
        typer.echo(f"glucodiary: --id takes message ids (UUIDs); got {', '.join(ids or [])}", err=True)
        raise typer.Exit(2) from None
    _settings_or_exit()
    from core import audit, outbox
    from core.db import database, session_scope

    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment or the password database
        user = "unknown"
    operator = f"glucodiary notifications requeue ({user}@{socket.gethostname()})"

    async def _requeue() -> outbox.Requeued:
        try:
            async with session_scope() as session:
                return await outbox.requeue_dead(
                    session, ids=wanted, reason=reason, context=audit.AuditContext(user_agent=operator)
                )
        finally:
            await database.dispose()

    done = asyncio.run(_requeue())
    for message_id in done.requeued:
        typer.echo(f"requeued {message_id}")
    for message_id, why in done.refused.items():
        typer.echo(f"glucodiary: {message_id}: {why}", err=True)
    typer.echo(f"{len(done.requeued)} message{'' if len(done.requeued) == 1 else 's'} requeued")
    if done.refused:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
