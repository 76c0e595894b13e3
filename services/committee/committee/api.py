"""REST commands of the committee service. Routes validate, authorize, call a handler: no more.

Who may do what is decided in `policy`, as the dependencies each route names; the command runner
(betterwork_events.commands) does the rest.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from betterwork_events.auth import CurrentPrincipal, TokenFirstRoute
from betterwork_events.commands import Outcome
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
from betterwork_events.web import Command, IncomingCommand, Problem
from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from committee import policy
from committee.domain import ActionItem, Committee, HealthCheck, HealthStatus, Member, NewActionItem
from committee.handlers import Service
from committee.policy import Committees, ManagedCommittee, MeetingsOf, ReadableCommittee, ReadableFactory

router = APIRouter(
    route_class=TokenFirstRoute,
    responses={
        403: {
            "model": Problem,
            "description": "Country managers manage committees; assessors support their meetings and action items, "
            "and a factory's own users record theirs; a country team works in its own country only",
        },
        404: {
            "model": Problem,
            "description": "No such committee, factory, member, meeting or action item (or not yours to see)",
        },
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


# --- answers ---------------------------------------------------------------------------------


def etag(version: int, response: Response) -> None:
    response.headers["ETag"] = f'"{version}"'


async def committee_view(committees: Service, committee: Committee, response: Response) -> CommitteeView:
    etag(committee.version, response)
    return CommitteeView.of(committee, await committees.health(committee))


def located(response: Response, outcome: Outcome[Committee], path: str) -> Committee:
    """The committee now, its ETag and where the new part of it is (`path`)."""
    etag(outcome.version, response)
    response.headers["Location"] = f"/committees/{outcome.aggregate.id}{path}"
    return outcome.aggregate


def changed(response: Response, outcome: Outcome[Committee]) -> Committee:
    etag(outcome.version, response)
    return outcome.aggregate


# --- committees -------------------------------------------------------------------------------


@router.post("/committees", status_code=status.HTTP_201_CREATED, response_model=CommitteeView, tags=["committees"])
async def establish(
    body: EstablishRequest,
    principal: CurrentPrincipal,
    committees: Committees,
    command: IncomingCommand,
    response: Response,
) -> CommitteeView:
    """Establish the factory's worker-management committee (PICC).

    The factory must be enrolled, in a country whose programme runs committees, and without an
    active committee. Its id is the factory's id and a sequence, e.g. `KH-2026-0042-5-C1`."""
    factory_id = await policy.may_work_with(policy.MANAGE, principal, committees, body.factory_id)
    outcome = await committees.establish_committee(command.asking(body), factory_id, body.established_on)
    return await committee_view(committees, located(response, outcome, ""), response)


@router.get("/committees/{committee_id}", response_model=CommitteeView, tags=["committees"])
async def get_committee(committee: ReadableCommittee, committees: Committees, response: Response) -> CommitteeView:
    """The committee as it is now: members, elections, meetings, action items and its health today."""
    return await committee_view(committees, await committees.committees.get(committee.id), response)


@router.get("/committees/{committee_id}/health", response_model=list[HealthCheckView], tags=["committees"])
async def get_health(committee: ReadableCommittee, committees: Committees) -> list[HealthCheckView]:
    """The health checks the portals show, each `ok`, `attention`, `not-met` or `unknown`, with the reason."""
    return [HealthCheckView.of(c) for c in await committees.health(await committees.committees.get(committee.id))]


@router.get("/committees/{committee_id}/history", response_model=list[Change], tags=["committees"])
async def committee_history(committee: ReadableCommittee, committees: Committees) -> list[Change]:
    """Every change to the committee, oldest first, with who made it and when."""
    return await committees.history(committees.committees, committee.id)


@router.get("/factories/{factory_id}/committee", response_model=CommitteeView, tags=["committees"])
async def factory_committee(factory_id: ReadableFactory, committees: Committees, response: Response) -> CommitteeView:
    """The factory's active committee (404 if it has none)."""
    return await committee_view(committees, await committees.active_committee(factory_id), response)


