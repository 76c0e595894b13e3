"""REST commands of advisory services. Routes validate, authorize, call a handler: no more.

Who may do what is decided in `policy`: programme staff run the plans and visits; a factory's own
users read theirs and confirm or comment on a visit's record; brands and governments are refused
before anything is looked up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable

from betterwork_events.auth import CurrentPrincipal, TokenFirstRoute
from betterwork_events.commands import CommandRequest, Outcome
from betterwork_events.contracts.advisory import (
    MOST_VISITS,
    TOPIC_NAMES,
    AdvisoryPriority,
    AdvisoryPriorityAgreed,
    AdvisoryTopic,
    AdvisoryVisitPlanned,
    Approval,
    Attendee,
    Cluster,
    CommitmentId,
    FollowUpStatus,
    Notes,
    Participants,
    PriorityId,
    PriorityLink,
    Text,
    TopicWorked,
    UnionPresence,
    VisitId,
    cluster_of,
)
from betterwork_events.contracts.committee import MemberId, Name, Sex, Side
from betterwork_events.contracts.factory_registry import ServicePackage
from betterwork_events.errors import NotFound
from betterwork_events.history import Change
from betterwork_events.web import Command, IncomingCommand, Problem
from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field, field_validator

from committee import policy
from committee.advisory import (
    AdvisoryPlan,
    Commitment,
    CommitmentStatus,
    FactoryResponse,
    FollowUp,
    NewCommitment,
    NewPriority,
    Visit,
    VisitRecord,
    VisitStatus,
)
from committee.api import FactoryId, Reason, after, etag
from committee.directory import Entry
from committee.handlers import AdvisoryDecision, Service
from committee.policy import AdvisedPlan, AnsweredPlan, Committees, ReadableFactory, ReadablePlan, SignedOffPlan

router = APIRouter(
    route_class=TokenFirstRoute,
    tags=["advisory"],
    responses={
        403: {
            "model": Problem,
            "description": "Country managers sign off plans, assessors run the visits; a factory's own users "
            "read theirs and confirm or comment on a visit's record; a country team works in its own country only",
        },
        404: {"model": Problem, "description": "No such factory, plan or visit (or not yours to see)"},
        409: {
            "model": Problem,
            "description": "An impossible step (e.g. more visits than the plan promises, a visit held before it "
            "was planned), or the plan changed since the If-Match version",
        },
    },
)


class PriorityRequest(Command):
    topic: AdvisoryTopic
    description: Text
    links: list[PriorityLink] = Field(
        min_length=1, max_length=20, description="The findings or committee action items the priority answers"
    )

    def new(self) -> NewPriority:
        return NewPriority(self.topic, self.description, tuple(self.links))


class PlanRequest(Command):
    factory_id: FactoryId
    starts_on: dt.date = Field(description="The first day of the cycle")
    ends_on: dt.date = Field(description="The last day of the cycle")
    advisor: Name = Field(description="The enterprise advisor assigned", examples=["Pich Sopheap"])
    visits: int = Field(ge=1, le=MOST_VISITS, description="The advisory visits the plan promises")
    priorities: list[PriorityRequest] = Field(default=[], max_length=50)
    extra_visits_approval: Approval | None = Field(
        default=None, description="Needed to promise more visits than the factory's service package includes"
    )

    _ends_after_start = field_validator("ends_on")(after("starts_on"))


class AdvisorRequest(Command):
    advisor: Name
    assigned_on: dt.date
    reason: Reason


class VisitsRequest(Command):
    visits: int = Field(ge=1, le=MOST_VISITS)
    reason: Reason
    extra_visits_approval: Approval | None = None


class VisitPlanRequest(Command):
    planned_for: dt.date = Field(description="The day the visit is to take place")
    planned_on: dt.date | None = Field(
        default=None, description="The day it was agreed with the factory; today if left out"
    )
    remote: bool = False
    topics: list[AdvisoryTopic] = Field(default=[], max_length=20, description="What it is to work on")


class CommitmentRequest(Command):
    description: Text
    topic: AdvisoryTopic
    due_on: dt.date
    priority_id: PriorityId | None = None

    def new(self) -> NewCommitment:
        return NewCommitment(self.description, self.topic, self.due_on, self.priority_id)


class FollowUpRequest(Command):
    commitment_id: CommitmentId
    status: FollowUpStatus
    note: str | None = Field(default=None, max_length=2000, description="Required to close (done, dropped)")
    due_on: dt.date | None = Field(default=None, description="A late commitment's new due date")

    def follow_up(self) -> FollowUp:
        return FollowUp(self.commitment_id, self.status, self.note, self.due_on)


class VisitRecordRequest(Command):
    held_on: dt.date
    remote: bool = False
    advisor: Name | None = Field(default=None, description="Who held the visit, if not the plan's advisor")
    management: list[Attendee] = Field(default=[], max_length=100)
    committee_members: list[MemberId] = Field(
        default=[], max_length=100, description="Members of the factory's committee on the day who took part"
    )
    union: UnionPresence | None = None
    topics: list[TopicWorked] = Field(min_length=1, max_length=20)
    notes: Notes
    commitments: list[CommitmentRequest] = Field(default=[], max_length=50, description="What the factory committed to")
    follow_ups: list[FollowUpRequest] = Field(default=[], max_length=100, description="Earlier commitments followed up")

    def record(self) -> VisitRecord:
        return VisitRecord(
            held_on=self.held_on,
            remote=self.remote,
            topics=self.topics,
            notes=self.notes,
            advisor=self.advisor,
            management=self.management,
            committee_members=self.committee_members,
            union=self.union,
            commitments=[c.new() for c in self.commitments],
            follow_ups=[f.follow_up() for f in self.follow_ups],
        )


class CancellationRequest(Command):
    cancelled_on: dt.date
    reason: Reason


class MissedVisitRequest(Command):
    missed_on: dt.date
    reason: Reason


class ConfirmationRequest(Command):
    comment: str | None = Field(default=None, max_length=2000)


class CommentRequest(Command):
    comment: Text


# --- views ------------------------------------------------------------------------------------


class TopicView(BaseModel):
    topic: AdvisoryTopic
    cluster: Cluster
    name: str

    @classmethod
    def of(cls, topic: AdvisoryTopic) -> TopicView:
        return cls(topic=topic, cluster=cluster_of(topic), name=TOPIC_NAMES[topic])


class PriorityView(BaseModel):
    priority_id: PriorityId
    topic: AdvisoryTopic
    cluster: Cluster
    description: str
    links: list[str]

    @classmethod
    def of(cls, p: AdvisoryPriority) -> PriorityView:
        return cls(
            priority_id=p.priority_id,
            topic=p.topic,
            cluster=cluster_of(p.topic),
            description=p.description,
            links=list(p.links),
        )


class FollowUpView(BaseModel):
    visit_id: VisitId
    status: FollowUpStatus
    note: str | None
    due_on: dt.date | None


class CommitmentView(BaseModel):
    commitment_id: CommitmentId
    visit_id: VisitId = Field(description="The visit at which the factory made it")
    description: str
    topic: AdvisoryTopic
    priority_id: PriorityId | None
    due_on: dt.date = Field(description="Its due date now (a late commitment may have a new one)")
    status: CommitmentStatus
    follow_ups: list[FollowUpView]

    @classmethod
    def of(cls, c: Commitment) -> CommitmentView:
        return cls(
            commitment_id=c.commitment_id,
            visit_id=c.visit_id,
            description=c.description,
            topic=c.topic,
            priority_id=c.priority_id,
            due_on=c.due_on,
            status=c.status,
            follow_ups=[
                FollowUpView(visit_id=f.visit_id, status=f.status, note=f.note, due_on=f.due_on) for f in c.follow_ups
            ],
        )


class ResponseView(BaseModel):
    on: dt.date
    comment: str | None


class Participation(BaseModel):
    """How many took part, committee members by side and sex."""

    management: int
    committee: dict[Side, dict[Sex, int]]
    union: int

    @classmethod
    def of(cls, p: Participants) -> Participation:
        committee = {side: dict.fromkeys(Sex, 0) for side in Side}
        for member in p.committee_members:
            committee[member.side][member.sex] += 1
        return cls(
            management=len(p.management), committee=committee, union=len(p.union.representatives) if p.union else 0
        )


class VisitView(BaseModel):
    visit_id: VisitId
    status: VisitStatus
    planned_on: dt.date
    planned_for: dt.date
    remote: bool = Field(description="As held, once held; as planned until then")
    planned_topics: list[AdvisoryTopic]
    held_on: dt.date | None
    advisor: str | None
    participants: Participants | None
    participation: Participation | None
    topics: list[TopicWorked] = Field(description="What was worked on")
    notes: str | None
    commitments_made: list[CommitmentId]
    follow_ups: list[CommitmentId] = Field(description="The earlier commitments followed up at the visit")
    called_off_on: dt.date | None = Field(description="The day a cancelled or missed visit was called off")
    called_off_reason: str | None
    confirmation: ResponseView | None = Field(description="The factory's confirmation of the record")
    comments: list[ResponseView] = Field(description="The factory's comments on the record")

    @classmethod
    def of(cls, plan: AdvisoryPlan, visit: Visit) -> VisitView:
        held = visit.record
        return cls(
            visit_id=visit.visit_id,
            status=visit.status,
            planned_on=visit.planned_on,
            planned_for=visit.planned_for,
            remote=held.remote if held else visit.remote,
            planned_topics=list(visit.planned_topics),
            held_on=held.held_on if held else None,
            advisor=held.advisor if held else None,
            participants=held.participants if held else None,
            participation=Participation.of(held.participants) if held else None,
            topics=list(held.topics) if held else [],
            notes=held.notes if held else None,
            commitments_made=[c.commitment_id for c in plan.commitments.values() if c.visit_id == visit.visit_id],
            follow_ups=[
                c.commitment_id
                for c in plan.commitments.values()
                if any(f.visit_id == visit.visit_id for f in c.follow_ups)
            ],
            called_off_on=visit.called_off_on,
            called_off_reason=visit.called_off_reason,
            confirmation=_response(visit.confirmation),
            comments=[ResponseView(on=c.on, comment=c.comment) for c in visit.comments],
        )


def _response(answer: FactoryResponse | None) -> ResponseView | None:
    return ResponseView(on=answer.on, comment=answer.comment) if answer else None


class PlanView(BaseModel):
    id: str
    factory_id: str
    country: str
    cycle: int
    starts_on: dt.date
    ends_on: dt.date
    service_package: ServicePackage
    visits_included: int = Field(description="The advisory visits the factory's service package includes")
    visits_promised: int
    extra_visits_approval: Approval | None
    advisor: str
    priorities: list[PriorityView]
    visits: list[VisitView]
    commitments: list[CommitmentView]
    version: int

    @classmethod
    def of(cls, plan: AdvisoryPlan) -> PlanView:
        assert plan.starts_on is not None and plan.ends_on is not None and plan.service_package is not None
        return cls(
            id=plan.id,
            factory_id=plan.factory_id,
            country=plan.country,
            cycle=plan.cycle,
            starts_on=plan.starts_on,
            ends_on=plan.ends_on,
            service_package=plan.service_package,
            visits_included=plan.visits_included,
            visits_promised=plan.visits_promised,
            extra_visits_approval=plan.extra_visits_approval,
            advisor=plan.advisor,
            priorities=[PriorityView.of(p) for p in plan.priorities.values()],
            visits=[VisitView.of(plan, v) for v in plan.visits.values()],
            commitments=[CommitmentView.of(c) for c in plan.commitments.values()],
            version=plan.version,
        )


# --- answers ---------------------------------------------------------------------------------


def plan_response(plan: AdvisoryPlan, response: Response) -> PlanView:
    etag(plan.version, response)
    return PlanView.of(plan)


def visit_response(plan: AdvisoryPlan, visit_id: str, response: Response) -> VisitView:
    visit = plan.visits.get(visit_id)
    if visit is None:
        raise NotFound(f"advisory plan {plan.id} has no visit {visit_id}")
    etag(plan.version, response)
    return VisitView.of(plan, visit)


def change(
    committees: Service, command: CommandRequest, plan: Entry, body: object, decide: AdvisoryDecision
) -> Awaitable[Outcome[AdvisoryPlan]]:
    return committees.change_plan(command.asking(body), plan.id, plan.factory_id, decide)


# --- the catalogue ----------------------------------------------------------------------------


@router.get("/advisory-topics", response_model=list[TopicView])
async def topics(principal: CurrentPrincipal) -> list[TopicView]:
    """What advisors work on with factories, each within a cluster of the assessment tool."""
    return [TopicView.of(topic) for topic in AdvisoryTopic]


# --- plans ------------------------------------------------------------------------------------


@router.post("/advisory-plans", status_code=status.HTTP_201_CREATED, response_model=PlanView)
async def agree_plan(
    body: PlanRequest, principal: CurrentPrincipal, committees: Committees, command: IncomingCommand, response: Response
) -> PlanView:
    """Record the advisory plan agreed with the factory for its next cycle.

    The factory must be enrolled; the plan takes its service package from the registry's
    enrollment. Promising more visits than the package includes needs `extra_visits_approval`.
    Its id is the factory's id and the cycle, e.g. `KH-2026-0042-5-AP1`."""
    factory_id = await policy.may_work_with(policy.SIGN_OFF, principal, committees, body.factory_id)
    outcome = await committees.agree_plan(
        command.asking(body),
        factory_id,
        body.starts_on,
        body.ends_on,
        body.advisor,
        body.visits,
        [p.new() for p in body.priorities],
        body.extra_visits_approval,
    )
    response.headers["Location"] = f"/advisory-plans/{outcome.aggregate.id}"
    return plan_response(outcome.aggregate, response)


