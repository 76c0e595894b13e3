"""Advisory services: each factory's plans per cycle, their priorities, visits and commitments.

Projected from the committee service's advisory events (libs/events/.../contracts/advisory.py),
one plan per stream: the plan's row keeps the stream version it has applied, and every event
after the plan's agreement applies only if its version is newer (`_applies`), so a redelivered
or late event changes nothing.

Participants of a visit are kept as counts only (management, union, committee members by side
and sex): their names are personal data the portals do not need. Who may read which of the rest
is `Scope.advisory` and `Scope.sees_advisory_details` (policy.py).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from betterwork_events.contracts import advisory as ve
from betterwork_events.envelope import Envelope
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.read_models.pages import Order, Page, PageRequest, pages_per_parent
from gateway.read_models.projection import Projection, advanced, metadata
from gateway.read_models.snapshot import Reader

if TYPE_CHECKING:  # the policy module reads the directory's tables
    from gateway.policy import Scope

plans = sa.Table(
    "advisory_plans",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("factory_id", sa.Text, nullable=False),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("cycle", sa.Integer, nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("ends_on", sa.Date, nullable=False),
    sa.Column("service_package", sa.Text, nullable=False),
    sa.Column("visits_included", sa.Integer, nullable=False),
    sa.Column("visits_promised", sa.Integer, nullable=False),
    sa.Column("advisor", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

priorities = sa.Table(
    "advisory_priorities",
    metadata,
    sa.Column("plan_id", sa.Text, primary_key=True),
    sa.Column("priority_id", sa.Text, primary_key=True),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("cluster", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("links", sa.JSON, nullable=False),
)

visits = sa.Table(
    "advisory_visits",
    metadata,
    sa.Column("plan_id", sa.Text, primary_key=True),
    sa.Column("visit_id", sa.Text, primary_key=True),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("planned_on", sa.Date, nullable=False),
    sa.Column("planned_for", sa.Date, nullable=False),
    sa.Column("remote", sa.Boolean, nullable=False),
    sa.Column("planned_topics", sa.JSON, nullable=False),
    sa.Column("held_on", sa.Date),
    sa.Column("advisor", sa.Text),
    sa.Column("management_participants", sa.Integer),
    sa.Column("union_participants", sa.Integer),
    sa.Column("committee_participants", sa.JSON),  # [{"side", "sex", "count"}]
    sa.Column("topics_worked", sa.JSON, nullable=False),  # [{"topic", "priority_id", "note"}]
    sa.Column("notes", sa.Text),
    sa.Column("called_off_on", sa.Date),
    sa.Column("called_off_reason", sa.Text),
    sa.Column("confirmed_on", sa.Date),
    sa.Column("confirmation_comment", sa.Text),
    sa.Column("comments", sa.JSON, nullable=False),  # [{"on", "comment"}], oldest first
)

commitments = sa.Table(
    "advisory_commitments",
    metadata,
    sa.Column("plan_id", sa.Text, primary_key=True),
    sa.Column("commitment_id", sa.Text, primary_key=True),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("visit_id", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("priority_id", sa.Text),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("follow_ups", sa.JSON, nullable=False),  # [{"visit_id", "status", "note", "due_on"}]
)

OPEN = "open"  # the committee service's CommitmentStatus: open, late (still open), done, dropped
CLOSED = (ve.FollowUpStatus.DONE.value, ve.FollowUpStatus.DROPPED.value)
PLANNED, HELD, CANCELLED, MISSED = "planned", "held", "cancelled", "missed"

projection = Projection("advisory", [plans, priorities, visits, commitments])


def _number(some_id: str) -> int:
    """P-3, V-3, CM-3 -> 3: what lists are sorted by, in the order the plan numbered them."""
    return int(some_id.rsplit("-", 1)[1])


async def _applies(conn: AsyncConnection, envelope: Envelope, plan_id: str) -> bool:
    """The plan's version guard (`advanced`) for every event after its agreement."""
    return await advanced(conn, plans, plans.c.id == plan_id, envelope)


async def _add_priorities(conn: AsyncConnection, plan_id: str, agreed: Sequence[ve.AdvisoryPriority]) -> None:
    rows = [
        {
            "plan_id": plan_id,
            "priority_id": p.priority_id,
            "number": _number(p.priority_id),
            "topic": p.topic.value,
            "cluster": ve.cluster_of(p.topic).value,
            "description": p.description,
            "links": list(p.links),
        }
        for p in agreed
    ]
    if rows:
        await conn.execute(insert(priorities).values(rows).on_conflict_do_nothing())


