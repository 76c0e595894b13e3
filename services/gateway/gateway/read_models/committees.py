"""Worker-management committees (PICCs): members, elections, meetings, action items, and health.

Committees' health is not an event: the committee service judges it on each read from the
committee's events and the factory's workforce. This read model judges it the same way, from
the same events (and the workforce the factory directory keeps), with the same rules as
services/committee/committee/domain.py (`health_checks`, `HealthPolicy`): the checks' statuses
are SQL expressions (`health_at`), so that lists can be filtered by them and country statistics
count them, and the gateway's GraphQL words the reasons from the same figures.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from betterwork_events.contracts import committee as ce
from betterwork_events.envelope import Envelope
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.read_models.directory import factories
from gateway.read_models.pages import Order, Page, PageRequest, pages_per_parent
from gateway.read_models.projection import Projection, advanced, metadata
from gateway.read_models.snapshot import Reader

if TYPE_CHECKING:  # the policy module reads the directory's tables
    from gateway.policy import Scope

committees = sa.Table(
    "committees",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("factory_id", sa.Text, nullable=False),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("established_on", sa.Date, nullable=False),
    sa.Column("dissolved_on", sa.Date),
    sa.Column("dissolution_reason", sa.Text),
    sa.Column("version", sa.Integer, nullable=False),
)

members = sa.Table(
    "committee_members",
    metadata,
    sa.Column("committee_id", sa.Text, primary_key=True),
    sa.Column("member_id", sa.Text, primary_key=True),
    sa.Column("employee_number", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("sex", sa.Text, nullable=False),
    sa.Column("job_title", sa.Text),
    sa.Column("side", sa.Text, nullable=False),
    sa.Column("office", sa.Text, nullable=False),
    sa.Column("term_starts_on", sa.Date, nullable=False),
    sa.Column("term_ends_on", sa.Date),
    sa.Column("election_id", sa.Text),
    sa.Column("left_on", sa.Date),
)

elections = sa.Table(
    "committee_elections",
    metadata,
    sa.Column("committee_id", sa.Text, primary_key=True),
    sa.Column("election_id", sa.Text, primary_key=True),
    sa.Column("held_on", sa.Date, nullable=False),
    sa.Column("seats", sa.Integer, nullable=False),
    sa.Column("candidates", sa.Integer, nullable=False),
    sa.Column("women_candidates", sa.Integer, nullable=False),
    sa.Column("votes_cast", sa.Integer, nullable=False),
    sa.Column("elected", sa.Integer, nullable=False),
    sa.Column("women_elected", sa.Integer, nullable=False),
)

meetings = sa.Table(
    "committee_meetings",
    metadata,
    sa.Column("committee_id", sa.Text, primary_key=True),
    sa.Column("meeting_id", sa.Text, primary_key=True),
    sa.Column("held_on", sa.Date, nullable=False),
    sa.Column("attendees", sa.Integer, nullable=False),
    sa.Column("guests", sa.Integer, nullable=False),
    sa.Column("agenda", sa.JSON, nullable=False),
    sa.Column("minutes", sa.Text, nullable=False),
    sa.Column("decisions", sa.JSON, nullable=False),
)

action_items = sa.Table(
    "committee_action_items",
    metadata,
    sa.Column("committee_id", sa.Text, primary_key=True),
    sa.Column("action_item_id", sa.Text, primary_key=True),
    sa.Column("meeting_id", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("closed_on", sa.Date),
    sa.Column("outcome", sa.Text),
)

projection = Projection("committees", [committees, members, elections, meetings, action_items])


async def _applies(conn: AsyncConnection, envelope: Envelope, committee_id: str) -> bool:
    """The committee's version guard (`advanced`) for every event after its establishment."""
    return await advanced(conn, committees, committees.c.id == committee_id, envelope)


