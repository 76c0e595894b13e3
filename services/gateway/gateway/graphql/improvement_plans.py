"""Improvement plans: the remediation of published findings and the factory's improvement actions.

Whose plans a caller reads is the policy's `scope.factory` (programme: all; a factory: its own; a
brand: its linked, consenting suppliers'; a government: none, FORBIDDEN). What of them: a brand
never reads the owner of an action, the notes of progress or remediation, or a rejection's reason
(`scope.sees_plan_details`), and only programme staff read who verified (`sees_staff_names`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import strawberry

from gateway.graphql.context import Context
from gateway.graphql.relay import AFTER, FIRST, Connection, Node, connection, global_id
from gateway.read_models import improvement_plans as plans
from gateway.read_models.pages import PageRequest

if TYPE_CHECKING:
    from gateway.graphql.factories import Factory

Info = strawberry.Info[Context, None]
T = TypeVar("T")
LazyFactory = Annotated["Factory", strawberry.lazy("gateway.graphql.factories")]

TODAY = strawberry.argument(
    description="The date `overdue` is reckoned against (default: today, UTC): an action is overdue when it is not "
    "done and today is past its due date"
)
STATUS = strawberry.argument(description="Only findings in these remediation statuses; open ones: [OPEN, REJECTED]")


def current_date(today: dt.date | None) -> dt.date:
    """The edge's default for `today`: the only place the gateway reads the clock for a plan."""
    return today if today is not None else dt.datetime.now(dt.UTC).date()


@strawberry.enum(description="Where the remedy of a non-compliant finding stands")
class RemediationStatus(Enum):
    OPEN = plans.OPEN
    REMEDIATED = plans.REMEDIATED
    VERIFIED = plans.VERIFIED
    REJECTED = plans.REJECTED


def _statuses(status: list[RemediationStatus] | None) -> tuple[str, ...] | None:
    return tuple(s.value for s in status) if status is not None else None


@strawberry.type(description="What the factory reported of an improvement action")
class ProgressReport:
    reported_at: dt.datetime
    done: bool
    note: str | None = strawberry.field(description="Null for brands: free text that can name people")


async def _factory(info: Info, factory_id: str) -> Factory | None:
    from gateway.graphql.factories import factory

    return await factory(info, factory_id)


@strawberry.type(description="A step the factory plans to remedy a non-compliant finding of a published report")
class ImprovementAction(Node):
    action_id: strawberry.ID
    assessment_id: strawberry.ID
    factory_id: strawberry.ID
    country: str
    question_id: str
    compliance_point_id: str
    cluster_id: str
    what: str
    who: str | None = strawberry.field(description="Who at the factory owns it; null for brands")
    due_on: dt.date
    done: bool
    overdue: bool = strawberry.field(description="Not done and past its due date, as of the query's `today`")
    added_at: dt.datetime
    remediation_status: RemediationStatus = strawberry.field(description="Where the remedy of its finding stands")

    @strawberry.field(description="The progress the factory reported, oldest first")
    async def progress(self, info: Info) -> list[ProgressReport]:
        rows = await info.context.loader(plans.progress_of_actions).load((self.assessment_id, self.action_id))
        return [ProgressReport(reported_at=r.reported_at, done=r.done, note=r.note) for r in rows]

    @strawberry.field(description="The factory whose plan it is")
    async def factory(self, info: Info) -> LazyFactory | None:
        return await _factory(info, self.factory_id)

    @classmethod
    def of(cls, row: Any, today: dt.date) -> ImprovementAction:
        return cls(
            id=global_id("ImprovementAction", f"{row.assessment_id}/{row.action_id}"),
            action_id=strawberry.ID(row.action_id),
            assessment_id=strawberry.ID(row.assessment_id),
            factory_id=strawberry.ID(row.factory_id),
            country=row.country,
            question_id=row.question_id,
            compliance_point_id=row.compliance_point_id,
            cluster_id=row.cluster_id,
            what=row.what,
            who=row.who,
            due_on=row.due_on,
            done=row.done,
            overdue=plans.is_overdue(row, today),
            added_at=row.added_at,
            remediation_status=RemediationStatus(row.status),
        )


