"""Improvement plans: how each non-compliant finding of a published report is remedied.

A plan exists once a report is published (AssessmentCompleted): one row per non-compliant
question, with its compliance point and cluster, and the factory's country, so that portals can
filter. The factory then plans improvement actions for a finding (what, who, by when), reports
progress on them, and says when the finding is put right; programme staff verify or reject that.

Remediation status: `open` until the factory says it is remediated, then `verified` or
`rejected` (the finding is open again, with the reason, as the assessment service has it).
An action is overdue, as the assessment service computes it, when it is not done and `today`
is past its due date; `today` is always the caller's argument, never the clock.

The owner of an action (`who`), the notes of progress and of a remediation and the reason of a
rejection are free text that can name people: a query selects them only for a scope that
`sees_plan_details`; `verified_by` (a staff member) only for one that `sees_staff_names`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from betterwork_events.contracts import assessment as ae
from betterwork_events.envelope import Envelope
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.read_models.pages import Order, Page, PageRequest, page, pages_per_parent
from gateway.read_models.projection import Projection, advanced, metadata
from gateway.read_models.snapshot import Reader

if TYPE_CHECKING:  # the policy module reads the directory's tables
    from gateway.policy import Scope

OPEN, REMEDIATED, VERIFIED, REJECTED = "open", "remediated", "verified", "rejected"

plan_findings = sa.Table(
    "plan_findings",
    metadata,
    sa.Column("assessment_id", sa.Text, primary_key=True),
    sa.Column("question_id", sa.Text, primary_key=True),
    sa.Column("factory_id", sa.Text, nullable=False),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("compliance_point_id", sa.Text, nullable=False),
    sa.Column("cluster_id", sa.Text, nullable=False),
    sa.Column("published_on", sa.Date, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("remediation_note", sa.Text),
    sa.Column("remediated_at", sa.DateTime(timezone=True)),
    sa.Column("verified_by", sa.Text),
    sa.Column("verified_at", sa.DateTime(timezone=True)),
    sa.Column("rejection_reason", sa.Text),
    sa.Column("rejected_at", sa.DateTime(timezone=True)),
    sa.Column("version", sa.Integer, nullable=False),
)

improvement_actions = sa.Table(
    "improvement_actions",
    metadata,
    sa.Column("assessment_id", sa.Text, primary_key=True),
    sa.Column("action_id", sa.Text, primary_key=True),
    sa.Column("question_id", sa.Text, nullable=False),
    sa.Column("what", sa.Text, nullable=False),
    sa.Column("who", sa.Text, nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("done", sa.Boolean, nullable=False),
    sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
)

improvement_progress = sa.Table(
    "improvement_progress",
    metadata,
    sa.Column("assessment_id", sa.Text, primary_key=True),
    sa.Column("stream_version", sa.Integer, primary_key=True),
    sa.Column("action_id", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("done", sa.Boolean, nullable=False),
    sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
)

projection = Projection("improvement-plans", [plan_findings, improvement_actions, improvement_progress])


@projection.on(ae.AssessmentCompleted)
async def completed(conn: AsyncConnection, event: ae.AssessmentCompleted, envelope: Envelope) -> None:
    rows = [
        {
            "assessment_id": event.assessment_id,
            "question_id": question_id,
            "factory_id": event.factory_id,
            "country": event.country,
            "compliance_point_id": point.compliance_point_id,
            "cluster_id": point.cluster_id,
            "published_on": event.published_on,
            "status": OPEN,
            "version": envelope.streamversion,
        }
        for point in event.compliance_points
        if point.non_compliant
        for question_id in point.non_compliant_questions
    ]
    if rows:
        await conn.execute(insert(plan_findings).values(rows).on_conflict_do_nothing())


async def _remedy(conn: AsyncConnection, event: ae.AssessmentEvent, envelope: Envelope, **values: object) -> None:
    # One assessment's events arrive in order (its factory's partition); the version guard keeps a
    # redelivered older event from undoing a newer one.
    question_id = getattr(event, "question_id")  # noqa: B009 (every remediation event has one)
    finding = sa.and_(plan_findings.c.assessment_id == event.assessment_id, plan_findings.c.question_id == question_id)
    await advanced(conn, plan_findings, finding, envelope, **values)


@projection.on(ae.FindingRemediated)
async def remediated(conn: AsyncConnection, event: ae.FindingRemediated, envelope: Envelope) -> None:
    await _remedy(conn, event, envelope, status=REMEDIATED, remediation_note=event.note, remediated_at=envelope.time)


@projection.on(ae.RemediationVerified)
async def verified(conn: AsyncConnection, event: ae.RemediationVerified, envelope: Envelope) -> None:
    await _remedy(conn, event, envelope, status=VERIFIED, verified_by=event.verified_by, verified_at=envelope.time)


@projection.on(ae.RemediationRejected)
async def rejected(conn: AsyncConnection, event: ae.RemediationRejected, envelope: Envelope) -> None:
    await _remedy(conn, event, envelope, status=REJECTED, rejection_reason=event.reason, rejected_at=envelope.time)


@projection.on(ae.ImprovementActionAdded)
async def action_added(conn: AsyncConnection, event: ae.ImprovementActionAdded, envelope: Envelope) -> None:
    values = {
        "assessment_id": event.assessment_id,
        "action_id": event.action_id,
        "question_id": event.question_id,
        "what": event.what,
        "who": event.who,
        "due_on": event.due_on,
        "done": False,
        "added_at": envelope.time,
    }
    await conn.execute(insert(improvement_actions).values(**values).on_conflict_do_nothing())


@projection.on(ae.ImprovementProgressReported)
async def progress_reported(conn: AsyncConnection, event: ae.ImprovementProgressReported, envelope: Envelope) -> None:
    values = {
        "assessment_id": event.assessment_id,
        "stream_version": envelope.streamversion,
        "action_id": event.action_id,
        "note": event.note,
        "done": event.done,
        "reported_at": envelope.time,
    }
    await conn.execute(insert(improvement_progress).values(**values).on_conflict_do_nothing())
    if event.done:  # done stays done (the service refuses progress on a done action)
        a = improvement_actions.c
        await conn.execute(
            improvement_actions.update()
            .where(a.assessment_id == event.assessment_id, a.action_id == event.action_id)
            .values(done=True)
        )


# --- queries ------------------------------------------------------------------------------------

f, a, p = plan_findings.c, improvement_actions.c, improvement_progress.c


def _shown(column: sa.ColumnElement[Any], visible: bool) -> sa.ColumnElement[Any]:
    return column if visible else sa.null().label(column.name)


def _finding_columns(scope: Scope) -> list[sa.ColumnElement[Any]]:
    details = scope.sees_plan_details
    return [
        f.assessment_id,
        f.question_id,
        f.factory_id,
        f.country,
        f.compliance_point_id,
        f.cluster_id,
        f.published_on,
        f.status,
        _shown(f.remediation_note, details),
        f.remediated_at,
        _shown(f.verified_by, scope.sees_staff_names),
        f.verified_at,
        _shown(f.rejection_reason, details),
        f.rejected_at,
    ]


def _action_columns(scope: Scope) -> list[sa.ColumnElement[Any]]:
    return [
        a.assessment_id,
        a.action_id,
        a.question_id,
        a.what,
        _shown(a.who, scope.sees_plan_details),
        a.due_on,
        a.done,
        a.added_at,
        f.factory_id,
        f.country,
        f.compliance_point_id,
        f.cluster_id,
        f.published_on,
        f.status,
    ]


def overdue(today: dt.date) -> sa.ColumnElement[bool]:
    """The assessment service's rule: not done, and today is past the due date."""
    return sa.and_(sa.not_(a.done), a.due_on < today)


