"""Advisory services: each factory's plans, visits and commitments, and the country statistics.

Who may read what is `Scope.advisory` and `Scope.sees_advisory_details` (policy.py):
- programme staff every plan in full, a factory its own in full, as the committee service shows
  them (participants counted, never named);
- a brand, of a linked supplier that consents, only that it is in advisory: the plan's cycle and
  period and its priorities by cluster (`priorityClusters`). Every other field of the plan is
  null for it. One `AdvisoryPlan` type with nullable details rather than a narrower type for
  brands: `Factory.advisoryPlans` and `node(id:)` stay one field each, and the nulls are the same
  pattern as the improvement plans' `sees_plan_details`;
- another factory, an unlinked or non-consenting brand: nothing, exactly as for a missing plan;
- a government: `advisoryStatistics` of its own country only (FORBIDDEN otherwise), with cells
  of fewer than 5 factories withheld (`policy.withheld`).
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated, Any

import strawberry
from betterwork_events.contracts import advisory as ve

from gateway import policy
from gateway.graphql.committees import TODAY, Sex, Side, on
from gateway.graphql.context import Context
from gateway.graphql.relay import AFTER, FIRST, Connection, Node, connection, global_id
from gateway.read_models import advisory as model
from gateway.read_models import pages
from gateway.read_models.pages import PageRequest

Info = strawberry.Info[Context, None]


@strawberry.enum(description="Where an advisory visit stands")
class AdvisoryVisitStatus(Enum):
    PLANNED = "planned"
    HELD = "held"
    CANCELLED = "cancelled"
    MISSED = "missed"


@strawberry.enum(description="Where a commitment stands: LATE ones are still open, DONE and DROPPED are closed")
class CommitmentStatus(Enum):
    OPEN = "open"
    LATE = "late"
    DONE = "done"
    DROPPED = "dropped"


@strawberry.type(description="What an advisor works on with a factory, within one cluster of the assessment tool")
class AdvisoryTopic:
    topic: str = strawberry.field(description="e.g. osh.fire-and-emergency-preparedness")
    cluster_id: str = strawberry.field(description="The cluster of the assessment tool, e.g. osh")
    name: str

    @classmethod
    def of(cls, topic: str) -> AdvisoryTopic:
        known = ve.AdvisoryTopic(topic)
        return cls(topic=topic, cluster_id=ve.cluster_of(known).value, name=ve.TOPIC_NAMES[known])


@strawberry.type(description="What the advisor and the factory agreed to work on in the cycle")
class AdvisoryPriority:
    priority_id: str
    topic: AdvisoryTopic
    description: str
    links: list[str] = strawberry.field(
        description="The findings (finding:<id>) or committee action items (action-item:<committee>/<item>) it answers"
    )


@strawberry.type(description="How many of a plan's priorities fall in one cluster of the assessment tool")
class AdvisoryClusterPriorities:
    cluster_id: str
    priorities: int


@strawberry.type(description="Committee members who took part in a visit, of one side and sex")
class CommitteeParticipants:
    side: Side
    sex: Sex
    count: int


@strawberry.type(description="Who took part in a visit besides the advisor, counted: names are personal data")
class VisitParticipation:
    management: int
    union_representatives: int
    committee_members: list[CommitteeParticipants]


@strawberry.type(description="A topic worked on at a visit")
class TopicWorked:
    topic: AdvisoryTopic
    priority_id: str | None = strawberry.field(description="The plan's priority it served, if any")
    note: str | None


@strawberry.type(description="The factory's word on a visit's record")
class FactoryResponse:
    on: dt.date
    comment: str | None


@strawberry.type(description="An advisory visit, planned, held, cancelled or missed")
class AdvisoryVisit:
    visit_id: str = strawberry.field(description="e.g. V-3")
    status: AdvisoryVisitStatus
    planned_on: dt.date = strawberry.field(description="The day it was agreed with the factory")
    planned_for: dt.date
    remote: bool = strawberry.field(description="As held, once held; as planned until then")
    planned_topics: list[AdvisoryTopic]
    held_on: dt.date | None
    advisor: str | None = strawberry.field(description="Who held it")
    participation: VisitParticipation | None = strawberry.field(description="Once held")
    topics_worked: list[TopicWorked]
    notes: str | None = strawberry.field(description="The advisor's record of a visit held")
    called_off_on: dt.date | None = strawberry.field(description="The day a cancelled or missed visit was called off")
    called_off_reason: str | None
    confirmation: FactoryResponse | None = strawberry.field(description="The factory's confirmation of the record")
    comments: list[FactoryResponse] = strawberry.field(description="The factory's comments on the record, oldest first")

    @classmethod
    def of(cls, row: Any) -> AdvisoryVisit:
        held = row.held_on is not None
        participation = (
            VisitParticipation(
                management=row.management_participants,
                union_representatives=row.union_participants,
                committee_members=[
                    CommitteeParticipants(side=Side(c["side"]), sex=Sex(c["sex"]), count=c["count"])
                    for c in row.committee_participants
                ],
            )
            if held
            else None
        )
        return cls(
            visit_id=row.visit_id,
            status=AdvisoryVisitStatus(row.status),
            planned_on=row.planned_on,
            planned_for=row.planned_for,
            remote=row.remote,
            planned_topics=[AdvisoryTopic.of(t) for t in row.planned_topics],
            held_on=row.held_on,
            advisor=row.advisor,
            participation=participation,
            topics_worked=[
                TopicWorked(topic=AdvisoryTopic.of(t["topic"]), priority_id=t.get("priority_id"), note=t.get("note"))
                for t in row.topics_worked
            ],
            notes=row.notes,
            called_off_on=row.called_off_on,
            called_off_reason=row.called_off_reason,
            confirmation=FactoryResponse(on=row.confirmed_on, comment=row.confirmation_comment)
            if row.confirmed_on
            else None,
            comments=[FactoryResponse(on=dt.date.fromisoformat(c["on"]), comment=c["comment"]) for c in row.comments],
        )


@strawberry.type(description="An earlier commitment as the advisor found it at a later visit")
class CommitmentFollowUp:
    visit_id: str
    status: CommitmentStatus
    note: str | None
    due_on: dt.date | None = strawberry.field(description="A late commitment's new due date, if one was agreed")


@strawberry.type(description="What the factory committed to at a visit, and how it was followed up")
class AdvisoryCommitment:
    commitment_id: str = strawberry.field(description="e.g. CM-4")
    visit_id: str = strawberry.field(description="The visit at which the factory made it")
    description: str
    topic: AdvisoryTopic
    priority_id: str | None
    due_on: dt.date = strawberry.field(description="Its due date now (a late commitment may have a new one)")
    status: CommitmentStatus
    overdue: bool = strawberry.field(description="Not closed, and due before the day asked for")
    follow_ups: list[CommitmentFollowUp]

    @classmethod
    def of(cls, row: Any) -> AdvisoryCommitment:
        return cls(
            commitment_id=row.commitment_id,
            visit_id=row.visit_id,
            description=row.description,
            topic=AdvisoryTopic.of(row.topic),
            priority_id=row.priority_id,
            due_on=row.due_on,
            status=CommitmentStatus(row.status),
            overdue=row.overdue,
            follow_ups=[
                CommitmentFollowUp(
                    visit_id=f["visit_id"],
                    status=CommitmentStatus(f["status"]),
                    note=f["note"],
                    due_on=dt.date.fromisoformat(f["due_on"]) if f["due_on"] else None,
                )
                for f in row.follow_ups
            ],
        )


DETAILS = " (programme staff and the factory itself; null for brands)"


@strawberry.type(
    description="A factory's advisory plan for one cycle. A brand reads only its cycle, period and priorities by "
    "cluster; every other field is null for it"
)
class AdvisoryPlan(Node):
    plan_id: strawberry.ID = strawberry.field(description="The factory's id and the cycle, e.g. KH-2026-0042-5-AP1")
    factory_id: str
    country: str
    cycle: int
    starts_on: dt.date
    ends_on: dt.date = strawberry.field(description="The last day of the cycle")
    service_package: str | None = strawberry.field(description="The package of the factory's enrollment" + DETAILS)
    visits_included: int | None = strawberry.field(description="The visits the package includes" + DETAILS)
    visits_promised: int | None = strawberry.field(description="The visits the plan promises" + DETAILS)
    advisor: str | None = strawberry.field(description="The enterprise advisor assigned" + DETAILS)
    _details: strawberry.Private[bool]

    @strawberry.field(description="Its priorities counted by cluster of the assessment tool, by cluster id")
    async def priority_clusters(self, info: Info) -> list[AdvisoryClusterPriorities]:
        rows = await info.context.loader(model.priority_clusters_of).load(self.plan_id)
        return [AdvisoryClusterPriorities(cluster_id=r.cluster, priorities=r.priorities) for r in rows]

    @strawberry.field(description="Its priorities, in the order agreed" + DETAILS)
    async def priorities(self, info: Info) -> list[AdvisoryPriority] | None:
        if not self._details:
            return None
        rows = await info.context.loader(model.priorities_of).load(self.plan_id)
        return [
            AdvisoryPriority(
                priority_id=r.priority_id, topic=AdvisoryTopic.of(r.topic), description=r.description, links=r.links
            )
            for r in rows
        ]

    @strawberry.field(description="Its visits, in the order planned" + DETAILS)
    async def visits(
        self, info: Info, first: Annotated[int | None, FIRST] = None, after: Annotated[str | None, AFTER] = None
    ) -> Connection[AdvisoryVisit] | None:
        if not self._details:
            return None
        page = await info.context.pages(model.visits_of_plans).load((self.plan_id, PageRequest.of(first, after)))
        return connection(page, AdvisoryVisit.of)

    @strawberry.field(description="What the factory committed to, by due date" + DETAILS)
    async def commitments(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        status: CommitmentStatus | None = None,
        overdue: Annotated[
            bool | None, strawberry.argument(description="Only those overdue (or not) on `today`")
        ] = None,
        today: Annotated[dt.date | None, TODAY] = None,
    ) -> Connection[AdvisoryCommitment] | None:
        if not self._details:
            return None
        fetch = model.commitments_where(status.value if status else None, overdue, on(today))
        page = await info.context.pages(fetch).load((self.plan_id, PageRequest.of(first, after)))
        return connection(page, AdvisoryCommitment.of)

    @classmethod
    def of(cls, scope: policy.Scope, row: Any) -> AdvisoryPlan:
        details = scope.sees_advisory_details
        return cls(
            id=global_id("AdvisoryPlan", row.id),
            plan_id=strawberry.ID(row.id),
            factory_id=row.factory_id,
            country=row.country,
            cycle=row.cycle,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            service_package=row.service_package if details else None,
            visits_included=row.visits_included if details else None,
            visits_promised=row.visits_promised if details else None,
            advisor=row.advisor if details else None,
            _details=details,
        )


def _plan(info: Info) -> Any:
    scope = info.context.scope
    return lambda row: AdvisoryPlan.of(scope, row)


async def advisory_plan(info: Info, plan_id: str) -> AdvisoryPlan | None:
    """None whether it does not exist or is out of reach; governments are refused."""
    row = await info.context.loader(model.plans_by_id).load(plan_id)
    return AdvisoryPlan.of(info.context.scope, row) if row is not None else None


async def of_factory(info: Info, factory_id: str, first: int | None, after: str | None) -> Connection[AdvisoryPlan]:
    page = await info.context.pages(model.plans_of_factories).load((factory_id, PageRequest.of(first, after)))
    return connection(page, _plan(info))


@strawberry.type(
    description="A country's advisory services in numbers; all withheld when fewer than 5 factories are advised"
)
class AdvisoryStatistics:
    country: str
    suppressed: bool = strawberry.field(description="True when the figures are withheld because the cell is small")
    factories_in_advisory: int | None = strawberry.field(default=None, description="Factories with an advisory plan")
    plans: int | None = None
    visits_held: int | None = None
    visits_planned: int | None = strawberry.field(
        default=None, description="Planned and not yet held, cancelled or missed"
    )
    visits_missed: int | None = None
    commitments_done: int | None = None
    commitments_late: int | None = strawberry.field(
        default=None, description="Found late at their last follow-up, still open"
    )
    commitments_dropped: int | None = None


@strawberry.type
class Query:
    @strawberry.field(
        description="The advisory plans you may read, newest cycle first; a brand reads only its consenting "
        "suppliers' cycles and priorities by cluster"
    )
    async def advisory_plans(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        country: str | None = None,
        factory_id: str | None = None,
    ) -> Connection[AdvisoryPlan]:
        query = model.readable(info.context.scope)
        if country is not None:
            query = query.where(model.plans.c.country == country)
        if factory_id is not None:
            query = query.where(model.plans.c.factory_id == factory_id)
        page = await pages.page(info.context.reads, query, model.NEWEST_FIRST, PageRequest.of(first, after))
        return connection(page, _plan(info))

    @strawberry.field(description="A country's advisory services in aggregate: programme staff and its government")
    async def advisory_statistics(self, info: Info, country: str) -> AdvisoryStatistics:
        info.context.scope.country_aggregates(country)
        totals, visits, commitments = await model.country_statistics(info.context.reads, country)
        if policy.withheld(totals.factories):
            return AdvisoryStatistics(country=country, suppressed=True)
        return AdvisoryStatistics(
            country=country,
            factories_in_advisory=totals.factories,
            plans=totals.plans,
            visits_held=visits.get(model.HELD, 0),
            visits_planned=visits.get(model.PLANNED, 0),
            visits_missed=visits.get(model.MISSED, 0),
            commitments_done=commitments.get(ve.FollowUpStatus.DONE.value, 0),
            commitments_late=commitments.get(ve.FollowUpStatus.LATE.value, 0),
            commitments_dropped=commitments.get(ve.FollowUpStatus.DROPPED.value, 0),
            suppressed=False,
        )