@router.get("/advisory-plans/{plan_id}", response_model=PlanView)
async def get_plan(plan: ReadablePlan, committees: Committees, response: Response) -> PlanView:
    """The plan as it is now: priorities, visits and commitments."""
    return plan_response(await committees.plans.get(plan.id), response)


@router.get("/advisory-plans/{plan_id}/history", response_model=list[Change])
async def plan_history(plan: ReadablePlan, committees: Committees) -> list[Change]:
    """Every change to the plan, oldest first, with who made it and when."""
    return await committees.history(committees.plans, plan.id)


@router.get("/factories/{factory_id}/advisory-plans", response_model=list[PlanView])
async def factory_plans(factory_id: ReadableFactory, committees: Committees) -> list[PlanView]:
    """Every advisory plan the factory has had, one a cycle, oldest first."""
    return [PlanView.of(plan) for plan in await committees.plans_of(factory_id)]


@router.put("/advisory-plans/{plan_id}/advisor", response_model=PlanView)
async def assign_advisor(
    plan: SignedOffPlan, body: AdvisorRequest, committees: Committees, command: IncomingCommand, response: Response
) -> PlanView:
    """Hand the plan over to another enterprise advisor."""
    outcome = await change(
        committees,
        command,
        plan,
        body,
        lambda p, now: p.assign_advisor(body.advisor, body.assigned_on, body.reason, now.today),
    )
    return plan_response(outcome.aggregate, response)


