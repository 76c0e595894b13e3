"""REST commands of the committee service. Routes validate, authorize, call a handler: no more.

Who may do what is decided in `policy`: programme staff manage committees; a factory's own
users record their committee's meetings and action items; nobody else writes.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from betterwork_events.auth import CurrentPrincipal, Principal, TokenFirstRoute
from betterwork_events.contracts.committee import (
    ActionItemId,
    ActionItemRaised,
    ActionItemStatus,
    AgendaTopic,
    Candidate,
    ElectionId,
    ElectionRecorded,
    ManagementRepresentativeAppointed,
    MeetingId,
    MeetingRecorded,
    MemberId,
    MemberReplaced,
    Office,
    Person,
    Reference,
    Side,
)
from betterwork_events.errors import NotFound
from betterwork_events.history import Change
from betterwork_events.store import EventStore
from betterwork_events.web import Command, IdempotencyKey, IfMatch, Problem, command_context, expected_version
from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field, ValidationInfo, field_validator
from sqlalchemy.ext.asyncio import AsyncEngine

from committee import handlers, policy
from committee.domain import ActionItem, Committee, HealthCheck, HealthPolicy, HealthStatus, Member, NewActionItem

router = APIRouter(
    route_class=TokenFirstRoute,
    responses={
        403: {
            "model": Problem,
            "description": "Only programme staff manage committees; a factory's own users record its meetings and action items",
        },
        404: {"model": Problem, "description": "No such committee, factory, member, meeting or action item"},
        409: {
            "model": Problem,
            "description": "An impossible step (e.g. a person in two roles, a tie without a run-off), or the "
            "committee changed since the If-Match version",
        },
    },
)

Reason = Annotated[str, Field(min_length=1, max_length=2000)]
FactoryId = Annotated[str, Field(min_length=1, max_length=40, examples=["KH-2026-0042-5"])]


def after(field: str, inclusive: bool = False) -> Any:
    """A validator: this date may not come before (or on, unless `inclusive`) the date in `field`."""

    def check(value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get(field)
        if value is not None and start is not None and (value < start or (value == start and not inclusive)):
            raise ValueError(f"must be {'on or ' if inclusive else ''}after {field} ({start})")
        return value

    return check


class EstablishRequest(Command):
    factory_id: FactoryId
    established_on: dt.date


class ElectionRequest(Command):
    held_on: dt.date
    seats: int = Field(ge=1, le=50, description="How many worker representatives the election seats")
    candidates: list[Candidate] = Field(min_length=1, max_length=200)
    term_ends_on: dt.date = Field(description="The last day of the elected representatives' term")
    tie_break: list[str] = Field(
        default=[],
        max_length=200,
        description="Employee numbers of tied candidates in the order a run-off or a draw decided",
    )

    _term_after_election = field_validator("term_ends_on")(after("held_on"))

    @field_validator("candidates")
    @classmethod
    def _each_stands_once(cls, candidates: list[Candidate]) -> list[Candidate]:
        numbers = [c.person.employee_number for c in candidates]
        if twice := sorted({n for n in numbers if numbers.count(n) > 1}):
            raise ValueError(f"employee number {', '.join(twice)} stands more than once")
        return candidates


class AppointRequest(Command):
    person: Person
    office: Office = Office.MEMBER
    term_starts_on: dt.date
    term_ends_on: dt.date | None = Field(default=None, description="The last day of the term; none if open-ended")

    _term_ends_after_start = field_validator("term_ends_on")(after("term_starts_on", inclusive=True))


class OfficeRequest(Command):
    office: Office


class DepartureRequest(Command):
    left_on: dt.date = Field(description="From this day on the person is no longer a member")
    reason: Reason


class ReplacementRequest(Command):
    replaced_on: dt.date = Field(description="The day the replacement takes the seat")
    reason: Reason
    replacement: Person | None = Field(
        default=None,
        description="Who takes a management seat. A worker seat goes to the next runner-up of its election: "
        "leave this out (or name that runner-up)",
    )


class ActionItemRequest(Command):
    description: str = Field(min_length=1, max_length=2000)
    owner: MemberId
    due_on: dt.date
    references: list[Reference] = Field(default=[], max_length=20)

    def new(self) -> NewActionItem:
        return NewActionItem(self.description, self.owner, self.due_on, tuple(self.references))


class MeetingRequest(Command):
    held_on: dt.date
    attendees: list[MemberId] = Field(min_length=1, description="The members present")
    guests: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(default=[], max_length=50)
    agenda: list[AgendaTopic] = Field(min_length=1, max_length=50)
    minutes: str = Field(min_length=1, max_length=20000)
    decisions: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(default=[], max_length=100)
    action_items: list[ActionItemRequest] = Field(default=[], max_length=100)


class StartRequest(Command):
    note: str | None = Field(default=None, max_length=2000)


class ClosureRequest(Command):
    closed_on: dt.date
    outcome: str = Field(min_length=1, max_length=2000)


class DissolutionRequest(Command):
    dissolved_on: dt.date
    reason: Reason


# --- views ------------------------------------------------------------------------------------


class MemberView(BaseModel):
    member_id: MemberId
    person: Person
    side: Side
    office: Office
    term_starts_on: dt.date
    term_ends_on: dt.date | None
    election_id: ElectionId | None
    left_on: dt.date | None
    left_reason: str | None

    @classmethod
    def of(cls, m: Member) -> MemberView:
        return cls(**{name: getattr(m, name) for name in cls.model_fields})


class ElectionView(BaseModel):
    election_id: ElectionId
    held_on: dt.date
    seats: int
    candidates: list[Candidate]
    tie_break: list[str]
    elected: list[MemberId]

    @classmethod
    def of(cls, e: ElectionRecorded) -> ElectionView:
        return cls(
            election_id=e.election_id,
            held_on=e.held_on,
            seats=e.seats,
            candidates=list(e.candidates),
            tie_break=list(e.tie_break),
            elected=[seat.member_id for seat in e.elected],
        )


class ActionItemView(BaseModel):
    action_item_id: ActionItemId
    meeting_id: MeetingId
    description: str
    owner: MemberId
    due_on: dt.date
    references: list[str]
    status: ActionItemStatus
    note: str | None
    closed_on: dt.date | None
    outcome: str | None

    @classmethod
    def of(cls, item: ActionItem) -> ActionItemView:
        return cls(**{name: getattr(item, name) for name in cls.model_fields})


class MeetingView(BaseModel):
    meeting_id: MeetingId
    held_on: dt.date
    attendees: list[MemberId]
    guests: list[str]
    agenda: list[AgendaTopic]
    minutes: str
    decisions: list[str]
    action_items: list[ActionItemView]

    @classmethod
    def of(cls, committee: Committee, meeting_id: str) -> MeetingView:
        m = committee.meetings[meeting_id]
        items = [i for i in committee.action_items.values() if i.meeting_id == meeting_id]
        return cls(
            meeting_id=m.meeting_id,
            held_on=m.held_on,
            attendees=list(m.attendees),
            guests=list(m.guests),
            agenda=list(m.agenda),
            minutes=m.minutes,
            decisions=list(m.decisions),
            action_items=[ActionItemView.of(i) for i in items],
        )


class HealthCheckView(BaseModel):
    name: str = Field(examples=["women-represented"])
    status: HealthStatus
    reason: str

    @classmethod
    def of(cls, check: HealthCheck) -> HealthCheckView:
        return cls(name=check.name, status=check.status, reason=check.reason)


class CommitteeView(BaseModel):
    id: str
    factory_id: str
    country: str
    established_on: dt.date
    dissolved_on: dt.date | None
    dissolution_reason: str | None
    members: list[MemberView] = Field(description="Everyone who has sat on the committee; left_on says who left")
    elections: list[ElectionView]
    meetings: list[MeetingView]
    health: list[HealthCheckView] = Field(description="How the committee is doing today, each check with its reason")
    version: int

    @classmethod
    def of(cls, committee: Committee, health: list[HealthCheck]) -> CommitteeView:
        assert committee.established_on is not None
        return cls(
            id=committee.id,
            factory_id=committee.factory_id,
            country=committee.country,
            established_on=committee.established_on,
            dissolved_on=committee.dissolved_on,
            dissolution_reason=committee.dissolution_reason,
            members=[MemberView.of(m) for m in committee.members.values()],
            elections=[ElectionView.of(e) for e in committee.elections.values()],
            meetings=[MeetingView.of(committee, m) for m in committee.meetings],
            health=[HealthCheckView.of(c) for c in health],
            version=committee.version,
        )


# --- helpers ----------------------------------------------------------------------------------


def store(request: Request) -> EventStore:
    return request.app.state.store


def engine(request: Request) -> AsyncEngine:
    return request.app.state.runtime.engine


def health_policy(request: Request) -> HealthPolicy:
    return request.app.state.health_policy


def etag(committee: Committee, response: Response) -> None:
    response.headers["ETag"] = f'"{committee.version}"'


async def committee_response(committee: Committee, request: Request, response: Response) -> CommitteeView:
    etag(committee, response)
    return CommitteeView.of(committee, await handlers.health(engine(request), committee, health_policy(request)))


async def committee_for(request: Request, principal: Principal, committee_id: str) -> Committee:
    """The committee a route reads or records in, once the caller is one who may reach committees at all."""
    policy.may_reach(principal)
    return await handlers.load_committee(store(request), committee_id)


def located(response: Response, committee: Committee, path: str) -> None:
    etag(committee, response)
    response.headers["Location"] = f"/committees/{committee.id}{path}"


# --- committees -------------------------------------------------------------------------------


@router.post("/committees", status_code=status.HTTP_201_CREATED, response_model=CommitteeView, tags=["committees"])
async def establish(
    body: EstablishRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommitteeView:
    """Establish the factory's worker-management committee (PICC).

    The factory must be enrolled, in a country whose programme runs committees, and without an
    active committee. Its id is the factory's id and a sequence, e.g. `KH-2026-0042-5-C1`."""
    policy.may_manage(principal, "establish committees")
    command = handlers.EstablishCommittee(body.factory_id, body.established_on, idempotency_key)
    committee = await handlers.establish_committee(
        command, store(request), engine(request), command_context(principal, request)
    )
    response.headers["Location"] = f"/committees/{committee.id}"
    return await committee_response(committee, request, response)


