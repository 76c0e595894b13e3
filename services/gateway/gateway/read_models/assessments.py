"""Assessments through their whole lifecycle, their findings, and the zero-tolerance alerts raised.

Unlike `reports` (published reports only), this read model keeps what happens before
publication too: the planned date of an unannounced visit, findings under review, zero-tolerance
issues raised on the day. Every query of it takes its conditions from the caller's `Scope`
(`scope.assessment`): for anyone but programme staff an assessment does not exist until it is
published, exactly as in the assessment service.

The cycle number. Events carry none, so it is derived: an assessment's cycle is its place among
its factory's assessments that were not cancelled, in order of scheduling (the time of each
AssessmentScheduled event, ties broken by id). It is computed when read, with a window over the
factory's assessments, so a cancellation renumbers the later ones and a replay needs no care.
To a caller who does not see unpublished assessments the number is shown only once every
assessment scheduled before it is published or cancelled: otherwise "cycle 3" next to two
published reports would tell the factory that a visit is planned. A number once shown never
changes (a published assessment cannot be cancelled).

Clusters. A compliance point's id is `<cluster>.<point>` (the tool's id rule, checked by the tool
itself: services/assessment/assessment/tool.py), so a finding's cluster is known when it is
recorded; the AssessmentCompleted summaries carry each point's cluster, and publication writes
those over the derived ones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from betterwork_events.contracts import assessment as ae
from betterwork_events.envelope import Envelope
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.read_models.pages import Order, Page, PageRequest, pages_per_parent
from gateway.read_models.projection import Projection, advanced, metadata
from gateway.read_models.snapshot import Reader

if TYPE_CHECKING:  # the policy module reads the directory's tables
    from gateway.policy import Scope

assessments = sa.Table(
    "assessments",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("factory_id", sa.Text, nullable=False),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("tool_version", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("planned_date", sa.Date, nullable=False),  # confidential: see Scope.sees_unpublished
    sa.Column("assessors", JSONB, nullable=False),
    sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_on", sa.Date),
    sa.Column("submitted_at", sa.DateTime(timezone=True)),
    sa.Column("approved_at", sa.DateTime(timezone=True)),
    sa.Column("reviewer", sa.Text),
    sa.Column("review_comments", JSONB, nullable=False),
    sa.Column("published_on", sa.Date),
    sa.Column("previous_assessment_id", sa.Text),
    sa.Column("version", sa.Integer, nullable=False),  # the stream version last applied
)

findings = sa.Table(
    "findings",
    metadata,
    sa.Column("assessment_id", sa.Text, primary_key=True),
    sa.Column("question_id", sa.Text, primary_key=True),
    sa.Column("factory_id", sa.Text, nullable=False),
    sa.Column("compliance_point_id", sa.Text, nullable=False),
    sa.Column("cluster_id", sa.Text, nullable=False),
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("evidence", sa.Text, nullable=False),
    sa.Column("attachments", JSONB, nullable=False),
    sa.Column("recurring", sa.Boolean),  # null until published: the service decides it then
    sa.Column("version", sa.Integer, nullable=False),
)

# Status: "open" until a country programme manager acknowledges it, "acknowledged" until the
# escalation is recorded, then "escalated".
zero_tolerance_alerts = sa.Table(
    "zero_tolerance_alerts",
    metadata,
    sa.Column("assessment_id", sa.Text, primary_key=True),
    sa.Column("question_id", sa.Text, primary_key=True),
    sa.Column("factory_id", sa.Text, nullable=False),
    sa.Column("issue", sa.Text, nullable=False),
    sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("acknowledged_by", sa.Text),
    sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
    sa.Column("escalated_by", sa.Text),
    sa.Column("escalated_to", sa.Text),
    sa.Column("action_taken", sa.Text),
    sa.Column("escalated_on", sa.Date),
)

PUBLISHED, CANCELLED = "published", "cancelled"
OPEN, ACKNOWLEDGED, ESCALATED = "open", "acknowledged", "escalated"
ACKNOWLEDGE_WITHIN = dt.timedelta(hours=24)  # the protocol's bound, as the assessment service keeps it

projection = Projection("assessments", [assessments, findings, zero_tolerance_alerts])


def cluster_of(compliance_point_id: str) -> str:
    """The tool's id rule: a compliance point's id is `<cluster>.<point>`."""
    return compliance_point_id.partition(".")[0]


async def _step(conn: AsyncConnection, envelope: Envelope, assessment_id: str, **values: object) -> None:
    # One assessment's events arrive in order (its factory's partition); the version guard keeps
    # a redelivered older event from undoing a newer one, or appending a comment twice.
    await advanced(conn, assessments, assessments.c.id == assessment_id, envelope, **values)


@projection.on(ae.AssessmentScheduled)
async def scheduled(conn: AsyncConnection, event: ae.AssessmentScheduled, envelope: Envelope) -> None:
    await conn.execute(
        insert(assessments)
        .values(
            id=event.assessment_id,
            factory_id=event.factory_id,
            country=event.country,
            tool_version=event.tool_version,
            status="scheduled",
            planned_date=event.planned_date,
            assessors=list(event.assessors),
            scheduled_at=envelope.time,
            review_comments=[],
            version=envelope.streamversion,
        )
        .on_conflict_do_nothing()
    )


@projection.on(ae.AssessmentCancelled)
async def cancelled(conn: AsyncConnection, event: ae.AssessmentCancelled, envelope: Envelope) -> None:
    await _step(conn, envelope, event.assessment_id, status=CANCELLED)


@projection.on(ae.AssessmentStarted)
async def started(conn: AsyncConnection, event: ae.AssessmentStarted, envelope: Envelope) -> None:
    await _step(conn, envelope, event.assessment_id, status="in-progress", started_on=event.started_on)


@projection.on(ae.AssessmentSubmitted)
async def submitted(conn: AsyncConnection, event: ae.AssessmentSubmitted, envelope: Envelope) -> None:
    await _step(conn, envelope, event.assessment_id, status="submitted", submitted_at=envelope.time)


@projection.on(ae.AssessmentReturned)
async def returned(conn: AsyncConnection, event: ae.AssessmentReturned, envelope: Envelope) -> None:
    comments = assessments.c.review_comments.op("||")(sa.func.jsonb_build_array(event.comments))
    await _step(conn, envelope, event.assessment_id, status="returned", review_comments=comments)


@projection.on(ae.AssessmentApproved)
async def approved(conn: AsyncConnection, event: ae.AssessmentApproved, envelope: Envelope) -> None:
    values = {"status": "approved", "approved_at": envelope.time, "reviewer": event.reviewer}
    await _step(conn, envelope, event.assessment_id, **values)


@projection.on(ae.AssessmentCompleted)
async def completed(conn: AsyncConnection, event: ae.AssessmentCompleted, envelope: Envelope) -> None:
    await _step(
        conn,
        envelope,
        event.assessment_id,
        status=PUBLISHED,
        published_on=event.published_on,
        previous_assessment_id=event.previous_assessment_id,
    )
    f = findings.c
    recurring = sorted(event.recurring_questions)
    await conn.execute(
        findings.update()
        .where(f.assessment_id == event.assessment_id)
        .values(recurring=f.question_id.in_(recurring) if recurring else sa.false())
    )
    for point in event.compliance_points:
        await conn.execute(
            findings.update()
            .where(
                f.assessment_id == event.assessment_id,
                f.compliance_point_id == point.compliance_point_id,
                f.cluster_id != point.cluster_id,
            )
            .values(cluster_id=point.cluster_id)
        )


@projection.on(ae.FindingRecorded)
async def finding_recorded(conn: AsyncConnection, event: ae.FindingRecorded, envelope: Envelope) -> None:
    # A later finding for the same question amends it; an older one redelivered does not.
    values = {
        "factory_id": event.factory_id,
        "compliance_point_id": event.compliance_point_id,
        "cluster_id": cluster_of(event.compliance_point_id),
        "result": event.result.value,
        "evidence": event.evidence,
        "attachments": [a.model_dump(mode="json") for a in event.attachments],
        "version": envelope.streamversion,
    }
    statement = insert(findings).values(assessment_id=event.assessment_id, question_id=event.question_id, **values)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["assessment_id", "question_id"],
            set_={name: statement.excluded[name] for name in values},
            where=findings.c.version < statement.excluded.version,
        )
    )


@projection.on(ae.ZeroToleranceIssueRaised)
async def zero_tolerance_raised(conn: AsyncConnection, event: ae.ZeroToleranceIssueRaised, envelope: Envelope) -> None:
    await conn.execute(
        insert(zero_tolerance_alerts)
        .values(
            assessment_id=event.assessment_id,
            question_id=event.question_id,
            factory_id=event.factory_id,
            issue=event.issue.value,
            raised_at=envelope.time,
            status=OPEN,
        )
        .on_conflict_do_nothing()
    )


@projection.on(ae.ZeroToleranceIssueAcknowledged)
async def zero_tolerance_acknowledged(
    conn: AsyncConnection, event: ae.ZeroToleranceIssueAcknowledged, envelope: Envelope
) -> None:
    z = zero_tolerance_alerts.c
    await conn.execute(
        zero_tolerance_alerts.update()
        .where(z.assessment_id == event.assessment_id, z.question_id == event.question_id, z.status == OPEN)
        .values(status=ACKNOWLEDGED, acknowledged_by=event.acknowledged_by, acknowledged_at=event.acknowledged_at)
    )


@projection.on(ae.ZeroToleranceIssueEscalated)
async def zero_tolerance_escalated(
    conn: AsyncConnection, event: ae.ZeroToleranceIssueEscalated, envelope: Envelope
) -> None:
    z = zero_tolerance_alerts.c
    await conn.execute(
        zero_tolerance_alerts.update()
        .where(z.assessment_id == event.assessment_id, z.question_id == event.question_id)
        .values(
            status=ESCALATED,
            escalated_by=event.escalated_by,
            escalated_to=event.escalated_to,
            action_taken=event.action_taken,
            escalated_on=event.escalated_on,
        )
    )


# --- queries ------------------------------------------------------------------------------------


def numbered(scope: Scope) -> sa.Subquery:
    """The assessments of the factories the caller may read, each with its cycle number.

    Only the factory condition applies here, so that every factory's window is whole; whether
    each assessment may be read (`visible`) applies to the rows of this subquery."""
    a = assessments.c
    live = a.status != CANCELLED
    pending = a.status.not_in([CANCELLED, PUBLISHED])
    in_order = (a.scheduled_at, a.id)
    cycle = sa.case((live, sa.func.count().filter(live).over(partition_by=a.factory_id, order_by=in_order)))
    if not scope.sees_unpublished:
        earlier = sa.func.count().filter(pending)
        pending_before = earlier.over(partition_by=a.factory_id, order_by=in_order, rows=(None, -1))
        cycle = sa.case((pending_before == 0, cycle))
    return sa.select(assessments, cycle.label("cycle")).where(scope.factory(a.factory_id)).subquery("numbered")


def visible(scope: Scope, rows: sa.Subquery | sa.Table) -> sa.ColumnElement[bool]:
    return scope.assessment(rows.c.factory_id, rows.c.status == PUBLISHED)


def _given(*filters: tuple[object, Callable[[], sa.ColumnElement[bool]]]) -> list[sa.ColumnElement[bool]]:
    """The conditions of the filters the caller gave (a filter not given is None)."""
    return [condition() for value, condition in filters if value is not None]


@dataclasses.dataclass(frozen=True)
class AssessmentFilter:
    country: str | None = None
    status: str | None = None
    factory_id: str | None = None
    cycle: int | None = None
    published_from: dt.date | None = None
    published_to: dt.date | None = None
    year: int | None = None

    def conditions(self, rows: sa.Subquery) -> list[sa.ColumnElement[bool]]:
        c = rows.c
        return _given(
            (self.country, lambda: c.country == self.country),
            (self.status, lambda: c.status == self.status),
            (self.factory_id, lambda: c.factory_id == self.factory_id),
            (self.cycle, lambda: c.cycle == self.cycle),
            (self.published_from, lambda: c.published_on >= self.published_from),
            (self.published_to, lambda: c.published_on <= self.published_to),
            (self.year, lambda: sa.extract("year", c.published_on) == self.year),
        )


def assessments_query(scope: Scope, wanted: AssessmentFilter) -> tuple[sa.Select[Any], Order]:
    """The assessments the caller may read, as `wanted`, newest scheduled first."""
    rows = numbered(scope)
    query = sa.select(rows).where(visible(scope, rows), *wanted.conditions(rows))
    return query, Order((rows.c.scheduled_at, rows.c.id), descending=True)


async def assessments_by_id(engine: Reader, scope: Scope, ids: Sequence[str]) -> list[Any]:
    """A batch of assessments (a DataLoader's), None where not readable or not there: the same."""
    query, _ = assessments_query(scope, AssessmentFilter())
    rows = query.selected_columns
    async with engine.connect() as conn:
        found = {row.id: row for row in await conn.execute(query.where(rows.id.in_(list(ids))))}
    return [found.get(i) for i in ids]


async def assessments_of_factories(
    engine: Reader, scope: Scope, keys: Sequence[tuple[str, AssessmentFilter]], request: PageRequest
) -> list[Page]:
    """Each factory's assessments as each key's filter says; one query per distinct filter."""

    def nested(wanted: AssessmentFilter) -> Nested:
        query, order = assessments_query(scope, wanted)
        return query, query.selected_columns.factory_id, order

    return await _per_filter(engine, keys, request, nested)


@dataclasses.dataclass(frozen=True)
class FindingFilter:
    result: str | None = None
    compliance_point: str | None = None
    cluster: str | None = None
    country: str | None = None
    recurring: bool | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        f = findings.c
        return _given(
            (self.result, lambda: f.result == self.result),
            (self.compliance_point, lambda: f.compliance_point_id == self.compliance_point),
            (self.cluster, lambda: f.cluster_id == self.cluster),
            (self.country, lambda: assessments.c.country == self.country),
            (self.recurring, lambda: f.recurring.is_(self.recurring)),
        )


def findings_query(scope: Scope, wanted: FindingFilter) -> sa.Select[Any]:
    """The findings of the assessments the caller may read, with the zero-tolerance issue they raised."""
    f, z = findings.c, zero_tolerance_alerts.c
    joined = findings.join(assessments, assessments.c.id == f.assessment_id).outerjoin(
        zero_tolerance_alerts, sa.and_(z.assessment_id == f.assessment_id, z.question_id == f.question_id)
    )
    return (
        sa.select(findings, z.issue.label("zero_tolerance_issue"))
        .select_from(joined)
        .where(visible(scope, assessments), *wanted.conditions())
    )


FINDINGS_ORDER = Order((findings.c.assessment_id, findings.c.question_id))
BY_QUESTION = Order((findings.c.question_id,))


async def findings_of_assessments(
    engine: Reader, scope: Scope, keys: Sequence[tuple[str, FindingFilter]], request: PageRequest
) -> list[Page]:
    """Each assessment's findings, by question, as each key's filter says; one query per distinct filter."""
    return await _per_filter(
        engine, keys, request, lambda wanted: (findings_query(scope, wanted), findings.c.assessment_id, BY_QUESTION)
    )


# A nested list's query for one filter: the rows of all parents, the column naming each row's parent, the order.
Nested = tuple[sa.Select[Any], sa.ColumnElement[Any], Order]


async def _per_filter(
    engine: Reader, keys: Sequence[tuple[str, Any]], request: PageRequest, nested: Callable[[Any], Nested]
) -> list[Page]:
    """Pages of a nested list whose DataLoader keys are (parent, filter): one query per distinct filter."""
    by_filter: dict[Any, list[str]] = {}
    for parent, wanted in keys:
        by_filter.setdefault(wanted, []).append(parent)
    found: dict[tuple[str, Any], Page] = {}
    for wanted, parents in by_filter.items():
        query, parent_column, order = nested(wanted)
        pages = await pages_per_parent(engine, query, parent_column, parents, order, request)
        for parent, page in zip(parents, pages, strict=True):
            found[(parent, wanted)] = page
    return [found[key] for key in keys]


def alerts_query(
    scope: Scope, country: str | None, statuses: Sequence[str], overdue: bool | None, now: dt.datetime
) -> tuple[sa.Select[Any], Order]:
    """Zero-tolerance alerts in `statuses`, longest waiting first; `overdue`: only those (not)
    acknowledged in time as of `now`."""
    z = zero_tolerance_alerts.c
    late = sa.and_(z.status == OPEN, z.raised_at < now - ACKNOWLEDGE_WITHIN)
    query = (
        sa.select(zero_tolerance_alerts, assessments.c.country, late.label("overdue"))
        .select_from(zero_tolerance_alerts.join(assessments, assessments.c.id == z.assessment_id))
        .where(scope.zero_tolerance_alerts(), z.status.in_(statuses))
    )
    if country is not None:
        query = query.where(assessments.c.country == country)
    if overdue is not None:
        query = query.where(late if overdue else sa.not_(late))
    return query, Order((z.raised_at, z.assessment_id, z.question_id))


async def alert(engine: Reader, scope: Scope, assessment_id: str, question_id: str) -> Any | None:
    """One zero-tolerance alert while open, if the caller may read it."""
    query, _ = alerts_query(scope, None, (OPEN,), None, dt.datetime.now(dt.UTC))
    z = zero_tolerance_alerts.c
    async with engine.connect() as conn:
        found = await conn.execute(query.where(z.assessment_id == assessment_id, z.question_id == question_id))
        return found.first()
