"""The assessment service's own list of assessments, kept in step with its events in the same
transaction: for listing, and to find a factory's previous published report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from betterwork_events.catalogue import EventContract
from betterwork_events.contracts import assessment as ev
from betterwork_events.factories import known_factories
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

metadata = sa.MetaData()
assessments = sa.Table(
    "assessment_directory",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("factory_id", sa.Text),
    sa.Column("status", sa.Text),
    sa.Column("planned_date", sa.Date),
    sa.Column("published_on", sa.Date),
    sa.Column("public_report_on", sa.Date),  # the day its public transparency record was published, if it was
    sa.Column("version", sa.Integer),
)

STATUS = {
    ev.AssessmentCancelled: "cancelled",
    ev.AssessmentStarted: "in-progress",
    ev.AssessmentSubmitted: "submitted",
    ev.AssessmentReturned: "in-progress",
    ev.AssessmentApproved: "approved",
}


async def record(conn: AsyncConnection, events: Sequence[EventContract], version: int) -> None:
    """Apply the events just appended (the stream is now at `version`): one statement for the row
    however many events there are (a whole assessment's findings come in one append)."""
    changes: dict[str, object] = {}
    changed: str | None = None
    for event in events:
        match event:
            case ev.AssessmentScheduled():
                await conn.execute(
                    insert(assessments).values(
                        id=event.assessment_id,
                        factory_id=event.factory_id,
                        status="scheduled",
                        planned_date=event.planned_date,
                        version=version,
                    )
                )
            case ev.AssessmentCompleted():
                changes |= {"status": "published", "published_on": event.published_on}
                changed = event.assessment_id
            case ev.PublicReportPublished():
                changes["public_report_on"] = event.published_on
                changed = event.assessment_id
            case (
                ev.AssessmentCancelled()
                | ev.AssessmentStarted()
                | ev.AssessmentSubmitted()
                | ev.AssessmentReturned()
                | ev.AssessmentApproved()
            ):
                changes["status"] = STATUS[type(event)]
                changed = event.assessment_id
            case ev.AssessmentEvent():
                changed = event.assessment_id
    if changed is not None:
        await _update(conn, changed, version, **changes)


async def _update(conn: AsyncConnection, assessment_id: str, version: int, **values: object) -> None:
    await conn.execute(assessments.update().where(assessments.c.id == assessment_id).values(**values, version=version))


async def previous_published(conn: AsyncConnection, factory_id: str, other_than: str) -> str | None:
    query = (
        sa.select(assessments.c.id)
        .where(
            assessments.c.factory_id == factory_id, assessments.c.status == "published", assessments.c.id != other_than
        )
        .order_by(assessments.c.published_on.desc(), assessments.c.id.desc())
        .limit(1)
    )
    return (await conn.execute(query)).scalar()


async def list_for(conn: AsyncConnection, factory_id: str | None, published_only: bool) -> list[dict[str, object]]:
    query = sa.select(assessments).order_by(assessments.c.planned_date.desc())
    if factory_id is not None:
        query = query.where(assessments.c.factory_id == factory_id)
    if published_only:
        query = query.where(assessments.c.status == "published")
    return [dict(row._mapping) for row in await conn.execute(query)]


async def open_for(conn: AsyncConnection, factory_id: str) -> str | None:
    """The factory's assessment neither published nor cancelled, if there is one. Takes the
    factory's scheduling lock for the rest of the transaction, so that two schedulers cannot both
    find none."""
    await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"schedule:{factory_id}"))))
    query = sa.select(assessments.c.id).where(
        assessments.c.factory_id == factory_id, assessments.c.status.not_in(("published", "cancelled"))
    )
    return (await conn.execute(query.limit(1))).scalar()


# --- the public transparency record: published cycles with a public report, and nothing else ------

PUBLIC = assessments.c.public_report_on.is_not(None)


def _folded(text: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """Without case or diacritics ("Sài Gòn" finds "SAI GON"): the unaccent extension (migration 0007)."""
    return sa.func.lower(sa.func.unaccent(text))


async def public_factories(
    conn: AsyncConnection, name: str | None, country: str | None, after: tuple[str, str] | None, limit: int
) -> list[dict[str, object]]:
    """Factories with a public record, by name then id; `name` a substring of theirs; the page after
    `after` (the name and id that ended the page before)."""
    f = known_factories
    query = (
        sa.select(
            f.c.id.label("factory_id"),
            f.c.name,
            f.c.country,
            sa.func.max(assessments.c.published_on).label("latest_published_on"),
            sa.func.count().label("cycles"),
        )
        .join(assessments, assessments.c.factory_id == f.c.id)
        .where(PUBLIC)
        .group_by(f.c.id)
        .order_by(f.c.name, f.c.id)
        .limit(limit)
    )
    if name:
        pattern = "%" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(_folded(f.c.name).like(_folded(sa.literal(pattern)), escape="\\"))
    if country:
        query = query.where(f.c.country == country)
    if after:
        query = query.where(sa.tuple_(f.c.name, f.c.id) > sa.tuple_(*after))
    return [dict(row._mapping) for row in await conn.execute(query)]


async def public_factory(conn: AsyncConnection, factory_id: str) -> tuple[sa.Row[Any, Any] | None, list[str]]:
    """The factory's name and country, and its public cycles' assessments, newest first."""
    factory = (
        await conn.execute(
            sa.select(known_factories.c.name, known_factories.c.country).where(known_factories.c.id == factory_id)
        )
    ).first()
    cycles = await conn.execute(
        sa.select(assessments.c.id)
        .where(assessments.c.factory_id == factory_id, PUBLIC)
        .order_by(assessments.c.published_on.desc(), assessments.c.id.desc())
    )
    return factory, list(cycles.scalars())