@router.get("/committees/{committee_id}", response_model=CommitteeView, tags=["committees"])
async def get_committee(
    committee_id: str, principal: CurrentPrincipal, request: Request, response: Response
) -> CommitteeView:
    """The committee as it is now: members, elections, meetings, action items and its health today."""
    committee = await committee_for(request, principal, committee_id)
    policy.may_read(principal, committee.factory_id)
    return await committee_response(committee, request, response)


@router.get("/committees/{committee_id}/health", response_model=list[HealthCheckView], tags=["committees"])
async def get_health(committee_id: str, principal: CurrentPrincipal, request: Request) -> list[HealthCheckView]:
    """The health checks the portals show, each `ok`, `attention`, `not-met` or `unknown`, with the reason."""
    committee = await committee_for(request, principal, committee_id)
    policy.may_read(principal, committee.factory_id)
    return [HealthCheckView.of(c) for c in await handlers.health(engine(request), committee, health_policy(request))]


@router.get("/committees/{committee_id}/history", response_model=list[Change], tags=["committees"])
async def committee_history(committee_id: str, principal: CurrentPrincipal, request: Request) -> list[Change]:
    """Every change to the committee, oldest first, with who made it and when."""
    committee = await committee_for(request, principal, committee_id)
    policy.may_read(principal, committee.factory_id)
    return await handlers.history(store(request), committee)


