"""The directory of training sessions: one row a session, written in the same transaction as its
events, for listing sessions by factory, course, status and date. Like every read model it can be
rebuilt from the events (`rebuild`)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa
from betterwork_events.relay import HELD_BACK_WAIT
from betterwork_events.store import Checkpoint, EventStore
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from training.domain import STREAM_PREFIX, SessionEvent, Status, TrainingSession

metadata = sa.MetaData()
sessions = sa.Table(
    "session_directory",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("course", sa.Text),
    sa.Column("country", sa.Text),
    sa.Column("factory_ids", pg.ARRAY(sa.Text)),
    sa.Column("first_day", sa.Date),
    sa.Column("last_day", sa.Date),
    sa.Column("status", sa.Text),
    sa.Column("version", sa.Integer),
)


async def record(conn: AsyncConnection, session: TrainingSession) -> None:
    """The session's row as the session now is."""
    assert session.course is not None and session.status is not None
    row = {
        "course": session.course.code,
        "country": session.country,
        "factory_ids": list(session.factory_ids),
        "first_day": session.days[0],
        "last_day": session.days[-1],
        "status": session.status.value,
        "version": session.version,
    }
    await conn.execute(
        insert(sessions).values(id=session.id, **row).on_conflict_do_update(index_elements=[sessions.c.id], set_=row)
    )


async def country_of(conn: AsyncConnection, session_id: str) -> str | None:
    """Where a session is held, None if there is no such session."""
    return (await conn.execute(sa.select(sessions.c.country).where(sessions.c.id == session_id))).scalar()


async def listed(
    conn: AsyncConnection,
    readable: frozenset[str] | None,
    *,
    factory_id: str | None = None,
    course: str | None = None,
    status: Status | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    limit: int = 100,
) -> Sequence[Any]:
    """Sessions the caller may read (`readable`: their factories, None for all), soonest last."""
    query = sa.select(sessions).order_by(sessions.c.first_day.desc(), sessions.c.id).limit(limit)
    if readable is not None:
        query = query.where(sessions.c.factory_ids.overlap(sorted(readable)))
    if factory_id is not None:
        query = query.where(sessions.c.factory_ids.contains([factory_id]))
    if course is not None:
        query = query.where(sessions.c.course == course)
    if status is not None:
        query = query.where(sessions.c.status == status.value)
    if since is not None:
        query = query.where(sessions.c.last_day >= since)
    if until is not None:
        query = query.where(sessions.c.first_day <= until)
    return (await conn.execute(query)).all()


async def rebuild(store: EventStore) -> int:
    """Drop the directory and replay every event into it; returns how many sessions it lists.

    For maintenance, with no commands being served: a command that commits during the replay
    could be left out."""
    by_id: dict[str, TrainingSession] = {}
    checkpoint = Checkpoint()
    while True:
        batch = await store.read_all(checkpoint, limit=5000)
        for envelope in batch.events:
            session_id = envelope.subject.removeprefix(STREAM_PREFIX)
            session = by_id.setdefault(session_id, TrainingSession(id=session_id))
            session.apply(cast(SessionEvent, envelope.contract()))
        if not batch.events and not batch.held_back:
            break
        if not batch.events:  # events committed behind a transaction still open: they are coming
            await asyncio.sleep(HELD_BACK_WAIT)
        checkpoint = batch.checkpoint
    async with store.engine.begin() as conn:
        await conn.execute(sa.text("TRUNCATE session_directory"))
        for session in by_id.values():
            await record(conn, session)
    return len(by_id)