@router.get("/factories/{factory_id}/committees", response_model=list[CommitteeView], tags=["committees"])
async def factory_committees(factory_id: ReadableFactory, committees: Committees) -> list[CommitteeView]:
    """Every committee the factory has had, oldest first."""
    return [CommitteeView.of(c, await committees.health(c)) for c in await committees.committees_of(factory_id)]


@router.post("/committees/{committee_id}/dissolution", response_model=CommitteeView, tags=["committees"])
async def dissolve(
    committee: ManagedCommittee,
    body: DissolutionRequest,
    committees: Committees,
    command: IncomingCommand,
    response: Response,
) -> CommitteeView:
    """Record that the committee stopped; the factory may then get a new one."""
    outcome = await committees.change_committee(
        command.asking(body), committee.id, lambda c, today: c.dissolve(body.dissolved_on, body.reason, today)
    )
    return await committee_view(committees, changed(response, outcome), response)


# --- members ----------------------------------------------------------------------------------


@router.post(
    "/committees/{committee_id}/elections",
    status_code=status.HTTP_201_CREATED,
    response_model=ElectionView,
    tags=["members"],
)
async def record_election(
    committee: ManagedCommittee,
    body: ElectionRequest,
    committees: Committees,
    command: IncomingCommand,
    response: Response,
) -> ElectionView:
    """Record the workers' election of their representatives: each candidate's votes.

    The candidates with most votes (at least one) win the seats. A tie for the last seat is
    decided by `tie_break` (a run-off's order) or answers 409. Re-elected representatives start
    a new term; a management representative cannot stand."""
    outcome = await committees.change_committee(
        command.asking(body),
        committee.id,
        lambda c, today: c.record_election(
            body.held_on, body.seats, body.candidates, body.term_ends_on, today, body.tie_break
        ),
    )
    [election] = outcome.created(ElectionRecorded)
    located(response, outcome, f"/elections/{election.election_id}")
    return ElectionView.of(election)


@router.post(
    "/committees/{committee_id}/members",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberView,
    tags=["members"],
)
async def appoint(
    committee: ManagedCommittee,
    body: AppointRequest,
    committees: Committees,
    command: IncomingCommand,
    response: Response,
) -> MemberView:
    """Record management's appointment of a representative (worker representatives are elected)."""
    outcome = await committees.change_committee(
        command.asking(body),
        committee.id,
        lambda c, today: c.appoint(body.person, body.term_starts_on, body.term_ends_on, body.office),
    )
    [appointed] = outcome.created(ManagementRepresentativeAppointed)
    member_id = appointed.member.member_id
    return MemberView.of(located(response, outcome, f"/members/{member_id}").members[member_id])


@router.put("/committees/{committee_id}/members/{member_id}/office", response_model=MemberView, tags=["members"])
async def assign_office(
    committee: ManagedCommittee,
    member_id: str,
    body: OfficeRequest,
    committees: Committees,
    command: IncomingCommand,
    response: Response,
) -> MemberView:
    """Give a member an office (chair, vice-chair, secretary), or make them a plain member again."""
    outcome = await committees.change_committee(
        command.asking(body), committee.id, lambda c, today: c.assign_office(member_id, body.office, today)
    )
    return MemberView.of(changed(response, outcome).members[member_id])


@router.post("/committees/{committee_id}/members/{member_id}/departure", response_model=MemberView, tags=["members"])
async def record_departure(
    committee: ManagedCommittee,
    member_id: str,
    body: DepartureRequest,
    committees: Committees,
    command: IncomingCommand,
    response: Response,
) -> MemberView:
    """Record that a member left the committee (resigned, left the factory, ...), with the reason."""
    outcome = await committees.change_committee(
        command.asking(body),
        committee.id,
        lambda c, today: c.record_departure(member_id, body.left_on, body.reason, today),
    )
    return MemberView.of(changed(response, outcome).members[member_id])