def _seat(committee_id: str, seat: ce.CommitteeMember) -> dict[str, Any]:
    person = seat.person
    return {
        "committee_id": committee_id,
        "member_id": seat.member_id,
        "employee_number": person.employee_number,
        "name": person.name,
        "sex": person.sex.value,
        "job_title": person.job_title,
        "side": seat.side.value,
        "office": seat.office.value,
        "term_starts_on": seat.term_starts_on,
        "term_ends_on": seat.term_ends_on,
        "election_id": seat.election_id,
    }


async def _seat_all(conn: AsyncConnection, committee_id: str, seats: Sequence[ce.CommitteeMember]) -> None:
    if seats:
        await conn.execute(insert(members).values([_seat(committee_id, s) for s in seats]).on_conflict_do_nothing())


def _member(committee_id: str, member_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(members.c.committee_id == committee_id, members.c.member_id == member_id)


def _item(committee_id: str, action_item_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(action_items.c.committee_id == committee_id, action_items.c.action_item_id == action_item_id)


@projection.on(ce.CommitteeEstablished)
async def established(conn: AsyncConnection, event: ce.CommitteeEstablished, envelope: Envelope) -> None:
    values = {
        "id": event.committee_id,
        "factory_id": event.factory_id,
        "country": event.country,
        "established_on": event.established_on,
        "version": envelope.streamversion,
    }
    await conn.execute(insert(committees).values(**values).on_conflict_do_nothing())


@projection.on(ce.ElectionRecorded)
async def election_recorded(conn: AsyncConnection, event: ce.ElectionRecorded, envelope: Envelope) -> None:
    if not await _applies(conn, envelope, event.committee_id):
        return
    women = ce.Sex.FEMALE
    values = {
        "committee_id": event.committee_id,
        "election_id": event.election_id,
        "held_on": event.held_on,
        "seats": event.seats,
        "candidates": len(event.candidates),
        "women_candidates": sum(1 for c in event.candidates if c.person.sex is women),
        "votes_cast": sum(c.votes for c in event.candidates),
        "elected": len(event.elected),
        "women_elected": sum(1 for s in event.elected if s.person.sex is women),
    }
    await conn.execute(insert(elections).values(**values).on_conflict_do_nothing())
    await _seat_all(conn, event.committee_id, event.elected)


@projection.on(ce.ManagementRepresentativeAppointed)
async def appointed(conn: AsyncConnection, event: ce.ManagementRepresentativeAppointed, envelope: Envelope) -> None:
    if await _applies(conn, envelope, event.committee_id):
        await _seat_all(conn, event.committee_id, [event.member])


@projection.on(ce.MemberOfficeAssigned)
async def office_assigned(conn: AsyncConnection, event: ce.MemberOfficeAssigned, envelope: Envelope) -> None:
    if await _applies(conn, envelope, event.committee_id):
        await conn.execute(
            members.update().where(_member(event.committee_id, event.member_id)).values(office=event.office.value)
        )


@projection.on(ce.MemberLeft)
async def left(conn: AsyncConnection, event: ce.MemberLeft, envelope: Envelope) -> None:
    if await _applies(conn, envelope, event.committee_id):
        await conn.execute(
            members.update().where(_member(event.committee_id, event.member_id)).values(left_on=event.left_on)
        )


@projection.on(ce.MemberReplaced)
async def replaced(conn: AsyncConnection, event: ce.MemberReplaced, envelope: Envelope) -> None:
    if await _applies(conn, envelope, event.committee_id):
        await conn.execute(
            members.update().where(_member(event.committee_id, event.member_id)).values(left_on=event.replaced_on)
        )
        await _seat_all(conn, event.committee_id, [event.replacement])


@projection.on(ce.MeetingRecorded)
async def meeting_recorded(conn: AsyncConnection, event: ce.MeetingRecorded, envelope: Envelope) -> None:
    if not await _applies(conn, envelope, event.committee_id):
        return
    values = {
        "committee_id": event.committee_id,
        "meeting_id": event.meeting_id,
        "held_on": event.held_on,
        "attendees": len(event.attendees),
        "guests": len(event.guests),
        "agenda": [topic.model_dump(mode="json") for topic in event.agenda],
        "minutes": event.minutes,
        "decisions": list(event.decisions),
    }
    await conn.execute(insert(meetings).values(**values).on_conflict_do_nothing())


@projection.on(ce.ActionItemRaised)
async def action_item_raised(conn: AsyncConnection, event: ce.ActionItemRaised, envelope: Envelope) -> None:
    if not await _applies(conn, envelope, event.committee_id):
        return
    values = {
        "committee_id": event.committee_id,
        "action_item_id": event.action_item_id,
        "meeting_id": event.meeting_id,
        "description": event.description,
        "owner": event.owner,
        "due_on": event.due_on,
        "status": ce.ActionItemStatus.OPEN.value,
    }
    await conn.execute(insert(action_items).values(**values).on_conflict_do_nothing())


@projection.on(ce.ActionItemStarted)
async def action_item_started(conn: AsyncConnection, event: ce.ActionItemStarted, envelope: Envelope) -> None:
    if await _applies(conn, envelope, event.committee_id):
        await conn.execute(
            action_items.update()
            .where(_item(event.committee_id, event.action_item_id))
            .values(status=ce.ActionItemStatus.IN_PROGRESS.value)
        )


@projection.on(ce.ActionItemClosed)
async def action_item_closed(conn: AsyncConnection, event: ce.ActionItemClosed, envelope: Envelope) -> None:
    if await _applies(conn, envelope, event.committee_id):
        await conn.execute(
            action_items.update()
            .where(_item(event.committee_id, event.action_item_id))
            .values(status=ce.ActionItemStatus.DONE.value, closed_on=event.closed_on, outcome=event.outcome)
        )


@projection.on(ce.CommitteeDissolved)
async def dissolved(conn: AsyncConnection, event: ce.CommitteeDissolved, envelope: Envelope) -> None:
    if await _applies(conn, envelope, event.committee_id):
        await conn.execute(
            committees.update()
            .where(committees.c.id == event.committee_id)
            .values(dissolved_on=event.dissolved_on, dissolution_reason=event.reason)
        )


# --- health: the committee service's rules, as SQL ---------------------------------------------


@dataclasses.dataclass(frozen=True)
class HealthPolicy:
    """What the programme expects of a committee: the committee service's defaults (HealthPolicy there)."""

    meeting_every_days: int = 31
    meeting_grace_days: int = 7
    women_share_tolerance: float = 15.0  # percentage points between members and workforce


HEALTH = HealthPolicy()
OK, ATTENTION, NOT_MET, UNKNOWN = "ok", "attention", "not-met", "unknown"
CHECKS = ("worker-representatives-elected", "workers-at-least-half", "women-represented", "meeting-cadence")


def seated_on(today: dt.date) -> sa.ColumnElement[bool]:
    """Members holding their seat on `today`: their term started, has not ended, and they have not left."""
    m = members.c
    return sa.and_(
        m.term_starts_on <= today,
        sa.or_(m.term_ends_on.is_(None), m.term_ends_on >= today),
        sa.or_(m.left_on.is_(None), m.left_on > today),
    )


def _seated(today: dt.date, *where: sa.ColumnElement[bool]) -> sa.ScalarSelect[Any]:
    return (
        sa.select(sa.func.count())
        .where(members.c.committee_id == committees.c.id, seated_on(today), *where)
        .scalar_subquery()
    )


def _latest_election(column: sa.Column[Any], today: dt.date) -> sa.ScalarSelect[Any]:
    e = elections.c
    number = sa.cast(sa.func.substr(e.election_id, 3), sa.Integer)
    return (
        sa.select(column)
        .where(e.committee_id == committees.c.id, e.held_on <= today)
        .order_by(e.held_on.desc(), number.desc())
        .limit(1)
        .scalar_subquery()
    )


def health_at(today: dt.date) -> sa.Select[Any]:
    """Every committee with the figures its health is judged by on `today`, and each check's status.

    A dissolved committee has one check only, committee-active, not met; its other statuses are null."""
    c = committees.c
    figures = (
        sa.select(
            committees,
            _seated(today).label("seated"),
            _seated(today, members.c.side == ce.Side.WORKERS.value).label("workers_seated"),
            _seated(today, members.c.sex == ce.Sex.FEMALE.value).label("women_seated"),
            _seated(today, members.c.side == ce.Side.WORKERS.value, members.c.sex == ce.Sex.FEMALE.value).label(
                "workers_women_seated"
            ),
            sa.select(sa.func.count())
            .where(elections.c.committee_id == c.id, elections.c.held_on <= today)
            .scalar_subquery()
            .label("elections"),
            _latest_election(elections.c.held_on, today).label("last_election_on"),
            _latest_election(elections.c.candidates, today).label("last_election_candidates"),
            _latest_election(elections.c.seats, today).label("last_election_seats"),
            sa.select(sa.func.max(meetings.c.held_on))
            .where(meetings.c.committee_id == c.id, meetings.c.held_on <= today)
            .scalar_subquery()
            .label("last_meeting_on"),
            factories.c.workers_total.label("workforce_total"),
            factories.c.workers_women.label("workforce_women"),
        )
        .select_from(committees.outerjoin(factories, factories.c.id == c.factory_id))
        .subquery()
    )
    f = figures.c
    active = f.dissolved_on.is_(None)

    def judged(*cases: tuple[sa.ColumnElement[bool], str], otherwise: str) -> sa.ColumnElement[str]:
        return sa.case((~active, sa.null()), *cases, else_=sa.literal(otherwise))

    elected = judged(
        (f.elections == 0, NOT_MET),
        (f.workers_seated == 0, NOT_MET),
        (f.last_election_candidates <= f.last_election_seats, ATTENTION),
        otherwise=OK,
    )
    half = judged((f.seated == 0, NOT_MET), (2 * f.workers_seated >= f.seated, OK), otherwise=NOT_MET)
    gap = 100.0 * f.women_seated / sa.func.nullif(f.seated, 0) - 100.0 * f.workforce_women / sa.func.nullif(
        f.workforce_total, 0
    )
    women = judged(
        (sa.or_(f.workforce_total.is_(None), f.workforce_women.is_(None), f.workforce_total <= 0), UNKNOWN),
        (f.seated == 0, NOT_MET),
        (sa.func.abs(gap) <= HEALTH.women_share_tolerance, OK),
        otherwise=NOT_MET,
    )
    since = sa.literal(today, sa.Date) - sa.func.coalesce(f.last_meeting_on, f.established_on)
    cadence = judged(
        (since <= HEALTH.meeting_every_days, OK),
        (since <= HEALTH.meeting_every_days + HEALTH.meeting_grace_days, ATTENTION),
        otherwise=NOT_MET,
    )
    statuses = [elected, half, women, cadence]
    healthy = sa.and_(active, *[s != NOT_MET for s in statuses])
    return sa.select(
        figures,
        *[status.label(check.replace("-", "_")) for status, check in zip(statuses, CHECKS, strict=True)],
        sa.literal(today, sa.Date).label("today"),
        since.label("days_since_meeting"),
        healthy.label("healthy"),
    )


# --- queries ------------------------------------------------------------------------------------

NEWEST_FIRST = Order((committees.c.established_on, committees.c.id), descending=True)


def readable(scope: Scope) -> sa.Select[Any]:
    """The committees this caller may read, every column (refused for brands and governments)."""
    return sa.select(committees).where(scope.committee(committees.c.factory_id))


async def committees_by_id(engine: Reader, scope: Scope, ids: Sequence[str]) -> list[Any]:
    async with engine.connect() as conn:
        found = {r.id: r for r in await conn.execute(readable(scope).where(committees.c.id.in_(list(ids))))}
    return [found.get(i) for i in ids]


async def active_committees_of(engine: Reader, scope: Scope, factory_ids: Sequence[str]) -> list[Any]:
    """Each factory's active committee, or None (a factory has one at a time)."""
    query = readable(scope).where(committees.c.factory_id.in_(list(factory_ids)), committees.c.dissolved_on.is_(None))
    async with engine.connect() as conn:
        found = {r.factory_id: r for r in await conn.execute(query)}
    return [found.get(i) for i in factory_ids]


async def committees_of_factories(
    engine: Reader, scope: Scope, factory_ids: Sequence[str], request: PageRequest
) -> list[Page]:
    """Every committee each factory has had, newest first."""
    return await pages_per_parent(engine, readable(scope), committees.c.factory_id, factory_ids, NEWEST_FIRST, request)


async def health_of(engine: Reader, scope: Scope, keys: Sequence[tuple[str, dt.date]]) -> list[Any]:
    """(committee id, today) -> the committee's health figures and statuses on that day."""
    found: dict[tuple[str, dt.date], Any] = {}
    async with engine.connect() as conn:
        for today in {day for _, day in keys}:
            judged = health_at(today).subquery()
            ids = [i for i, day in keys if day == today]
            query = sa.select(judged).where(judged.c.id.in_(ids), scope.committee(judged.c.factory_id))
            found |= {(r.id, today): r for r in await conn.execute(query)}
    return [found.get(key) for key in keys]


async def members_of(engine: Reader, scope: Scope, keys: Sequence[tuple[str, dt.date]]) -> list[list[Any]]:
    """(committee id, today) -> the members seated that day (nobody once the committee is dissolved),
    workers' side first, then by member id."""
    found: dict[tuple[str, dt.date], list[Any]] = {key: [] for key in keys}
    number = sa.cast(sa.func.substr(members.c.member_id, 3), sa.Integer)
    async with engine.connect() as conn:
        for today in {day for _, day in keys}:
            ids = [i for i, day in keys if day == today]
            query = (
                sa.select(members)
                .join(committees, committees.c.id == members.c.committee_id)
                .where(
                    members.c.committee_id.in_(ids),
                    seated_on(today),
                    sa.or_(committees.c.dissolved_on.is_(None), committees.c.dissolved_on > today),
                    scope.committee(committees.c.factory_id),
                )
                .order_by(members.c.committee_id, members.c.side.desc(), number)
            )
            for row in await conn.execute(query):
                found[(row.committee_id, today)].append(row)
    return [found[key] for key in keys]


async def elections_of(engine: Reader, scope: Scope, committee_ids: Sequence[str]) -> list[list[Any]]:
    """Each committee's elections, oldest first."""
    return await _rows_of(engine, scope, elections, committee_ids, elections.c.held_on)


async def meeting_dates_of(engine: Reader, scope: Scope, committee_ids: Sequence[str]) -> list[list[Any]]:
    """Each committee's meetings (their dates), oldest first: what regularity is judged by."""
    return await _rows_of(engine, scope, meetings, committee_ids, meetings.c.held_on)


async def _rows_of(
    engine: Reader, scope: Scope, table: sa.Table, committee_ids: Sequence[str], by: sa.Column[Any]
) -> list[list[Any]]:
    query = (
        sa.select(table)
        .join(committees, committees.c.id == table.c.committee_id)
        .where(table.c.committee_id.in_(list(committee_ids)), scope.committee(committees.c.factory_id))
        .order_by(by, table.c[table.primary_key.columns.keys()[1]])
    )
    found: dict[str, list[Any]] = {i: [] for i in committee_ids}
    async with engine.connect() as conn:
        for row in await conn.execute(query):
            found[row.committee_id].append(row)
    return [found[i] for i in committee_ids]


MEETINGS_NEWEST_FIRST = Order((meetings.c.held_on, meetings.c.meeting_id), descending=True)
ITEMS_BY_DUE_DATE = Order((action_items.c.due_on, action_items.c.action_item_id))


async def meetings_of_committees(
    engine: Reader, scope: Scope, committee_ids: Sequence[str], request: PageRequest
) -> list[Page]:
    """Each committee's meetings, newest first, with their minutes."""
    query = (
        sa.select(meetings)
        .join(committees, committees.c.id == meetings.c.committee_id)
        .where(scope.committee(committees.c.factory_id))
    )
    return await pages_per_parent(engine, query, meetings.c.committee_id, committee_ids, MEETINGS_NEWEST_FIRST, request)


def overdue_on(today: dt.date) -> sa.ColumnElement[bool]:
    """Not done, and its due date has passed."""
    return sa.and_(action_items.c.status != ce.ActionItemStatus.DONE.value, action_items.c.due_on < today)


@functools.lru_cache(maxsize=256)
def action_items_where(status: str | None, overdue: bool | None, today: dt.date) -> Any:
    """The nested-page fetch of action items with these filters: one per filter, so that one
    DataLoader batches every committee asking for the same filter."""

    async def fetch(engine: Reader, scope: Scope, committee_ids: Sequence[str], request: PageRequest) -> list[Page]:
        late = overdue_on(today)
        query = (
            sa.select(action_items, late.label("overdue"))
            .join(committees, committees.c.id == action_items.c.committee_id)
            .where(scope.committee(committees.c.factory_id))
        )
        if status is not None:
            query = query.where(action_items.c.status == status)
        if overdue is not None:
            query = query.where(late if overdue else ~late)
        return await pages_per_parent(
            engine, query, action_items.c.committee_id, committee_ids, ITEMS_BY_DUE_DATE, request
        )

    return fetch


async def country_statistics(engine: Reader, country: str, today: dt.date) -> Any:
    """A country's committees in numbers on `today`: by factory, and the workers' side by sex."""
    judged = health_at(today).subquery()
    j = judged.c
    active = j.dissolved_on.is_(None)
    query = sa.select(
        sa.func.count(sa.distinct(j.factory_id)).label("factories_established"),
        sa.func.count(sa.distinct(j.factory_id)).filter(active).label("factories_active"),
        sa.func.count(sa.distinct(j.factory_id)).filter(active, j.meeting_cadence == OK).label("meeting_regularly"),
        sa.func.count(sa.distinct(j.factory_id)).filter(j.healthy).label("healthy"),
        sa.func.coalesce(sa.func.sum(j.workers_seated).filter(active), 0).label("workers_side"),
        sa.func.coalesce(sa.func.sum(j.workers_women_seated).filter(active), 0).label("workers_side_women"),
    ).where(j.country == country)
    async with engine.connect() as conn:
        return (await conn.execute(query)).one()


async def meetings_by_quarter(engine: Reader, country: str, today: dt.date) -> list[Any]:
    """Per calendar quarter, from the one the country's first committee was established in to
    `today`'s: the committees sitting in it (established by its end, not dissolved before its
    start), the factories they are of, and the meetings they held in it up to `today`."""
    c, m = committees.c, meetings.c
    quarter = sa.func.date_trunc("quarter", sa.literal(today, sa.Date))
    first = sa.select(sa.func.date_trunc("quarter", sa.func.min(c.established_on))).where(c.country == country)
    starts = sa.select(
        sa.cast(
            sa.func.generate_series(first.scalar_subquery(), quarter, sa.text("interval '3 months'")), sa.Date
        ).label("starts_on")
    ).subquery("quarters")
    q = starts.c.starts_on
    ends = sa.cast(q + sa.text("interval '3 months'"), sa.Date)
    sitting = sa.and_(
        c.country == country, c.established_on < ends, sa.or_(c.dissolved_on.is_(None), c.dissolved_on >= q)
    )
    held = (
        sa.select(sa.func.count())
        .select_from(meetings.join(committees, c.id == m.committee_id))
        .where(c.country == country, m.held_on >= q, m.held_on < ends, m.held_on <= today)
        .scalar_subquery()
    )
    query = (
        sa.select(
            q.label("starts_on"),
            sa.func.count(sa.distinct(c.id)).label("committees"),
            sa.func.count(sa.distinct(c.factory_id)).label("factories"),
            held.label("meetings"),
        )
        .select_from(starts.outerjoin(committees, sitting))
        .group_by(q)
        .order_by(q)
    )
    async with engine.connect() as conn:
        return list(await conn.execute(query))