@router.get("/factories/{factory_id}/committee", response_model=CommitteeView, tags=["committees"])
async def factory_committee(
    factory_id: str, principal: CurrentPrincipal, request: Request, response: Response
) -> CommitteeView:
    """The factory's active committee (404 if it has none)."""
    policy.may_read(principal, factory_id)
    return await committee_response(await handlers.active_committee(store(request), factory_id), request, response)


@router.get("/factories/{factory_id}/committees", response_model=list[CommitteeView], tags=["committees"])
async def factory_committees(factory_id: str, principal: CurrentPrincipal, request: Request) -> list[CommitteeView]:
    """Every committee the factory has had, oldest first."""
    policy.may_read(principal, factory_id)
    return [
        CommitteeView.of(c, await handlers.health(engine(request), c, health_policy(request)))
        for c in await handlers.committees_of(store(request), factory_id)
    ]


@router.post("/committees/{committee_id}/dissolution", response_model=CommitteeView, tags=["committees"])
async def dissolve(
    committee_id: str,
    body: DissolutionRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> CommitteeView:
    """Record that the committee stopped; the factory may then get a new one."""
    policy.may_manage(principal, "dissolve committees")
    committee = await handlers.load_committee(store(request), committee_id)
    outcome = await handlers.change(
        store(request),
        committee,
        lambda c: c.dissolve(body.dissolved_on, body.reason, handlers.today_in(c.country)),
        command_context(principal, request),
        expected_version=expected_version(if_match),
    )
    return await committee_response(outcome.aggregate, request, response)


# --- members ----------------------------------------------------------------------------------


@router.post(
    "/committees/{committee_id}/elections",
    status_code=status.HTTP_201_CREATED,
    response_model=ElectionView,
    tags=["members"],
)
async def record_election(
    committee_id: str,
    body: ElectionRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> ElectionView:
    """Record the workers' election of their representatives: each candidate's votes.

    The candidates with most votes (at least one) win the seats. A tie for the last seat is
    decided by `tie_break` (a run-off's order) or answers 409. Re-elected representatives start
    a new term; a management representative cannot stand."""
    policy.may_manage(principal, "record elections")
    committee = await handlers.load_committee(store(request), committee_id)
    outcome = await handlers.change(
        store(request),
        committee,
        lambda c: c.record_election(
            body.held_on,
            body.seats,
            body.candidates,
            body.term_ends_on,
            handlers.today_in(c.country),
            body.tie_break,
        ),
        command_context(principal, request),
        expected_version=expected_version(if_match),
        idempotency=("record-election", idempotency_key),
    )
    [election] = handlers.created(outcome, ElectionRecorded)
    located(response, outcome.aggregate, f"/elections/{election.election_id}")
    return ElectionView.of(election)


@router.post(
    "/committees/{committee_id}/members",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberView,
    tags=["members"],
)
async def appoint(
    committee_id: str,
    body: AppointRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> MemberView:
    """Record management's appointment of a representative (worker representatives are elected)."""
    policy.may_manage(principal, "appoint members")
    committee = await handlers.load_committee(store(request), committee_id)
    outcome = await handlers.change(
        store(request),
        committee,
        lambda c: c.appoint(body.person, body.term_starts_on, body.term_ends_on, body.office),
        command_context(principal, request),
        expected_version=expected_version(if_match),
        idempotency=("appoint", idempotency_key),
    )
    [appointed] = handlers.created(outcome, ManagementRepresentativeAppointed)
    located(response, outcome.aggregate, f"/members/{appointed.member.member_id}")
    return MemberView.of(outcome.aggregate.members[appointed.member.member_id])


@router.put("/committees/{committee_id}/members/{member_id}/office", response_model=MemberView, tags=["members"])
async def assign_office(
    committee_id: str,
    member_id: str,
    body: OfficeRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> MemberView:
    """Give a member an office (chair, vice-chair, secretary), or make them a plain member again."""
    policy.may_manage(principal, "assign offices")
    committee = await handlers.load_committee(store(request), committee_id)
    outcome = await handlers.change(
        store(request),
        committee,
        lambda c: c.assign_office(member_id, body.office, handlers.today_in(c.country)),
        command_context(principal, request),
        expected_version=expected_version(if_match),
    )
    etag(outcome.aggregate, response)
    return MemberView.of(outcome.aggregate.members[member_id])


@router.post("/committees/{committee_id}/members/{member_id}/departure", response_model=MemberView, tags=["members"])
async def record_departure(
    committee_id: str,
    member_id: str,
    body: DepartureRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> MemberView:
    """Record that a member left the committee (resigned, left the factory, ...), with the reason."""
    policy.may_manage(principal, "record members leaving")
    committee = await handlers.load_committee(store(request), committee_id)
    outcome = await handlers.change(
        store(request),
        committee,
        lambda c: c.record_departure(member_id, body.left_on, body.reason, handlers.today_in(c.country)),
        command_context(principal, request),
        expected_version=expected_version(if_match),
    )
    etag(outcome.aggregate, response)
    return MemberView.of(outcome.aggregate.members[member_id])


@router.post(
    "/committees/{committee_id}/members/{member_id}/replacement",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberView,
    tags=["members"],
)
async def replace(
    committee_id: str,
    member_id: str,
    body: ReplacementRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> MemberView:
    """Replace a member for the rest of their term; answers with the new member.

    A worker representative's seat goes to the next runner-up of the election that filled it;
    when none is left, hold a by-election instead (409 says so)."""
    policy.may_manage(principal, "replace members")
    committee = await handlers.load_committee(store(request), committee_id)
    outcome = await handlers.change(
        store(request),
        committee,
        lambda c: c.replace(member_id, body.replaced_on, body.reason, body.replacement, handlers.today_in(c.country)),
        command_context(principal, request),
        expected_version=expected_version(if_match),
        idempotency=(f"replace|{member_id}", idempotency_key),
    )
    [replaced] = handlers.created(outcome, MemberReplaced)
    new_member = replaced.replacement.member_id
    located(response, outcome.aggregate, f"/members/{new_member}")
    return MemberView.of(outcome.aggregate.members[new_member])


# --- meetings and action items ----------------------------------------------------------------


@router.post(
    "/committees/{committee_id}/meetings",
    status_code=status.HTTP_201_CREATED,
    response_model=MeetingView,
    tags=["meetings"],
)
async def record_meeting(
    committee_id: str,
    body: MeetingRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> MeetingView:
    """Record a meeting held: attendance, agenda (topics may name findings or compliance points),
    minutes, decisions and the action items it raised. Attendees and owners must be members on the day."""
    committee = await committee_for(request, principal, committee_id)
    policy.may_record_meetings(principal, committee.factory_id, "record the committee's meetings")
    outcome = await handlers.change(
        store(request),
        committee,
        lambda c: c.record_meeting(
            body.held_on,
            body.attendees,
            body.agenda,
            body.minutes,
            handlers.today_in(c.country),
            decisions=body.decisions,
            guests=body.guests,
            action_items=[item.new() for item in body.action_items],
        ),
        command_context(principal, request),
        expected_version=expected_version(if_match),
        idempotency=("record-meeting", idempotency_key),
    )
    [meeting] = handlers.created(outcome, MeetingRecorded)
    located(response, outcome.aggregate, f"/meetings/{meeting.meeting_id}")
    return MeetingView.of(outcome.aggregate, meeting.meeting_id)


@router.get("/committees/{committee_id}/meetings/{meeting_id}", response_model=MeetingView, tags=["meetings"])
async def get_meeting(
    committee_id: str, meeting_id: str, principal: CurrentPrincipal, request: Request, response: Response
) -> MeetingView:
    committee = await committee_for(request, principal, committee_id)
    policy.may_read(principal, committee.factory_id)
    if meeting_id not in committee.meetings:
        raise NotFound(f"committee {committee_id} has no meeting {meeting_id}")
    etag(committee, response)
    return MeetingView.of(committee, meeting_id)


@router.post(
    "/committees/{committee_id}/meetings/{meeting_id}/action-items",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionItemView,
    tags=["meetings"],
)
async def raise_action_item(
    committee_id: str,
    meeting_id: str,
    body: ActionItemRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> ActionItemView:
    """Add an action item raised in a meeting already recorded."""
    committee = await committee_for(request, principal, committee_id)
    policy.may_record_meetings(principal, committee.factory_id, "raise the committee's action items")
    outcome = await handlers.change(
        store(request),
        committee,
        lambda c: c.raise_action_item(meeting_id, body.new()),
        command_context(principal, request),
        expected_version=expected_version(if_match),
        idempotency=(f"raise-action-item|{meeting_id}", idempotency_key),
    )
    [raised] = handlers.created(outcome, ActionItemRaised)
    located(response, outcome.aggregate, f"/action-items/{raised.action_item_id}")
    return ActionItemView.of(outcome.aggregate.action_items[raised.action_item_id])


@router.post(
    "/committees/{committee_id}/action-items/{action_item_id}/start", response_model=ActionItemView, tags=["meetings"]
)
async def start_action_item(
    committee_id: str,
    action_item_id: str,
    body: StartRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> ActionItemView:
    """Record that work on an open action item has started."""
    committee = await committee_for(request, principal, committee_id)
    policy.may_record_meetings(principal, committee.factory_id, "update the committee's action items")
    outcome = await handlers.change(
        store(request),
        committee,
        lambda c: c.start_action_item(action_item_id, body.note),
        command_context(principal, request),
        expected_version=expected_version(if_match),
    )
    etag(outcome.aggregate, response)
    return ActionItemView.of(outcome.aggregate.action_items[action_item_id])


@router.post(
    "/committees/{committee_id}/action-items/{action_item_id}/closure",
    response_model=ActionItemView,
    tags=["meetings"],
)
async def close_action_item(
    committee_id: str,
    action_item_id: str,
    body: ClosureRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> ActionItemView:
    """Close an action item as done, with its outcome."""
    committee = await committee_for(request, principal, committee_id)
    policy.may_record_meetings(principal, committee.factory_id, "close the committee's action items")
    outcome = await handlers.change(
        store(request),
        committee,
        lambda c: c.close_action_item(action_item_id, body.closed_on, body.outcome, handlers.today_in(c.country)),
        command_context(principal, request),
        expected_version=expected_version(if_match),
    )
    etag(outcome.aggregate, response)
    return ActionItemView.of(outcome.aggregate.action_items[action_item_id])