@strawberry.type(description="The remedy of one non-compliant finding of a published report")
class Remediation:
    assessment_id: strawberry.ID
    question_id: str
    factory_id: strawberry.ID
    country: str
    compliance_point_id: str
    cluster_id: str
    published_on: dt.date = strawberry.field(description="When the report that found it was published")
    status: RemediationStatus
    remediated_at: dt.datetime | None = strawberry.field(description="When the factory last said it is put right")
    remediation_note: str | None = strawberry.field(description="The factory's word on it; null for brands")
    verified_at: dt.datetime | None
    verified_by: str | None = strawberry.field(description="The staff member who verified it; programme staff only")
    rejected_at: dt.datetime | None
    rejection_reason: str | None = strawberry.field(description="Why the remedy was found wanting; null for brands")
    _today: strawberry.Private[dt.date]

    @strawberry.field(description="The improvement actions planned for it, soonest due first")
    async def improvement_actions(self, info: Info) -> list[ImprovementAction]:
        rows = await info.context.loader(plans.actions_of_findings).load((self.assessment_id, self.question_id))
        return [ImprovementAction.of(r, self._today) for r in rows]

    @strawberry.field(description="The factory whose finding it is")
    async def factory(self, info: Info) -> LazyFactory | None:
        return await _factory(info, self.factory_id)

    @classmethod
    def of(cls, row: Any, today: dt.date) -> Remediation:
        return cls(
            assessment_id=strawberry.ID(row.assessment_id),
            question_id=row.question_id,
            factory_id=strawberry.ID(row.factory_id),
            country=row.country,
            compliance_point_id=row.compliance_point_id,
            cluster_id=row.cluster_id,
            published_on=row.published_on,
            status=RemediationStatus(row.status),
            remediated_at=row.remediated_at,
            remediation_note=row.remediation_note,
            verified_at=row.verified_at,
            verified_by=row.verified_by,
            rejected_at=row.rejected_at,
            rejection_reason=row.rejection_reason,
            _today=today,
        )


async def improvement_action(info: Info, record_id: str) -> ImprovementAction | None:
    """By the record id of its global id; None whether it does not exist or is out of reach."""
    assessment_id, _, action_id = record_id.partition("/")
    row = await info.context.loader(plans.actions_by_id).load((assessment_id, action_id))
    return ImprovementAction.of(row, current_date(None)) if row is not None else None


# --- a factory's plans (Factory.improvementActions and Factory.remediations) ---------------------


async def _listed(
    info: Info,
    listing: plans.PlanList,
    convert: Callable[[Any], T],
    first: int | None,
    after: str | None,
    factory_id: str | None = None,
) -> Connection[T]:
    """A page of a plan list: at the top, or of one factory through a DataLoader (one query a level)."""
    request = PageRequest.of(first, after)
    if factory_id is None:
        page = await listing.page(info.context.reads, info.context.scope, request)
    else:
        page = await info.context.pages(listing).load((factory_id, request))
    return connection(page, convert)


def _actions(today: dt.date) -> Callable[[Any], ImprovementAction]:
    return lambda row: ImprovementAction.of(row, today)


def _remediations(today: dt.date) -> Callable[[Any], Remediation]:
    return lambda row: Remediation.of(row, today)


async def actions_of_factory(
    root: Any,
    info: Info,
    status: Annotated[list[RemediationStatus] | None, STATUS] = None,
    done: bool | None = None,
    overdue: bool | None = None,
    today: Annotated[dt.date | None, TODAY] = None,
    first: Annotated[int | None, FIRST] = None,
    after: Annotated[str | None, AFTER] = None,
) -> Connection[ImprovementAction]:
    on = current_date(today)
    where = plans.ActionFilter(statuses=_statuses(status), done=done, overdue=overdue, today=on)
    return await _listed(info, plans.Actions(where), _actions(on), first, after, root.factory_id)


async def remediations_of_factory(
    root: Any,
    info: Info,
    status: Annotated[list[RemediationStatus] | None, STATUS] = None,
    today: Annotated[dt.date | None, TODAY] = None,
    first: Annotated[int | None, FIRST] = None,
    after: Annotated[str | None, AFTER] = None,
) -> Connection[Remediation]:
    where = plans.PlanFilter(statuses=_statuses(status))
    return await _listed(
        info, plans.Remediations(where), _remediations(current_date(today)), first, after, root.factory_id
    )


@strawberry.type
class Query:
    @strawberry.field(description="Improvement actions of the plans you may read, soonest due first")
    async def improvement_actions(
        self,
        info: Info,
        factory_id: strawberry.ID | None = None,
        country: str | None = None,
        cluster: str | None = None,
        compliance_point: str | None = None,
        status: Annotated[list[RemediationStatus] | None, STATUS] = None,
        done: bool | None = None,
        overdue: bool | None = None,
        today: Annotated[dt.date | None, TODAY] = None,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[ImprovementAction]:
        on = current_date(today)
        where = plans.ActionFilter(
            country, cluster, compliance_point, _statuses(status), factory_id, done=done, overdue=overdue, today=on
        )
        return await _listed(info, plans.Actions(where), _actions(on), first, after)

    @strawberry.field(description="The remediation of the published non-compliant findings you may read, newest first")
    async def remediations(
        self,
        info: Info,
        factory_id: strawberry.ID | None = None,
        country: str | None = None,
        cluster: str | None = None,
        compliance_point: str | None = None,
        status: Annotated[list[RemediationStatus] | None, STATUS] = None,
        today: Annotated[dt.date | None, TODAY] = None,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[Remediation]:
        where = plans.PlanFilter(country, cluster, compliance_point, _statuses(status), factory_id)
        return await _listed(info, plans.Remediations(where), _remediations(current_date(today)), first, after)