@router.post("/advisory-plans/{plan_id}/priorities", status_code=status.HTTP_201_CREATED, response_model=PriorityView)
async def agree_priority(
    plan: AdvisedPlan, body: PriorityRequest, committees: Committees, command: IncomingCommand, response: Response
) -> PriorityView:
    """Add a priority agreed with the factory; an `action-item:` link must name an action item of its committee."""
    outcome = await change(
        committees, command, plan, body, lambda p, now: p.agree_priority(body.new(), now.action_items)
    )
    [agreed] = outcome.created(AdvisoryPriorityAgreed)
    etag(outcome.version, response)
    return PriorityView.of(agreed.priority)


@router.put("/advisory-plans/{plan_id}/visits-promised", response_model=PlanView)
async def revise_visits(
    plan: SignedOffPlan, body: VisitsRequest, committees: Committees, command: IncomingCommand, response: Response
) -> PlanView:
    """Change how many visits the plan promises; beyond the package's, with the programme's approval."""
    outcome = await change(
        committees,
        command,
        plan,
        body,
        lambda p, now: p.revise_visits(body.visits, body.reason, now.today, body.extra_visits_approval),
    )
    return plan_response(outcome.aggregate, response)


# --- visits -----------------------------------------------------------------------------------


@router.post("/advisory-plans/{plan_id}/visits", status_code=status.HTTP_201_CREATED, response_model=VisitView)
async def plan_visit(
    plan: AdvisedPlan, body: VisitPlanRequest, committees: Committees, command: IncomingCommand, response: Response
) -> VisitView:
    """Plan a visit within the cycle: the factory must be enrolled, and the plan must promise it."""
    outcome = await change(
        committees,
        command,
        plan,
        body,
        lambda p, now: p.plan_visit(
            now.factory, body.planned_on or now.today, body.planned_for, now.today, body.remote, body.topics
        ),
    )
    [planned] = outcome.created(AdvisoryVisitPlanned)
    response.headers["Location"] = f"/advisory-plans/{plan.id}/visits/{planned.visit_id}"
    return visit_response(outcome.aggregate, planned.visit_id, response)


