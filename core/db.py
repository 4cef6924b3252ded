"""Async engine, metadata conventions, column types and the session scopes for requests, jobs and the CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from sqlalchemy import JSON, DateTime, MetaData, Table, event, make_url
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

from core.config import Settings, get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata

# JSONB on PostgreSQL (indexable, compact), plain JSON text on SQLite.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on PostgreSQL and SQLite alike.

    SQLite has no time zone type, so naive values read back are UTC by construction; naive values
    written are refused, since nobody can say which zone they meant.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns go through orjson: the stdlib encoder was a fifth of a 1,000-entry batch's CPU (py-spy).
JSON_CODEC: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


def build_engine(url: str, settings: Settings | None = None, **overrides: Any) -> AsyncEngine:
    """An async engine tuned for the backend: asyncpg pool for PostgreSQL, WAL SQLite otherwise."""
    settings = settings or get_settings()
    db = settings.db
    if url.startswith("sqlite"):
        _ensure_sqlite_folder(url)
        engine = create_async_engine(
            url,
            echo=db.echo,
            connect_args={"timeout": db.sqlite_busy_timeout_ms / 1000},
            **{**JSON_CODEC, **overrides},
        )
        _tune_sqlite(engine, db.sqlite_busy_timeout_ms)
        return engine
    kwargs: dict[str, Any] = {
        "echo": db.echo,
        "pool_size": db.pool_size,
        "max_overflow": db.max_overflow,
        "pool_timeout": db.pool_timeout_s,
        # No pool_pre_ping: with asyncpg it costs three round trips (BEGIN, ping, ROLLBACK) on every checkout,
        # a third of a diary POST's. A connection the server or network closed is noticed by the event loop
        # (asyncpg marks it closed) and replaced at checkout without a round trip (_replace_closed); one that
        # dies unnoticed fails its request with a 503, which a phone retries safely (writes are idempotent).
        "pool_pre_ping": False,
        "pool_recycle": db.pool_recycle_s,
        "connect_args": {"timeout": db.connect_timeout_s, "command_timeout": 30},
        **JSON_CODEC,
    }
    kwargs.update(overrides)
    engine = create_async_engine(url, **kwargs)
    _replace_closed(engine)
    return engine


def _replace_closed(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is not None and driver.is_closed():
            # the pool discards this connection and checks out (or opens) another
            raise DisconnectionError("the pooled connection was closed by the server or the network")


def _ensure_sqlite_folder(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _tune_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; take control of BEGIN ourselves.
    # BEGIN IMMEDIATE takes the write lock up front, so two writers wait (busy_timeout) instead of
    # failing on a lock upgrade mid-transaction.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The process's engine and session factory, created on first use."""

    def __init__(self) -> None:
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._readers: async_sessionmaker[AsyncSession] | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            settings = get_settings()
            self.use(build_engine(settings.database_url, settings))
        assert self._engine is not None
        return self._engine

    def use(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        # Reads on PostgreSQL run each statement on its own, without BEGIN and COMMIT (two of a read
        # request's five round trips); the same pool. SQLite is in-process: it keeps the one kind of session.
        readers = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._readers = (
            async_sessionmaker(readers, expire_on_commit=False, autoflush=False)
            if engine.dialect.name == "postgresql"
            else self._sessions
        )

    def session(self, *, read_only: bool = False) -> AsyncSession:
        """A unit of work; `read_only`: for requests that only read (no transaction on PostgreSQL, so what
        such a request writes by mistake is committed statement by statement, never lost)."""
        if self._sessions is None:
            _ = self.engine
        assert self._sessions is not None and self._readers is not None
        return (self._readers if read_only else self._sessions)()

    async def dispose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
        self._engine = None
        self._sessions = None


database = Database()


@asynccontextmanager
async def session_scope(session: AsyncSession | None = None) -> AsyncIterator[AsyncSession]:
    """One unit of work for a job or a CLI command: commit on success, roll back on any error."""
    owned = session is None
    session = session or database.session()
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    finally:
        if owned:
            await session.close()


# The one place that picks the SQL dialect: everything else asks these.
def dialect_name(bind: AsyncSession | AsyncConnection | AsyncEngine) -> str:
    """ "postgresql" or "sqlite": the dialect the session, connection or engine talks to."""
    if isinstance(bind, AsyncSession):
        return bind.get_bind().dialect.name
    return bind.dialect.name


def is_postgres(bind: AsyncSession | AsyncConnection | AsyncEngine) -> bool:
    return dialect_name(bind) == "postgresql"


def insert_for(bind: AsyncSession | AsyncConnection | AsyncEngine, table: Table | Any) -> Any:
    """An INSERT of the bind's dialect (PostgreSQL's or SQLite's), so `on_conflict_do_*` is available."""
    return (postgresql.insert if is_postgres(bind) else sqlite.insert)(table)


def utc_now_column_default() -> datetime:
    from core import clock

    return clock.now()


# ---- one translation of database failures ---------------------------------------------------------------------
# Routes, jobs and the readiness probe ask one question of a failure from the database layer: what does it mean
# for the caller? The answer is read from PostgreSQL's SQLSTATE (on SQLAlchemy's wrapper or on a bare asyncpg
# error) or from SQLite's message, which is all SQLite gives.


class DatabaseFault(StrEnum):
    OUTAGE = "outage"  # unreachable, restarting, busy or timed out: the same request may succeed later
    SCHEMA_MISSING = "schema_missing"  # a table is not there: the migrations have not been run yet
    NUL_IN_TEXT = (
        "nul_in_text"  # text holding a NUL character, which PostgreSQL cannot store: the input's fault
    )


# What may carry a database failure up to a route: SQLAlchemy's wrappers, bare asyncpg errors, socket errors.
DRIVER_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    sa_exc.DisconnectionError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,  # ConnectionError and TimeoutError among them
)