@router.post(
    "/committees/{committee_id}/members/{member_id}/replacement",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberView,
    tags=["members"],
)
async def replace(
    committee: ManagedCommittee,
    member_id: str,
    body: ReplacementRequest,
    committees: Committees,
    command: IncomingCommand,
    response: Response,
) -> MemberView:
    """Replace a member for the rest of their term; answers with the new member.

    A worker representative's seat goes to the next runner-up of the election that filled it;
    when none is left, hold a by-election instead (409 says so)."""
    outcome = await committees.change_committee(
        command.asking(body),
        committee.id,
        lambda c, today: c.replace(member_id, body.replaced_on, body.reason, body.replacement, today),
    )
    [replaced] = outcome.created(MemberReplaced)
    new_member = replaced.replacement.member_id
    return MemberView.of(located(response, outcome, f"/members/{new_member}").members[new_member])


# --- meetings and action items ----------------------------------------------------------------


@router.post(
    "/committees/{committee_id}/meetings",
    status_code=status.HTTP_201_CREATED,
    response_model=MeetingView,
    tags=["meetings"],
)
async def record_meeting(
    committee: MeetingsOf, body: MeetingRequest, committees: Committees, command: IncomingCommand, response: Response
) -> MeetingView:
    """Record a meeting held: attendance, agenda (topics may name findings or compliance points),
    minutes, decisions and the action items it raised. Attendees and owners must be members on the day."""
    outcome = await committees.change_committee(
        command.asking(body),
        committee.id,
        lambda c, today: c.record_meeting(
            body.held_on,
            body.attendees,
            body.agenda,
            body.minutes,
            today,
            decisions=body.decisions,
            guests=body.guests,
            action_items=[item.new() for item in body.action_items],
        ),
    )
    [meeting] = outcome.created(MeetingRecorded)
    return MeetingView.of(located(response, outcome, f"/meetings/{meeting.meeting_id}"), meeting.meeting_id)


@router.get("/committees/{committee_id}/meetings/{meeting_id}", response_model=MeetingView, tags=["meetings"])
async def get_meeting(
    committee: ReadableCommittee, meeting_id: str, committees: Committees, response: Response
) -> MeetingView:
    now = await committees.committees.get(committee.id)
    if meeting_id not in now.meetings:
        raise NotFound(f"committee {committee.id} has no meeting {meeting_id}")
    etag(now.version, response)
    return MeetingView.of(now, meeting_id)


@router.post(
    "/committees/{committee_id}/meetings/{meeting_id}/action-items",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionItemView,
    tags=["meetings"],
)
async def raise_action_item(
    committee: MeetingsOf,
    meeting_id: str,
    body: ActionItemRequest,
    committees: Committees,
    command: IncomingCommand,
    response: Response,
) -> ActionItemView:
    """Add an action item raised in a meeting already recorded."""
    outcome = await committees.change_committee(
        command.asking(body), committee.id, lambda c, today: c.raise_action_item(meeting_id, body.new())
    )
    [raised] = outcome.created(ActionItemRaised)
    now = located(response, outcome, f"/action-items/{raised.action_item_id}")
    return ActionItemView.of(now.action_items[raised.action_item_id])


@router.post(
    "/committees/{committee_id}/action-items/{action_item_id}/start", response_model=ActionItemView, tags=["meetings"]
)
async def start_action_item(
    committee: MeetingsOf,
    action_item_id: str,
    body: StartRequest,
    committees: Committees,
    command: IncomingCommand,
    response: Response,
) -> ActionItemView:
    """Record that work on an open action item has started."""
    outcome = await committees.change_committee(
        command.asking(body), committee.id, lambda c, today: c.start_action_item(action_item_id, body.note)
    )
    return ActionItemView.of(changed(response, outcome).action_items[action_item_id])


@router.post(
    "/committees/{committee_id}/action-items/{action_item_id}/closure",
    response_model=ActionItemView,
    tags=["meetings"],
)
async def close_action_item(
    committee: MeetingsOf,
    action_item_id: str,
    body: ClosureRequest,
    committees: Committees,
    command: IncomingCommand,
    response: Response,
) -> ActionItemView:
    """Close an action item as done, with its outcome."""
    outcome = await committees.change_committee(
        command.asking(body),
        committee.id,
        lambda c, today: c.close_action_item(action_item_id, body.closed_on, body.outcome, today),
    )
    return ActionItemView.of(changed(response, outcome).action_items[action_item_id])