@router.get("/advisory-plans/{plan_id}/visits/{visit_id}", response_model=VisitView)
async def get_visit(plan: ReadablePlan, visit_id: str, committees: Committees, response: Response) -> VisitView:
    return visit_response(await committees.plans.get(plan.id), visit_id, response)


@router.post("/advisory-plans/{plan_id}/visits/{visit_id}/record", response_model=VisitView)
async def record_visit(
    plan: AdvisedPlan,
    visit_id: str,
    body: VisitRecordRequest,
    committees: Committees,
    command: IncomingCommand,
    response: Response,
) -> VisitView:
    """Record a planned visit as held: who took part, the topics worked on, the notes, the factory's
    new commitments and the follow-up of earlier ones (closing one, done or dropped, needs a note)."""
    outcome = await change(
        committees,
        command,
        plan,
        body,
        lambda p, now: p.record_visit(visit_id, now.factory, body.record(), now.committees, now.today),
    )
    return visit_response(outcome.aggregate, visit_id, response)


@router.post("/advisory-plans/{plan_id}/visits/{visit_id}/cancellation", response_model=VisitView)
async def cancel_visit(
    plan: AdvisedPlan,
    visit_id: str,
    body: CancellationRequest,
    committees: Committees,
    command: IncomingCommand,
    response: Response,
) -> VisitView:
    """Record that a planned visit was called off, and why; it no longer takes one of the plan's visits."""
    outcome = await change(
        committees,
        command,
        plan,
        body,
        lambda p, now: p.cancel_visit(visit_id, body.cancelled_on, body.reason, now.today),
    )
    return visit_response(outcome.aggregate, visit_id, response)