def is_overdue(action: Any, today: dt.date) -> bool:
    """`overdue` of one action's row."""
    return not action.done and action.due_on < today


@dataclass(frozen=True)
class PlanFilter:
    """What portals narrow plans by; each None is no condition."""

    country: str | None = None
    cluster: str | None = None
    compliance_point: str | None = None
    statuses: tuple[str, ...] | None = None
    factory_id: str | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        found: list[sa.ColumnElement[bool]] = []
        for column, value in [
            (f.country, self.country),
            (f.cluster_id, self.cluster),
            (f.compliance_point_id, self.compliance_point),
            (f.factory_id, self.factory_id),
        ]:
            if value is not None:
                found.append(column == value)
        if self.statuses is not None:
            found.append(f.status.in_(self.statuses))
        return found


@dataclass(frozen=True)
class ActionFilter(PlanFilter):
    done: bool | None = None
    overdue: bool | None = None
    today: dt.date = dt.date.min  # always given by the caller (see graphql/improvement_plans.py)

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        found = super().conditions()
        if self.done is not None:
            found.append(a.done.is_(self.done))
        if self.overdue is not None:
            found.append(overdue(self.today) if self.overdue else sa.not_(overdue(self.today)))
        return found


NEWEST_FIRST = Order((f.published_on, f.assessment_id, f.question_id), descending=True)
SOONEST_DUE = Order((a.due_on, a.assessment_id, a.action_id))