_SCHEMA_MISSING_STATES = {"42P01", "3F000"}  # undefined_table, invalid_schema_name
_NUL_STATES = {"22021", "22P05"}  # character_not_in_repertoire (text), untranslatable_character (jsonb)
# connection exceptions (08), insufficient resources (53), shutdown or start-up (57P0x), cancelled by a timeout,
# lock not available, serialization failure and deadlock: retrying the whole request is the cure for each
_OUTAGE_STATES = {"57P01", "57P02", "57P03", "57P04", "57014", "55P03", "40001", "40P01"}
_OUTAGE_CLASSES = ("08", "53")
# SQLite's OperationalError covers both a busy or unreachable database file and statements it refuses
# ("Expression tree is too large", "too many SQL variables"): only the first kind is an outage.
_SQLITE_OUTAGES = ("locked", "busy", "disk", "unable to open", "readonly", "full", "interrupted")


def classify_error(exc: BaseException) -> DatabaseFault | None:
    """What a database failure means for the caller; None when the database refused a statement (our bug)."""
    if isinstance(exc, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return DatabaseFault.OUTAGE  # the pool gave up waiting
    if isinstance(exc, OSError) and not isinstance(exc, sa_exc.SQLAlchemyError):
        # the socket to the database failed; any other OSError (a missing template or file: jinja2's
        # TemplateNotFound is one) is a fault of ours, not an outage to retry
        return DatabaseFault.OUTAGE if _raised_by_driver(exc) else None
    cause: BaseException = getattr(exc, "orig", None) or exc
    if type(cause).__module__ == "sqlite3":
        message = str(cause).lower()
        if "no such table" in message:
            return DatabaseFault.SCHEMA_MISSING
        return DatabaseFault.OUTAGE if any(word in message for word in _SQLITE_OUTAGES) else None
    state = _sqlstate(cause)
    if state in _SCHEMA_MISSING_STATES:
        return DatabaseFault.SCHEMA_MISSING
    if state in _NUL_STATES:
        return DatabaseFault.NUL_IN_TEXT
    if state is not None and (state in _OUTAGE_STATES or state.startswith(_OUTAGE_CLASSES)):
        return DatabaseFault.OUTAGE
    if state is None and (
        isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
        or getattr(exc, "connection_invalidated", False)
        or isinstance(cause, asyncpg.InterfaceError | OSError)
    ):
        return DatabaseFault.OUTAGE  # a connection closed under us, or one that could not be opened
    return None


_DRIVER_MODULES = ("asyncpg", "aiosqlite", "sqlite3", "sqlalchemy")


def _raised_by_driver(exc: BaseException) -> bool:
    """Was `exc` raised inside the database driver or SQLAlchemy (a connection, not our own file access)?"""
    tb = exc.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.split(".", 1)[0] in _DRIVER_MODULES:
            return True
        tb = tb.tb_next
    return False


def is_outage(exc: BaseException) -> bool:
    """Is `exc` the database being unreachable or busy (retrying later can help)?"""
    return classify_error(exc) is DatabaseFault.OUTAGE


def _sqlstate(cause: BaseException) -> str | None:
    """PostgreSQL's SQLSTATE of an error, from SQLAlchemy's asyncpg adapter or a bare asyncpg error."""
    for candidate in (cause, cause.__cause__):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(state, str):
            return state
    return None