@router.post("/advisory-plans/{plan_id}/visits/{visit_id}/missed", response_model=VisitView)
async def record_missed_visit(
    plan: AdvisedPlan,
    visit_id: str,
    body: MissedVisitRequest,
    committees: Committees,
    command: IncomingCommand,
    response: Response,
) -> VisitView:
    """Record that a planned visit did not take place, and why."""
    outcome = await change(
        committees,
        command,
        plan,
        body,
        lambda p, now: p.record_missed_visit(visit_id, body.missed_on, body.reason, now.today),
    )
    return visit_response(outcome.aggregate, visit_id, response)


# --- the factory's voice ----------------------------------------------------------------------


@router.post("/advisory-plans/{plan_id}/visits/{visit_id}/confirmation", response_model=VisitView)
async def confirm_visit_record(
    plan: AnsweredPlan,
    visit_id: str,
    body: ConfirmationRequest,
    committees: Committees,
    command: IncomingCommand,
    response: Response,
) -> VisitView:
    """The factory confirms the advisor's record of a visit held (once), perhaps with a comment."""
    outcome = await change(
        committees, command, plan, body, lambda p, now: p.confirm_visit_record(visit_id, body.comment, now.today)
    )
    return visit_response(outcome.aggregate, visit_id, response)


@router.post(
    "/advisory-plans/{plan_id}/visits/{visit_id}/comments",
    status_code=status.HTTP_201_CREATED,
    response_model=VisitView,
)
async def comment_on_visit_record(
    plan: AnsweredPlan,
    visit_id: str,
    body: CommentRequest,
    committees: Committees,
    command: IncomingCommand,
    response: Response,
) -> VisitView:
    """The factory's comment on the record of a visit held, cancelled or missed."""
    outcome = await change(
        committees, command, plan, body, lambda p, now: p.comment_on_visit_record(visit_id, body.comment, now.today)
    )
    return visit_response(outcome.aggregate, visit_id, response)
