"""Events on `committee.events`: the bipartite worker-management committees (PICCs) Better Work
sets up and mentors in each factory: their members, elections, meetings and action items."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from betterwork_events.catalogue import EventContract, contract

Name = Annotated[str, Field(min_length=1, max_length=300)]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]
MemberId = Annotated[str, Field(pattern=r"^M-[1-9]\d*$", examples=["M-3"])]
MeetingId = Annotated[str, Field(pattern=r"^MT-[1-9]\d*$", examples=["MT-12"])]
ActionItemId = Annotated[str, Field(pattern=r"^AI-[1-9]\d*$", examples=["AI-7"])]
ElectionId = Annotated[str, Field(pattern=r"^E-[1-9]\d*$", examples=["E-1"])]
# What an agenda topic is about elsewhere in the programme: `finding:<id>` for an assessment
# finding, `compliance-point:<id>` for a compliance point of the assessment tool.
Reference = Annotated[
    str,
    Field(
        pattern=r"^(finding|compliance-point):[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
        examples=["finding:KH-2026-0042-5-A1-F7", "compliance-point:OSH-emergency-exits"],
    ),
]


class Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"


class Side(StrEnum):
    """Which side of the bipartite committee a member represents."""

    WORKERS = "workers"  # elected by the workers
    MANAGEMENT = "management"  # appointed by the factory's management


class Office(StrEnum):
    MEMBER = "member"
    CHAIR = "chair"
    VICE_CHAIR = "vice-chair"
    SECRETARY = "secretary"


class ActionItemStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in-progress"
    DONE = "done"


class Person(Part):
    """Someone who works at the factory, identified by their employee number there."""

    employee_number: str = Field(min_length=1, max_length=50, examples=["AA-01873"])
    name: Name
    sex: Sex
    job_title: str | None = Field(default=None, max_length=200, examples=["sewing operator, line 14"])


class CommitteeMember(Part):
    """A seat held by one person for one term."""

    member_id: MemberId
    person: Person
    side: Side
    office: Office = Office.MEMBER
    term_starts_on: dt.date
    term_ends_on: dt.date | None = Field(
        default=None, description="The last day of the term; management appointments may be open-ended"
    )
    election_id: ElectionId | None = Field(default=None, description="The election that gave a worker their seat")


class Candidate(Part):
    person: Person
    votes: int = Field(ge=0)


class AgendaTopic(Part):
    title: str = Field(min_length=1, max_length=500, examples=["Blocked emergency exit on the cutting floor"])
    references: tuple[Reference, ...] = Field(default=(), max_length=20)


class CommitteeEvent(EventContract):
    topic_service = "committee"
    committee_id: str = Field(description="The committee's id: its factory's id and a sequence, e.g. KH-2026-0042-5-C1")
    factory_id: str = Field(description="The factory whose committee it is (its permanent programme id)")


@contract("org.betterwork.committee.established.v1")
class CommitteeEstablished(CommitteeEvent):
    """Programme staff established a worker-management committee in the factory."""

    country: str = Field(pattern=r"^[A-Z]{2}$", description="The factory's country programme")
    established_on: dt.date


@contract("org.betterwork.committee.election-recorded.v1")
class ElectionRecorded(CommitteeEvent):
    """The workers elected their representatives: every candidate's votes, and who won a seat."""

    election_id: ElectionId
    held_on: dt.date
    seats: int = Field(ge=1, le=50)
    candidates: tuple[Candidate, ...] = Field(min_length=1, max_length=200)
    tie_break: tuple[str, ...] = Field(
        default=(), description="Employee numbers in the order a run-off or a draw decided, for tied candidates"
    )
    elected: tuple[CommitteeMember, ...] = Field(description="The seats won, most votes first")


@contract("org.betterwork.committee.management-representative-appointed.v1")
class ManagementRepresentativeAppointed(CommitteeEvent):
    member: CommitteeMember


@contract("org.betterwork.committee.member-office-assigned.v1")
class MemberOfficeAssigned(CommitteeEvent):
    """A member took an office (chair, vice-chair, secretary) or went back to being a member."""

    member_id: MemberId
    office: Office


@contract("org.betterwork.committee.member-left.v1")
class MemberLeft(CommitteeEvent):
    """A member left the committee; from `left_on` they are no longer a member."""

    member_id: MemberId
    left_on: dt.date
    reason: Reason


@contract("org.betterwork.committee.member-replaced.v1")
class MemberReplaced(CommitteeEvent):
    """A member left and someone took their seat for the rest of the term from `replaced_on`.

    A worker representative's replacement is the next runner-up of the election that seated them."""

    member_id: MemberId
    replaced_on: dt.date
    reason: Reason
    replacement: CommitteeMember


@contract("org.betterwork.committee.meeting-recorded.v1")
class MeetingRecorded(CommitteeEvent):
    """The committee met: who attended, what was discussed, the minutes and the decisions."""

    meeting_id: MeetingId
    held_on: dt.date
    attendees: tuple[MemberId, ...] = Field(min_length=1)
    guests: tuple[Name, ...] = Field(default=(), description="Others present, e.g. a Better Work advisor")
    agenda: tuple[AgendaTopic, ...] = Field(min_length=1, max_length=50)
    minutes: str = Field(min_length=1, max_length=20000)
    decisions: tuple[Annotated[str, Field(min_length=1, max_length=2000)], ...] = ()


@contract("org.betterwork.committee.action-item-raised.v1")
class ActionItemRaised(CommitteeEvent):
    """A meeting gave a member something to do by a date."""

    action_item_id: ActionItemId
    meeting_id: MeetingId
    description: str = Field(min_length=1, max_length=2000)
    owner: MemberId
    due_on: dt.date
    references: tuple[Reference, ...] = Field(default=(), max_length=20)


@contract("org.betterwork.committee.action-item-started.v1")
class ActionItemStarted(CommitteeEvent):
    action_item_id: ActionItemId
    note: str | None = Field(default=None, max_length=2000)


@contract("org.betterwork.committee.action-item-closed.v1")
class ActionItemClosed(CommitteeEvent):
    """The action item is done."""

    action_item_id: ActionItemId
    closed_on: dt.date
    outcome: str = Field(min_length=1, max_length=2000)


@contract("org.betterwork.committee.dissolved.v1")
class CommitteeDissolved(CommitteeEvent):
    """The committee stopped; the factory may get a new one later."""

    dissolved_on: dt.date
    reason: Reason
