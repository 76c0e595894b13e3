"""Training sessions: their course, days, venue and status, the factories each trains, their
participants (attendance, test scores, feedback), and what the delivery counted.

A session can train several factories' people (`factory_ids`), so the factories of a session are
a table of their own, `training_session_factories`: a session is reachable through the factories
the caller may read, and every participant row and every per-factory figure carries its own
factory, so that a factory's users never reach another factory's people or counts. Totals over
the whole session are read only where the scope says so (`Scope.sees_whole_training_session`).

The events of one session arrive in order (keyed by the session); the version guard keeps a
replayed older change of the session from undoing a newer one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from betterwork_events.contracts import training as te
from betterwork_events.envelope import Envelope
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.read_models.pages import Order, Page, PageRequest, pages_per_parent
from gateway.read_models.projection import Projection, advanced, metadata
from gateway.read_models.snapshot import Reader

if TYPE_CHECKING:  # the policy module reads the directory's tables
    from gateway.policy import Scope


def _headcount_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column(f"attended_{part}", sa.Integer)
        for part in ("total", "female", "male", "other", "worker", "supervisor", "manager", "women_leaders")
    ]


training_sessions = sa.Table(
    "training_sessions",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("course_code", sa.Text, nullable=False),
    sa.Column("course_title", sa.Text, nullable=False),
    sa.Column("catalogue_version", sa.Text, nullable=False),
    sa.Column("course_hours", sa.Float, nullable=False),
    sa.Column("days", ARRAY(sa.Date), nullable=False),
    sa.Column("first_day", sa.Date, nullable=False),
    sa.Column("last_day", sa.Date, nullable=False),
    sa.Column("venue", sa.Text, nullable=False),
    sa.Column("trainer", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # scheduled, rescheduled, delivered, cancelled
    sa.Column("cancellation_reason", sa.Text),
    sa.Column("delivered_hours", sa.Float),
    sa.Column("registered", sa.Integer),
    sa.Column("completed", sa.Integer),
    sa.Column("participant_hours", sa.Float),
    *_headcount_columns(),
    sa.Column("version", sa.Integer, nullable=False),
)

session_factories = sa.Table(
    "training_session_factories",
    metadata,
    sa.Column("session_id", sa.Text, primary_key=True),
    sa.Column("factory_id", sa.Text, primary_key=True),
    # What the delivery counted of this factory's people; null until delivered.
    sa.Column("registered", sa.Integer),
    sa.Column("participant_hours", sa.Float),
    *_headcount_columns(),
)

participants = sa.Table(
    "training_participants",
    metadata,
    sa.Column("session_id", sa.Text, primary_key=True),
    sa.Column("participant_id", sa.Text, primary_key=True),
    sa.Column("factory_id", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("sex", sa.Text, nullable=False),
    sa.Column("name", sa.Text),
    sa.Column("pre_score", sa.Integer),
    sa.Column("post_score", sa.Integer),
    sa.Column("rating", sa.Integer),
    sa.Column("comment", sa.Text),
)

attendance = sa.Table(
    "training_attendance",
    metadata,
    sa.Column("session_id", sa.Text, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("present", ARRAY(sa.Text), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

projection = Projection("training-sessions", [training_sessions, session_factories, participants, attendance])


def _headcount(headcount: te.Headcount) -> dict[str, int]:
    sex, role = headcount.by_sex, headcount.by_role
    return {
        "attended_total": headcount.total,
        "attended_female": sex.female,
        "attended_male": sex.male,
        "attended_other": sex.other_or_undisclosed,
        "attended_worker": role.worker,
        "attended_supervisor": role.supervisor,
        "attended_manager": role.manager,
        "attended_women_leaders": headcount.women_supervisors_and_managers,
    }


def _days(days: Sequence[dt.date]) -> dict[str, object]:
    return {"days": list(days), "first_day": min(days), "last_day": max(days)}


async def _change_session(conn: AsyncConnection, session_id: str, envelope: Envelope, **values: object) -> None:
    await advanced(conn, training_sessions, training_sessions.c.id == session_id, envelope, **values)


@projection.on(te.TrainingSessionScheduled)
async def scheduled(conn: AsyncConnection, event: te.TrainingSessionScheduled, envelope: Envelope) -> None:
    course = event.course
    await conn.execute(
        insert(training_sessions)
        .values(
            id=event.session_id,
            country=event.country,
            course_code=course.code,
            course_title=course.title,
            catalogue_version=course.catalogue_version,
            course_hours=course.hours,
            **_days(event.days),
            venue=event.venue,
            trainer=event.trainer,
            status="scheduled",
            version=envelope.streamversion,
        )
        .on_conflict_do_nothing()
    )
    rows = [{"session_id": event.session_id, "factory_id": f} for f in event.factory_ids]
    await conn.execute(insert(session_factories).values(rows).on_conflict_do_nothing())


@projection.on(te.TrainingSessionRescheduled)
async def rescheduled(conn: AsyncConnection, event: te.TrainingSessionRescheduled, envelope: Envelope) -> None:
    await _change_session(
        conn, event.session_id, envelope, **_days(event.days), venue=event.venue, status="rescheduled"
    )


@projection.on(te.TrainingSessionCancelled)
async def cancelled(conn: AsyncConnection, event: te.TrainingSessionCancelled, envelope: Envelope) -> None:
    await _change_session(conn, event.session_id, envelope, status="cancelled", cancellation_reason=event.reason)


@projection.on(te.TrainingDelivered)
async def delivered(conn: AsyncConnection, event: te.TrainingDelivered, envelope: Envelope) -> None:
    await _change_session(
        conn,
        event.session_id,
        envelope,
        status="delivered",
        delivered_hours=event.hours,
        registered=event.registered,
        completed=event.completed,
        participant_hours=event.participant_hours,
        **_headcount(event.attended),
    )
    sf = session_factories.c
    for line in event.factories:
        await conn.execute(
            session_factories.update()
            .where(sf.session_id == event.session_id, sf.factory_id == line.factory_id)
            .values(registered=line.registered, participant_hours=line.participant_hours, **_headcount(line.attended))
        )


@projection.on(te.ParticipantRegistered)
async def registered(conn: AsyncConnection, event: te.ParticipantRegistered, envelope: Envelope) -> None:
    values = {
        "session_id": event.session_id,
        "participant_id": event.participant_id,
        "factory_id": event.factory_id,
        "role": event.role.value,
        "sex": event.sex.value,
        "name": event.name,
    }
    await conn.execute(insert(participants).values(**values).on_conflict_do_nothing())


def _participant(event: te.TestScoreRecorded | te.FeedbackGiven) -> sa.ColumnElement[bool]:
    p = participants.c
    return sa.and_(p.session_id == event.session_id, p.participant_id == event.participant_id)


@projection.on(te.TestScoreRecorded)
async def scored(conn: AsyncConnection, event: te.TestScoreRecorded, envelope: Envelope) -> None:
    column = "pre_score" if event.phase is te.TestPhase.PRE else "post_score"
    await conn.execute(participants.update().where(_participant(event)).values({column: event.score}))


@projection.on(te.FeedbackGiven)
async def feedback(conn: AsyncConnection, event: te.FeedbackGiven, envelope: Envelope) -> None:
    await conn.execute(
        participants.update().where(_participant(event)).values(rating=event.rating, comment=event.comment)
    )


@projection.on(te.AttendanceRecorded)
async def attendance_recorded(conn: AsyncConnection, event: te.AttendanceRecorded, envelope: Envelope) -> None:
    """A later register of the same day replaces it; an older one replayed does not."""
    values = {
        "session_id": event.session_id,
        "day": event.day,
        "present": list(event.present),
        "version": envelope.streamversion,
    }
    upsert = insert(attendance).values(**values)
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=["session_id", "day"],
            set_={"present": upsert.excluded.present, "version": upsert.excluded.version},
            where=attendance.c.version < upsert.excluded.version,
        )
    )


# --- queries ------------------------------------------------------------------------------------

s, sf, p = training_sessions.c, session_factories.c, participants.c
SUMMED = [s.registered, s.completed, s.participant_hours, *(c for c in s if c.name.startswith("attended_"))]
LATEST_FIRST = Order((s.first_day, s.id), descending=True)
BY_PARTICIPANT = Order((p.participant_id,))


@dataclass(frozen=True)
class SessionFilter:
    """What portals narrow a list of sessions by. Hashable: one DataLoader per distinct filter."""

    country: str | None = None
    course: str | None = None
    status: str | None = None
    ends_on_or_after: dt.date | None = None
    starts_on_or_before: dt.date | None = None

    def where(self, query: sa.Select[Any]) -> sa.Select[Any]:
        for column, value in [(s.country, self.country), (s.course_code, self.course), (s.status, self.status)]:
            if value is not None:
                query = query.where(column == value)
        if self.ends_on_or_after is not None:
            query = query.where(s.last_day >= self.ends_on_or_after)
        if self.starts_on_or_before is not None:
            query = query.where(s.first_day <= self.starts_on_or_before)
        return query

    async def __call__(
        self, engine: Reader, scope: Scope, factory_ids: Sequence[str], request: PageRequest
    ) -> list[Page]:
        """Each factory's sessions (a DataLoader's batch of factories), latest first."""
        query = self.where(
            sa.select(training_sessions, sf.factory_id)
            .join(session_factories, sf.session_id == s.id)
            .where(scope.trains(sf.factory_id))
        )
        return await pages_per_parent(engine, query, sf.factory_id, factory_ids, LATEST_FIRST, request)


def readable_sessions(scope: Scope, factory_id: str | None = None) -> sa.Select[Any]:
    """The sessions that train people of a factory the caller may read (of `factory_id`, if named)."""
    through = sa.select(sf.session_id).where(sf.session_id == s.id, scope.trains(sf.factory_id))
    if factory_id is not None:
        through = through.where(sf.factory_id == factory_id)
    return sa.select(training_sessions).where(through.exists())


async def sessions_by_id(engine: Reader, scope: Scope, ids: Sequence[str]) -> list[Any]:
    """A batch of sessions, None where not readable or not there: the two answer alike."""
    async with engine.connect() as conn:
        rows = await conn.execute(readable_sessions(scope).where(s.id.in_(list(ids))))
        found = {row.id: row for row in rows}
    return [found.get(i) for i in ids]


async def factories_of_sessions(engine: Reader, scope: Scope, session_ids: Sequence[str]) -> list[list[Any]]:
    """Each session's factories that the caller may read, with what the delivery counted of each."""
    query = (
        sa.select(session_factories)
        .where(sf.session_id.in_(list(session_ids)), scope.trains(sf.factory_id))
        .order_by(sf.session_id, sf.factory_id)
    )
    async with engine.connect() as conn:
        rows = list(await conn.execute(query))
    grouped: dict[str, list[Any]] = {i: [] for i in session_ids}
    for row in rows:
        grouped[row.session_id].append(row)
    return [grouped[i] for i in session_ids]