def _visit(plan_id: str, visit_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(visits.c.plan_id == plan_id, visits.c.visit_id == visit_id)


def _commitment(plan_id: str, commitment_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(commitments.c.plan_id == plan_id, commitments.c.commitment_id == commitment_id)


@projection.on(ve.AdvisoryPlanAgreed)
async def plan_agreed(conn: AsyncConnection, event: ve.AdvisoryPlanAgreed, envelope: Envelope) -> None:
    values = {
        "id": event.plan_id,
        "factory_id": event.factory_id,
        "country": event.country,
        "cycle": event.cycle,
        "starts_on": event.starts_on,
        "ends_on": event.ends_on,
        "service_package": event.service_package.value,
        "visits_included": event.visits_included,
        "visits_promised": event.visits_promised,
        "advisor": event.advisor,
        "version": envelope.streamversion,
    }
    created = await conn.execute(insert(plans).values(**values).on_conflict_do_nothing().returning(plans.c.id))
    if created.first() is not None:
        await _add_priorities(conn, event.plan_id, event.priorities)


@projection.on(ve.AdvisorAssigned)
async def advisor_assigned(conn: AsyncConnection, event: ve.AdvisorAssigned, envelope: Envelope) -> None:
    if await _applies(conn, envelope, event.plan_id):
        await conn.execute(plans.update().where(plans.c.id == event.plan_id).values(advisor=event.advisor))


@projection.on(ve.AdvisoryPriorityAgreed)
async def priority_agreed(conn: AsyncConnection, event: ve.AdvisoryPriorityAgreed, envelope: Envelope) -> None:
    if await _applies(conn, envelope, event.plan_id):
        await _add_priorities(conn, event.plan_id, [event.priority])


@projection.on(ve.AdvisoryVisitsRevised)
async def visits_revised(conn: AsyncConnection, event: ve.AdvisoryVisitsRevised, envelope: Envelope) -> None:
    if await _applies(conn, envelope, event.plan_id):
        await conn.execute(
            plans.update().where(plans.c.id == event.plan_id).values(visits_promised=event.visits_promised)
        )


@projection.on(ve.AdvisoryVisitPlanned)
async def visit_planned(conn: AsyncConnection, event: ve.AdvisoryVisitPlanned, envelope: Envelope) -> None:
    if not await _applies(conn, envelope, event.plan_id):
        return
    values = {
        "plan_id": event.plan_id,
        "visit_id": event.visit_id,
        "number": _number(event.visit_id),
        "status": PLANNED,
        "planned_on": event.planned_on,
        "planned_for": event.planned_for,
        "remote": event.remote,
        "planned_topics": [t.value for t in event.topics],
        "topics_worked": [],
        "comments": [],
    }
    await conn.execute(insert(visits).values(**values).on_conflict_do_nothing())


def participation(participants: ve.Participants) -> dict[str, Any]:
    """How many took part, by kind, and the committee's members by side and sex: never who."""
    counted: dict[tuple[str, str], int] = {}
    for member in participants.committee_members:
        key = (member.side.value, member.sex.value)
        counted[key] = counted.get(key, 0) + 1
    return {
        "management_participants": len(participants.management),
        "union_participants": len(participants.union.representatives) if participants.union else 0,
        "committee_participants": [
            {"side": side, "sex": sex, "count": n} for (side, sex), n in sorted(counted.items())
        ],
    }


@projection.on(ve.AdvisoryVisitHeld)
async def visit_held(conn: AsyncConnection, event: ve.AdvisoryVisitHeld, envelope: Envelope) -> None:
    if not await _applies(conn, envelope, event.plan_id):
        return
    worked = [t.model_dump(mode="json") for t in event.topics]
    await conn.execute(
        visits.update()
        .where(_visit(event.plan_id, event.visit_id))
        .values(
            status=HELD,
            held_on=event.held_on,
            advisor=event.advisor,
            remote=event.remote,
            topics_worked=worked,
            notes=event.notes,
            **participation(event.participants),
        )
    )


@projection.on(ve.AdvisoryVisitCancelled, ve.AdvisoryVisitMissed)
async def visit_called_off(
    conn: AsyncConnection, event: ve.AdvisoryVisitCancelled | ve.AdvisoryVisitMissed, envelope: Envelope
) -> None:
    if not await _applies(conn, envelope, event.plan_id):
        return
    cancelled = isinstance(event, ve.AdvisoryVisitCancelled)
    await conn.execute(
        visits.update()
        .where(_visit(event.plan_id, event.visit_id))
        .values(
            status=CANCELLED if cancelled else MISSED,
            called_off_on=event.cancelled_on if isinstance(event, ve.AdvisoryVisitCancelled) else event.missed_on,
            called_off_reason=event.reason,
        )
    )


@projection.on(ve.AdvisoryVisitRecordConfirmed)
async def record_confirmed(conn: AsyncConnection, event: ve.AdvisoryVisitRecordConfirmed, envelope: Envelope) -> None:
    if await _applies(conn, envelope, event.plan_id):
        await conn.execute(
            visits.update()
            .where(_visit(event.plan_id, event.visit_id))
            .values(confirmed_on=event.confirmed_on, confirmation_comment=event.comment)
        )


@projection.on(ve.AdvisoryVisitRecordCommented)
async def record_commented(conn: AsyncConnection, event: ve.AdvisoryVisitRecordCommented, envelope: Envelope) -> None:
    if not await _applies(conn, envelope, event.plan_id):
        return
    comment = {"on": event.commented_on.isoformat(), "comment": event.comment}
    await _append(conn, visits, visits.c.comments, _visit(event.plan_id, event.visit_id), comment)


async def _append(
    conn: AsyncConnection,
    table: sa.Table,
    column: sa.Column[Any],
    where: sa.ColumnElement[bool],
    item: dict[str, Any],
    **values: Any,
) -> None:
    """Add `item` to the end of a JSON list column of the row `where` (the version guard has
    already made sure this event applies once), and set `values` with it."""
    found = (await conn.execute(sa.select(column).where(where))).first()
    if found is not None:
        await conn.execute(table.update().where(where).values({column.name: [*found[0], item], **values}))


@projection.on(ve.AdvisoryCommitmentMade)
async def commitment_made(conn: AsyncConnection, event: ve.AdvisoryCommitmentMade, envelope: Envelope) -> None:
    if not await _applies(conn, envelope, event.plan_id):
        return
    values = {
        "plan_id": event.plan_id,
        "commitment_id": event.commitment_id,
        "number": _number(event.commitment_id),
        "visit_id": event.visit_id,
        "description": event.description,
        "topic": event.topic.value,
        "priority_id": event.priority_id,
        "due_on": event.due_on,
        "status": OPEN,
        "follow_ups": [],
    }
    await conn.execute(insert(commitments).values(**values).on_conflict_do_nothing())


@projection.on(ve.AdvisoryCommitmentFollowedUp)
async def commitment_followed_up(
    conn: AsyncConnection, event: ve.AdvisoryCommitmentFollowedUp, envelope: Envelope
) -> None:
    if not await _applies(conn, envelope, event.plan_id):
        return
    follow_up = {
        "visit_id": event.visit_id,
        "status": event.status.value,
        "note": event.note,
        "due_on": event.due_on.isoformat() if event.due_on else None,
    }
    values: dict[str, Any] = {"status": event.status.value}
    if event.due_on is not None:
        values["due_on"] = event.due_on
    where = _commitment(event.plan_id, event.commitment_id)
    await _append(conn, commitments, commitments.c.follow_ups, where, follow_up, **values)


# --- queries ------------------------------------------------------------------------------------

NEWEST_FIRST = Order((plans.c.starts_on, plans.c.id), descending=True)
VISITS_IN_ORDER = Order((visits.c.number,))
COMMITMENTS_BY_DUE_DATE = Order((commitments.c.due_on, commitments.c.number))


def readable(scope: Scope) -> sa.Select[Any]:
    """The plans this caller may read, every column (refused for governments)."""
    return sa.select(plans).where(scope.advisory(plans.c.factory_id))


async def plans_by_id(engine: Reader, scope: Scope, ids: Sequence[str]) -> list[Any]:
    async with engine.connect() as conn:
        found = {r.id: r for r in await conn.execute(readable(scope).where(plans.c.id.in_(list(ids))))}
    return [found.get(i) for i in ids]


async def plans_of_factories(
    engine: Reader, scope: Scope, factory_ids: Sequence[str], request: PageRequest
) -> list[Page]:
    """Every plan of each factory, newest cycle first."""
    return await pages_per_parent(engine, readable(scope), plans.c.factory_id, factory_ids, NEWEST_FIRST, request)


def _of_readable_plans(scope: Scope, table: sa.Table, *columns: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """Rows of a plan's table, of the plans the caller may read in full (`sees_advisory_details`)."""
    readable_plans = scope.advisory(plans.c.factory_id) if scope.sees_advisory_details else sa.false()
    return sa.select(table, *columns).join(plans, plans.c.id == table.c.plan_id).where(readable_plans)


async def priorities_of(engine: Reader, scope: Scope, plan_ids: Sequence[str]) -> list[list[Any]]:
    """Each plan's priorities, in the order agreed: for those who read plans in full."""
    query = _of_readable_plans(scope, priorities).where(priorities.c.plan_id.in_(list(plan_ids)))
    found: dict[str, list[Any]] = {i: [] for i in plan_ids}
    async with engine.connect() as conn:
        for row in await conn.execute(query.order_by(priorities.c.plan_id, priorities.c.number)):
            found[row.plan_id].append(row)
    return [found[i] for i in plan_ids]


async def priority_clusters_of(engine: Reader, scope: Scope, plan_ids: Sequence[str]) -> list[list[Any]]:
    """Each plan's priorities counted by cluster (by cluster id): what every reader of a plan may know."""
    p = priorities.c
    query = (
        sa.select(p.plan_id, p.cluster, sa.func.count().label("priorities"))
        .join(plans, plans.c.id == p.plan_id)
        .where(p.plan_id.in_(list(plan_ids)), scope.advisory(plans.c.factory_id))
        .group_by(p.plan_id, p.cluster)
        .order_by(p.plan_id, p.cluster)
    )
    found: dict[str, list[Any]] = {i: [] for i in plan_ids}
    async with engine.connect() as conn:
        for row in await conn.execute(query):
            found[row.plan_id].append(row)
    return [found[i] for i in plan_ids]


async def visits_of_plans(engine: Reader, scope: Scope, plan_ids: Sequence[str], request: PageRequest) -> list[Page]:
    """Each plan's visits, in the order planned: for those who read plans in full."""
    query = _of_readable_plans(scope, visits)
    return await pages_per_parent(engine, query, visits.c.plan_id, plan_ids, VISITS_IN_ORDER, request)


def overdue_on(today: dt.date) -> sa.ColumnElement[bool]:
    """Not closed (open or late), and its due date has passed."""
    return sa.and_(commitments.c.status.notin_(CLOSED), commitments.c.due_on < today)


@functools.lru_cache(maxsize=256)
def commitments_where(status: str | None, overdue: bool | None, today: dt.date) -> Any:
    """The nested-page fetch of commitments with these filters: one per filter, so that one
    DataLoader batches every plan asking for the same filter."""

    async def fetch(engine: Reader, scope: Scope, plan_ids: Sequence[str], request: PageRequest) -> list[Page]:
        late = overdue_on(today)
        query = _of_readable_plans(scope, commitments, late.label("overdue"))
        if status is not None:
            query = query.where(commitments.c.status == status)
        if overdue is not None:
            query = query.where(late if overdue else ~late)
        return await pages_per_parent(engine, query, commitments.c.plan_id, plan_ids, COMMITMENTS_BY_DUE_DATE, request)

    return fetch


async def country_statistics(engine: Reader, country: str) -> Any:
    """A country's advisory services in numbers: plans, the factories they advise, visits and
    commitments by status."""
    in_country = plans.c.country == country
    counted = sa.select(
        sa.func.count().label("plans"), sa.func.count(sa.distinct(plans.c.factory_id)).label("factories")
    ).where(in_country)
    v = visits.c
    by_visit = (
        sa.select(v.status, sa.func.count().label("n"))
        .join(plans, plans.c.id == v.plan_id)
        .where(in_country)
        .group_by(v.status)
    )
    c = commitments.c
    by_commitment = (
        sa.select(c.status, sa.func.count().label("n"))
        .join(plans, plans.c.id == c.plan_id)
        .where(in_country)
        .group_by(c.status)
    )
    async with engine.connect() as conn:
        totals = (await conn.execute(counted)).one()
        visit_counts = {r.status: r.n for r in await conn.execute(by_visit)}
        commitment_counts = {r.status: r.n for r in await conn.execute(by_commitment)}
    return totals, visit_counts, commitment_counts