def remediations(scope: Scope, where: PlanFilter) -> sa.Select[Any]:
    return sa.select(*_finding_columns(scope)).where(scope.factory(f.factory_id), *where.conditions())


def actions(scope: Scope, where: PlanFilter) -> sa.Select[Any]:
    of_finding = sa.and_(f.assessment_id == a.assessment_id, f.question_id == a.question_id)
    return (
        sa.select(*_action_columns(scope))
        .select_from(improvement_actions.join(plan_findings, of_finding))
        .where(scope.factory(f.factory_id), *where.conditions())
    )


@dataclass(frozen=True)
class PlanList:
    """One of the plan lists with its filters: a top-level page of it, or (called, as a DataLoader's
    batch through context.pages) the same page of it for each of many factories in one query.
    Hashable, so that a nested list with the same filters shares one DataLoader across factories."""

    where: PlanFilter

    def query(self, scope: Scope) -> sa.Select[Any]:
        raise NotImplementedError

    def order(self) -> Order:
        raise NotImplementedError

    async def page(self, engine: Reader, scope: Scope, request: PageRequest) -> Page:
        return await page(engine, self.query(scope), self.order(), request)

    async def __call__(
        self, engine: Reader, scope: Scope, factory_ids: Sequence[Hashable], request: PageRequest
    ) -> list[Page]:
        return await pages_per_parent(engine, self.query(scope), f.factory_id, factory_ids, self.order(), request)


@dataclass(frozen=True)
class Remediations(PlanList):
    """The remediation of published non-compliant findings, newest report first."""

    def query(self, scope: Scope) -> sa.Select[Any]:
        return remediations(scope, self.where)

    def order(self) -> Order:
        return NEWEST_FIRST


@dataclass(frozen=True)
class Actions(PlanList):
    """Improvement actions, soonest due first."""

    def query(self, scope: Scope) -> sa.Select[Any]:
        return actions(scope, self.where)

    def order(self) -> Order:
        return SOONEST_DUE


async def _grouped(engine: Reader, query: sa.Select[Any], key: Any, keys: Sequence[Any]) -> list[list[Any]]:
    async with engine.connect() as conn:
        rows = list(await conn.execute(query.where(sa.tuple_(*key).in_(list(keys)))))
    grouped: dict[Any, list[Any]] = {k: [] for k in keys}
    for row in rows:
        grouped[tuple(row._mapping[c.name] for c in key)].append(row)
    return [grouped[k] for k in keys]


async def actions_by_id(engine: Reader, scope: Scope, keys: Sequence[tuple[str, str]]) -> list[Any]:
    """A batch of (assessment id, action id): each action, or None if not there or not readable."""
    found = await _grouped(engine, actions(scope, PlanFilter()), (a.assessment_id, a.action_id), keys)
    return [rows[0] if rows else None for rows in found]


async def remediations_of_findings(engine: Reader, scope: Scope, keys: Sequence[tuple[str, str]]) -> list[Any]:
    """A batch of (assessment id, question id): each finding's remediation, or None (a finding that
    was not non-compliant in a published report has none; an unreadable one answers alike)."""
    found = await _grouped(engine, remediations(scope, PlanFilter()), (f.assessment_id, f.question_id), keys)
    return [rows[0] if rows else None for rows in found]


async def actions_of_findings(engine: Reader, scope: Scope, keys: Sequence[tuple[str, str]]) -> list[list[Any]]:
    """A batch of (assessment id, question id): each finding's actions, soonest due first."""
    query = actions(scope, PlanFilter()).order_by(*SOONEST_DUE.clauses())
    return await _grouped(engine, query, (a.assessment_id, a.question_id), keys)


async def progress_of_actions(engine: Reader, scope: Scope, keys: Sequence[tuple[str, str]]) -> list[list[Any]]:
    """A batch of (assessment id, action id): each action's progress reports, oldest first."""
    readable = sa.exists().where(
        a.assessment_id == p.assessment_id,
        a.action_id == p.action_id,
        f.assessment_id == a.assessment_id,
        f.question_id == a.question_id,
        scope.factory(f.factory_id),
    )
    query = (
        sa.select(p.assessment_id, p.action_id, _shown(p.note, scope.sees_plan_details), p.done, p.reported_at)
        .where(readable)
        .order_by(p.assessment_id, p.stream_version)
    )
    return await _grouped(engine, query, (p.assessment_id, p.action_id), keys)