def _days_present() -> sa.ScalarSelect[Any]:
    a = attendance.c
    return (
        sa.select(sa.func.count())
        .where(a.session_id == p.session_id, p.participant_id == sa.func.any(a.present))
        .scalar_subquery()
    )


def _visible_participants(scope: Scope) -> sa.Select[Any]:
    session_days = (
        sa.select(sa.func.cardinality(s.days)).where(s.id == p.session_id).scalar_subquery().label("session_days")
    )
    return sa.select(participants, _days_present().label("days_present"), session_days).where(
        scope.trains(p.factory_id)
    )


async def participants_of_sessions(
    engine: Reader, scope: Scope, session_ids: Sequence[str], request: PageRequest
) -> list[Page]:
    """Each session's participants the caller may read (a factory: its own people only)."""
    query = _visible_participants(scope)
    return await pages_per_parent(engine, query, p.session_id, session_ids, BY_PARTICIPANT, request)


async def figures_of_sessions(engine: Reader, scope: Scope, session_ids: Sequence[str]) -> list[Any]:
    """Per session, over the participants the caller may read: who registered (by sex and role),
    days present, test scores and ratings. None for a session with none of them."""
    people = _visible_participants(scope).where(p.session_id.in_(list(session_ids))).subquery()
    v = people.c
    leader = v.role.in_(["supervisor", "manager"])

    def counted(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.count().filter(condition)

    tested = sa.and_(v.pre_score.is_not(None), v.post_score.is_not(None))
    query = sa.select(
        v.session_id,
        sa.func.count().label("total"),
        counted(v.sex == "female").label("sex_female"),
        counted(v.sex == "male").label("sex_male"),
        counted(v.sex == "other-or-undisclosed").label("sex_other"),
        *(counted(v.role == role).label(f"role_{role}") for role in ("worker", "supervisor", "manager")),
        counted(sa.and_(v.sex == "female", leader)).label("women_leaders"),
        sa.func.sum(v.days_present).label("days_present"),
        sa.func.max(v.session_days).label("session_days"),
        counted(tested).label("tested"),
        sa.func.avg(v.pre_score).filter(tested).label("average_pre"),
        sa.func.avg(v.post_score).filter(tested).label("average_post"),
        counted(v.rating.is_not(None)).label("rated"),
        sa.func.avg(v.rating).label("average_rating"),
    ).group_by(v.session_id)
    async with engine.connect() as conn:
        found = {row.session_id: row for row in await conn.execute(query)}
    return [found.get(i) for i in session_ids]


# --- country aggregates -------------------------------------------------------------------------


async def delivered_per_course(engine: Reader, country: str, year: int) -> list[Any]:
    """Per course (and a row with course_code None for all of them), the sessions delivered in the
    country in the year (by their last day) and their totals, with how many factories' people attended."""
    in_year = sa.and_(
        s.country == country,
        s.status == "delivered",
        s.last_day >= dt.date(year, 1, 1),
        s.last_day <= dt.date(year, 12, 31),
    )
    attending = (
        sa.select(sf.factory_id)
        .where(sf.session_id == s.id, sf.attended_total > 0)
        .correlate(training_sessions)
        .lateral()
    )
    factories = sa.func.count(sa.distinct(attending.c.factory_id))
    # Sums over the sessions themselves: the lateral join repeats a session once per factory.
    totals = (
        sa.select(
            s.course_code,
            sa.func.count().label("sessions"),
            sa.func.max(s.course_title).label("course_title"),
            *(sa.func.sum(c).label(c.name) for c in SUMMED),
        )
        .where(in_year)
        .group_by(sa.func.rollup(s.course_code))
        .subquery()
    )
    reach = (
        sa.select(s.course_code, factories.label("factories"))
        .select_from(training_sessions)
        .join(attending, sa.true(), isouter=True)
        .where(in_year)
        .group_by(sa.func.rollup(s.course_code))
        .subquery()
    )
    query = (
        sa.select(totals, reach.c.factories)
        .join(reach, reach.c.course_code.is_not_distinct_from(totals.c.course_code))
        .order_by(totals.c.course_code.nulls_last())
    )
    async with engine.connect() as conn:
        return list(await conn.execute(query))
