"""Telling a failing infrastructure from a failing message, and waiting it out.

The relay and the consumers retry an infrastructure failure (database or broker unreachable, a
connection dropped, a pool exhausted) for as long as it lasts: it says nothing about the event
at hand, so it must never send that event to a dead-letter topic.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import sqlalchemy.exc as sa_exc
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger(__name__)
T = TypeVar("T")

# SQLSTATE classes and codes that speak of the server or the session, never of a statement's data:
# connection exceptions, insufficient resources (too many connections), operator intervention
# (shutdown, terminated session, starting up), serialization failures and deadlocks, system errors.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57", "58", "40")
_TRANSIENT_SQLSTATES = {
    "55000",  # e.g. "database is not currently accepting connections"
    "3D000",  # "database does not exist" while it is being renamed or restored
}

_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    OSError,  # connection refused or reset (ConnectionError), and asyncio's TimeoutError
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    sa_exc.TimeoutError,  # "QueuePool limit ... reached, connection timed out"
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    KafkaConnectionError,
    KafkaTimeoutError,
)


def is_transient(error: BaseException) -> bool:
    """Whether `error` (or what caused it) is the infrastructure failing rather than the work itself."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _TRANSIENT_TYPES):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, KafkaError) and current.retriable:
            return True
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and (
            sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES or sqlstate in _TRANSIENT_SQLSTATES
        ):
            return True
        orig = getattr(current, "orig", None)  # SQLAlchemy's wrapper of the driver's error
        current = orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
    return False


class Backoff:
    """Exponential delays with jitter, up to `maximum`; `reset()` after a success."""

    def __init__(self, first: float = 0.2, maximum: float = 5.0) -> None:
        self.first = first
        self.maximum = maximum
        self.attempts = 0

    def next_delay(self) -> float:
        delay = min(self.first * 2 ** min(self.attempts, 32), self.maximum)
        self.attempts += 1
        return delay * random.uniform(0.8, 1.0)

    async def wait(self) -> None:
        await asyncio.sleep(self.next_delay())

    def reset(self) -> None:
        self.attempts = 0


async def retrying(what: str, operation: Callable[[], Awaitable[T]], backoff: Backoff | None = None) -> T:
    """`operation()`, tried again for as long as it fails for a transient reason; other errors are raised."""
    backoff = backoff or Backoff()
    while True:
        try:
            return await operation()
        except Exception as error:
            if not is_transient(error):
                raise
            delay = backoff.next_delay()
            log.warning("%s: %s: %s; retrying in %.1fs", what, type(error).__name__, error, delay)
            await asyncio.sleep(delay)


def own_engine(
    engine: AsyncEngine, application_name: str, *, pool_size: int = 1, search_path: str | None = None
) -> AsyncEngine:
    """An engine on the same database as `engine` with a small pool of its own, for a background
    task: API traffic exhausting its pool never starves the task, nor the task the API. Its
    connections are named, so operators (and tests) can tell them apart in pg_stat_activity.
    One connection is enough for a consumer, which applies one batch at a time (its rebalance
    listener, if it ever needs a second, waits for it and retries). A `search_path` makes
    unqualified table names resolve to that schema first (a read model being rebuilt)."""
    server_settings = {"application_name": application_name[:63]}
    if search_path is not None:
        server_settings["search_path"] = search_path
    return create_async_engine(
        engine.url,
        pool_size=pool_size,
        max_overflow=0,
        pool_recycle=300,
        connect_args={"server_settings": server_settings},
    )
