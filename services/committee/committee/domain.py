"""Worker-management committees (PICCs) as the programme runs them: plain Python, events in, events out.

Dates are the factory's calendar days. Nothing here reads a clock: commands that must not record
the future, and the health checks, are given `today`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, TypeAlias

from betterwork_events.contracts.committee import (
    ActionItemClosed,
    ActionItemRaised,
    ActionItemStarted,
    ActionItemStatus,
    AgendaTopic,
    Candidate,
    CommitteeDissolved,
    CommitteeEstablished,
    CommitteeMember,
    ElectionRecorded,
    ManagementRepresentativeAppointed,
    MeetingRecorded,
    MemberLeft,
    MemberOfficeAssigned,
    MemberReplaced,
    Office,
    Person,
    Sex,
    Side,
)
from betterwork_events.countries import COUNTRY_PROGRAMMES
from betterwork_events.errors import IllegalStep, InvalidRequest, NotFound

if TYPE_CHECKING:
    from betterwork_events.factories import KnownFactory

CommitteeEvent: TypeAlias = (
    CommitteeEstablished
    | ElectionRecorded
    | ManagementRepresentativeAppointed
    | MemberOfficeAssigned
    | MemberLeft
    | MemberReplaced
    | MeetingRecorded
    | ActionItemRaised
    | ActionItemStarted
    | ActionItemClosed
    | CommitteeDissolved
)


def committee_stream(committee_id: str) -> str:
    return f"committee-{committee_id}"


def committee_id(factory_id: str, sequence: int) -> str:
    """A factory's committees are numbered: a dissolved one is followed by the next."""
    return f"{factory_id}-C{sequence}"


class ElectionTied(IllegalStep):
    def __init__(self, tied: Sequence[Candidate], seats: int) -> None:
        names = ", ".join(f"{c.person.name} ({c.person.employee_number})" for c in tied)
        seat_word = "seat" if seats == 1 else f"{seats} seats"
        super().__init__(
            f"{names} tied with {tied[0].votes} votes for the last {seat_word}; hold a run-off (or a draw, if the "
            "committee's rules say so) and send its order as tie_break"
        )
        self.tied = tuple(c.person.employee_number for c in tied)


@dataclass(frozen=True)
class NewActionItem:
    description: str
    owner: str
    due_on: dt.date
    references: tuple[str, ...] = ()


@dataclass
class Member:
    member_id: str
    person: Person
    side: Side
    office: Office
    term_starts_on: dt.date
    term_ends_on: dt.date | None  # the last day of the term
    election_id: str | None
    left_on: dt.date | None = None  # from this day on no longer a member
    left_reason: str | None = None

    @classmethod
    def of(cls, seat: CommitteeMember) -> Member:
        return cls(
            seat.member_id,
            seat.person,
            seat.side,
            seat.office,
            seat.term_starts_on,
            seat.term_ends_on,
            seat.election_id,
        )

    def sits_on(self, day: dt.date) -> bool:
        return self.term_starts_on <= day and self._not_ended_by(day)

    def sits_on_or_after(self, day: dt.date) -> bool:
        """Holds the seat on `day` or will hold it later (an appointment may start in the future)."""
        return self._not_ended_by(day)

    def _not_ended_by(self, day: dt.date) -> bool:
        return (self.term_ends_on is None or day <= self.term_ends_on) and (self.left_on is None or day < self.left_on)

    @property
    def role(self) -> str:
        side = "worker representative" if self.side is Side.WORKERS else "management representative"
        return side if self.office is Office.MEMBER else f"{side} and {self.office}"


@dataclass
class ActionItem:
    action_item_id: str
    meeting_id: str
    description: str
    owner: str
    due_on: dt.date
    references: tuple[str, ...]
    status: ActionItemStatus = ActionItemStatus.OPEN
    note: str | None = None
    closed_on: dt.date | None = None
    outcome: str | None = None


@dataclass
class Committee:
    id: str
    factory_id: str = ""
    country: str = ""
    established_on: dt.date | None = None
    dissolved_on: dt.date | None = None
    dissolution_reason: str | None = None
    members: dict[str, Member] = field(default_factory=dict)
    elections: dict[str, ElectionRecorded] = field(default_factory=dict)
    meetings: dict[str, MeetingRecorded] = field(default_factory=dict)
    action_items: dict[str, ActionItem] = field(default_factory=dict)
    version: int = 0

    # --- commands ----------------------------------------------------------------------------

    @staticmethod
    def establish(
        new_id: str, factory: KnownFactory, established_on: dt.date, today: dt.date, previous: Committee | None
    ) -> list[CommitteeEvent]:
        programme = COUNTRY_PROGRAMMES.get(factory.country)
        if programme is None:
            raise IllegalStep(f"there is no country programme in {factory.country}")
        if not programme.runs_committees:
            raise IllegalStep(f"{programme.programme} does not run worker-management committees")
        if not factory.enrolled:
            now = factory.enrollment or "not enrolled"
            raise IllegalStep(f"factory {factory.id} is {now}; committees are set up in enrolled factories")
        not_future("established_on", established_on, today)
        if previous is not None and previous.dissolved_on is None:
            raise IllegalStep(
                f"factory {factory.id} already has a committee, {previous.id}, since {previous.established_on}; "
                "a factory has one committee at a time"
            )
        if previous is not None and previous.dissolved_on is not None and established_on < previous.dissolved_on:
            raise IllegalStep(
                f"the new committee cannot start ({established_on}) before {previous.id} was dissolved "
                f"({previous.dissolved_on})"
            )
        return [
            CommitteeEstablished(
                committee_id=new_id, factory_id=factory.id, country=factory.country, established_on=established_on
            )
        ]

    def record_election(
        self,
        held_on: dt.date,
        seats: int,
        candidates: Sequence[Candidate],
        term_ends_on: dt.date,
        today: dt.date,
        tie_break: Sequence[str] = (),
    ) -> list[CommitteeEvent]:
        self._active_on(held_on, "the election")
        not_future("held_on", held_on, today)
        if term_ends_on <= held_on:
            raise InvalidRequest(f"term_ends_on: the term must end after the election ({held_on})")
        numbers = [c.person.employee_number for c in candidates]
        if len(set(numbers)) != len(numbers):
            twice = sorted({n for n in numbers if numbers.count(n) > 1})
            raise InvalidRequest(f"candidates: employee number {', '.join(twice)} stands more than once")
        if unknown := [n for n in tie_break if n not in numbers]:
            raise InvalidRequest(f"tie_break: {', '.join(unknown)} did not stand in the election")
        for candidate in candidates:
            # A manager standing for the workers' side is a sign of interference, elected or not.
            self._not_on_the_other_side(candidate.person, Side.WORKERS, held_on)
        winners = elect(candidates, seats, tie_break)
        election_id = f"E-{len(self.elections) + 1}"
        first = self._next_member_number()
        elected = tuple(
            CommitteeMember(
                member_id=f"M-{first + i}",
                person=c.person,
                side=Side.WORKERS,
                term_starts_on=held_on,
                term_ends_on=term_ends_on,
                election_id=election_id,
            )
            for i, c in enumerate(winners)
        )
        # Re-elected representatives start a new term: their current seat ends with the election.
        re_elected = {seat.person.employee_number for seat in elected}
        events: list[CommitteeEvent] = [
            MemberLeft(
                committee_id=self.id,
                factory_id=self.factory_id,
                member_id=m.member_id,
                left_on=held_on,
                reason=f"re-elected in {election_id} on {held_on} for a new term",
            )
            for m in self.members.values()
            if m.person.employee_number in re_elected and m.sits_on_or_after(held_on)
        ]
        events.append(
            ElectionRecorded(
                committee_id=self.id,
                factory_id=self.factory_id,
                election_id=election_id,
                held_on=held_on,
                seats=seats,
                candidates=tuple(candidates),
                tie_break=tuple(tie_break),
                elected=elected,
            )
        )
        return events

    def appoint(
        self,
        person: Person,
        term_starts_on: dt.date,
        term_ends_on: dt.date | None,
        office: Office = Office.MEMBER,
    ) -> list[CommitteeEvent]:
        self._active_on(term_starts_on, "the appointment")
        if term_ends_on is not None and term_ends_on < term_starts_on:
            raise InvalidRequest(f"term_ends_on: the term cannot end before it starts ({term_starts_on})")
        self._free_to_sit(person, Side.MANAGEMENT, term_starts_on)
        self._office_free(office, term_starts_on)
        member = CommitteeMember(
            member_id=f"M-{self._next_member_number()}",
            person=person,
            side=Side.MANAGEMENT,
            office=office,
            term_starts_on=term_starts_on,
            term_ends_on=term_ends_on,
        )
        return [ManagementRepresentativeAppointed(committee_id=self.id, factory_id=self.factory_id, member=member)]

    def assign_office(self, member_id: str, office: Office, today: dt.date) -> list[CommitteeEvent]:
        self._active()
        member = self._member(member_id)
        if not member.sits_on_or_after(today):
            raise IllegalStep(f"{member.person.name} ({member_id}) is no longer a member")
        if member.office is office:
            raise IllegalStep(f"{member.person.name} ({member_id}) is already {office}")
        self._office_free(office, max(today, member.term_starts_on))
        return [
            MemberOfficeAssigned(committee_id=self.id, factory_id=self.factory_id, member_id=member_id, office=office)
        ]

    def record_departure(self, member_id: str, left_on: dt.date, reason: str, today: dt.date) -> list[CommitteeEvent]:
        self._active()
        member = self._member(member_id)
        not_future("left_on", left_on, today)
        self._seat_ends(member, left_on)
        return [
            MemberLeft(
                committee_id=self.id, factory_id=self.factory_id, member_id=member_id, left_on=left_on, reason=reason
            )
        ]

    def replace(
        self, member_id: str, replaced_on: dt.date, reason: str, replacement: Person | None, today: dt.date
    ) -> list[CommitteeEvent]:
        """The member leaves and someone takes the seat for the rest of the term.

        Worker representatives are elected, never appointed: the seat goes to the next runner-up
        of the election that filled it, or is filled by a new election."""
        self._active()
        member = self._member(member_id)
        not_future("replaced_on", replaced_on, today)
        self._seat_ends(member, replaced_on)
        if member.side is Side.WORKERS:
            runner_up = self._next_runner_up(member)
            if replacement is not None and replacement.employee_number != runner_up.employee_number:
                raise IllegalStep(
                    f"worker representatives are elected: the seat goes to the next runner-up, {runner_up.name} "
                    f"({runner_up.employee_number}), not to {replacement.name}"
                )
            replacement = runner_up
        elif replacement is None:
            raise InvalidRequest("replacement: name the management representative who takes the seat")
        self._free_to_sit(replacement, member.side, replaced_on, leaving=member_id)
        seat = CommitteeMember(
            member_id=f"M-{self._next_member_number()}",
            person=replacement,
            side=member.side,
            term_starts_on=replaced_on,
            term_ends_on=member.term_ends_on,
            election_id=member.election_id,
        )
        return [
            MemberReplaced(
                committee_id=self.id,
                factory_id=self.factory_id,
                member_id=member_id,
                replaced_on=replaced_on,
                reason=reason,
                replacement=seat,
            )
        ]

    def record_meeting(
        self,
        held_on: dt.date,
        attendees: Sequence[str],
        agenda: Sequence[AgendaTopic],
        minutes: str,
        today: dt.date,
        decisions: Sequence[str] = (),
        guests: Sequence[str] = (),
        action_items: Sequence[NewActionItem] = (),
    ) -> list[CommitteeEvent]:
        self._active_on(held_on, "the meeting")
        not_future("held_on", held_on, today)
        if len(set(attendees)) != len(attendees):
            raise InvalidRequest("attendees: a member is listed more than once")
        for member_id in attendees:
            self.sitting_member(member_id, held_on, "attend")
        meeting_id = f"MT-{len(self.meetings) + 1}"
        events: list[CommitteeEvent] = [
            MeetingRecorded(
                committee_id=self.id,
                factory_id=self.factory_id,
                meeting_id=meeting_id,
                held_on=held_on,
                attendees=tuple(attendees),
                guests=tuple(guests),
                agenda=tuple(agenda),
                minutes=minutes,
                decisions=tuple(decisions),
            )
        ]
        first = len(self.action_items) + 1
        for i, item in enumerate(action_items):
            events.append(self._action_item(f"AI-{first + i}", meeting_id, held_on, item, f"action_items[{i}]"))
        return events

    def raise_action_item(self, meeting_id: str, item: NewActionItem) -> list[CommitteeEvent]:
        """An action item from a meeting already recorded (e.g. typed up from the minutes later)."""
        self._active()
        meeting = self._meeting(meeting_id)
        return [self._action_item(f"AI-{len(self.action_items) + 1}", meeting_id, meeting.held_on, item, "")]

    def start_action_item(self, action_item_id: str, note: str | None) -> list[CommitteeEvent]:
        self._active()
        item = self._action_item_named(action_item_id)
        if item.status is not ActionItemStatus.OPEN:
            raise IllegalStep(f"action item {action_item_id} is already {item.status}")
        return [
            ActionItemStarted(
                committee_id=self.id, factory_id=self.factory_id, action_item_id=action_item_id, note=note
            )
        ]

    def close_action_item(
        self, action_item_id: str, closed_on: dt.date, outcome: str, today: dt.date
    ) -> list[CommitteeEvent]:
        self._active()
        item = self._action_item_named(action_item_id)
        if item.status is ActionItemStatus.DONE:
            raise IllegalStep(f"action item {action_item_id} was closed on {item.closed_on}")
        not_future("closed_on", closed_on, today)
        raised_on = self.meetings[item.meeting_id].held_on
        if closed_on < raised_on:
            raise IllegalStep(
                f"action item {action_item_id} cannot close ({closed_on}) before it was raised ({raised_on})"
            )
        return [
            ActionItemClosed(
                committee_id=self.id,
                factory_id=self.factory_id,
                action_item_id=action_item_id,
                closed_on=closed_on,
                outcome=outcome,
            )
        ]

    def dissolve(self, dissolved_on: dt.date, reason: str, today: dt.date) -> list[CommitteeEvent]:
        self._active_on(dissolved_on, "the dissolution")
        not_future("dissolved_on", dissolved_on, today)
        if self.meetings and (last := max(m.held_on for m in self.meetings.values())) > dissolved_on:
            raise IllegalStep(f"the committee met on {last}, after {dissolved_on}")
        return [
            CommitteeDissolved(
                committee_id=self.id, factory_id=self.factory_id, dissolved_on=dissolved_on, reason=reason
            )
        ]

    # --- state ---------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.established_on is not None and self.dissolved_on is None

    def members_on(self, day: dt.date) -> list[Member]:
        return [m for m in self.members.values() if m.sits_on(day)]

    def sitting_member(self, member_id: str, day: dt.date, what: str) -> Member:
        """The member `member_id`, who must sit on the committee on `day` to `what` (IllegalStep if not)."""
        member = self.members.get(member_id)
        if member is None:
            raise IllegalStep(f"{member_id} is not a member of committee {self.id}, so cannot {what}")
        if not member.sits_on(day):
            raise IllegalStep(f"{member.person.name} ({member_id}) is not a member on {day}, so cannot {what}")
        return member

    def sat_on(self, day: dt.date) -> bool:
        """Whether the committee existed on `day` (it no longer sits on the day it was dissolved)."""
        return (
            self.established_on is not None
            and self.established_on <= day
            and (self.dissolved_on is None or day < self.dissolved_on)
        )

    @property
    def stream(self) -> str:
        return committee_stream(self.id)

    def apply(self, event: CommitteeEvent) -> None:
        match event:
            case CommitteeEstablished():
                self.factory_id, self.country = event.factory_id, event.country
                self.established_on = event.established_on
            case ElectionRecorded():
                self.elections[event.election_id] = event
                for seat in event.elected:
                    self.members[seat.member_id] = Member.of(seat)
            case ManagementRepresentativeAppointed():
                self.members[event.member.member_id] = Member.of(event.member)
            case MemberOfficeAssigned():
                self.members[event.member_id].office = event.office
            case MemberLeft():
                self._leave(event.member_id, event.left_on, event.reason)
            case MemberReplaced():
                self._leave(event.member_id, event.replaced_on, event.reason)
                self.members[event.replacement.member_id] = Member.of(event.replacement)
            case MeetingRecorded():
                self.meetings[event.meeting_id] = event
            case ActionItemRaised():
                self.action_items[event.action_item_id] = ActionItem(
                    event.action_item_id,
                    event.meeting_id,
                    event.description,
                    event.owner,
                    event.due_on,
                    event.references,
                )
            case ActionItemStarted():
                item = self.action_items[event.action_item_id]
                item.status, item.note = ActionItemStatus.IN_PROGRESS, event.note
            case ActionItemClosed():
                item = self.action_items[event.action_item_id]
                item.status, item.closed_on, item.outcome = ActionItemStatus.DONE, event.closed_on, event.outcome
            case CommitteeDissolved():
                self.dissolved_on, self.dissolution_reason = event.dissolved_on, event.reason
        self.version += 1

    @classmethod
    def rebuild(cls, committee_id: str, events: Sequence[CommitteeEvent]) -> Committee:
        committee = cls(id=committee_id)
        for event in events:
            committee.apply(event)
        return committee

    # --- rules ---------------------------------------------------------------------------------

    def _active(self) -> None:
        if self.established_on is None:
            raise NotFound(f"no committee {self.id}")
        if self.dissolved_on is not None:
            raise IllegalStep(
                f"committee {self.id} was dissolved on {self.dissolved_on} ({self.dissolution_reason}); "
                "establish a new one"
            )

    def _active_on(self, day: dt.date, what: str) -> None:
        self._active()
        assert self.established_on is not None
        if day < self.established_on:
            raise IllegalStep(f"{what} ({day}) cannot be before the committee was established ({self.established_on})")

    def _member(self, member_id: str) -> Member:
        member = self.members.get(member_id)
        if member is None:
            raise NotFound(f"committee {self.id} has no member {member_id}")
        return member

    def _meeting(self, meeting_id: str) -> MeetingRecorded:
        meeting = self.meetings.get(meeting_id)
        if meeting is None:
            raise NotFound(f"committee {self.id} has no meeting {meeting_id}")
        return meeting

    def _action_item_named(self, action_item_id: str) -> ActionItem:
        item = self.action_items.get(action_item_id)
        if item is None:
            raise NotFound(f"committee {self.id} has no action item {action_item_id}")
        return item

    def _next_member_number(self) -> int:
        return len(self.members) + 1

    def _seats_of(self, person: Person, day: dt.date) -> list[Member]:
        return [
            m
            for m in self.members.values()
            if m.person.employee_number == person.employee_number and m.sits_on_or_after(day)
        ]

    def _not_on_the_other_side(self, person: Person, side: Side, day: dt.date) -> None:
        for seat in self._seats_of(person, day):
            if seat.side is not side:
                raise IllegalStep(
                    f"{person.name} ({person.employee_number}) sits on the committee as {seat.role} ({seat.member_id}); "
                    "a person cannot hold two roles"
                )

    def _free_to_sit(self, person: Person, side: Side, day: dt.date, leaving: str | None = None) -> None:
        for seat in self._seats_of(person, day):
            if seat.member_id != leaving:
                raise IllegalStep(
                    f"{person.name} ({person.employee_number}) already sits on the committee as {seat.role} "
                    f"({seat.member_id}); a person cannot hold two roles"
                )

    def _office_free(self, office: Office, day: dt.date) -> None:
        if office is Office.MEMBER:
            return
        for holder in self.members.values():
            if holder.office is office and holder.sits_on_or_after(day):
                raise IllegalStep(f"{holder.person.name} ({holder.member_id}) is already the {office}")

    def _seat_ends(self, member: Member, on: dt.date) -> None:
        if member.left_on is not None:
            raise IllegalStep(f"{member.person.name} ({member.member_id}) left the committee on {member.left_on}")
        if member.term_ends_on is not None and on > member.term_ends_on:
            raise IllegalStep(
                f"the term of {member.person.name} ({member.member_id}) already ended on {member.term_ends_on}"
            )
        if on < member.term_starts_on:
            raise IllegalStep(
                f"{member.person.name} ({member.member_id}) cannot leave ({on}) before their term starts "
                f"({member.term_starts_on})"
            )

    def _next_runner_up(self, member: Member) -> Person:
        election = self.elections.get(member.election_id or "")
        if election is None:
            raise IllegalStep(f"{member.member_id} was not elected; hold an election for the seat")
        seated = {m.person.employee_number for m in self.members.values() if m.election_id == election.election_id}
        remaining = [
            c for c in ranked(election.candidates, election.tie_break) if c.person.employee_number not in seated
        ]
        remaining = [c for c in remaining if c.votes > 0]
        if not remaining:
            raise IllegalStep(
                f"no runner-up of the election on {election.held_on} is left to take the seat; hold a by-election"
            )
        if len(remaining) > 1 and remaining[1].votes == remaining[0].votes and not _ordered(remaining[:2], election):
            raise IllegalStep(
                f"runners-up {remaining[0].person.name} and {remaining[1].person.name} tied with "
                f"{remaining[0].votes} votes; hold a by-election"
            )
        return remaining[0].person

    def _action_item(
        self, action_item_id: str, meeting_id: str, held_on: dt.date, item: NewActionItem, where: str
    ) -> ActionItemRaised:
        prefix = f"{where}." if where else ""
        self.sitting_member(item.owner, held_on, "own an action item")
        if item.due_on < held_on:
            raise InvalidRequest(f"{prefix}due_on: an action item cannot be due before its meeting ({held_on})")
        return ActionItemRaised(
            committee_id=self.id,
            factory_id=self.factory_id,
            action_item_id=action_item_id,
            meeting_id=meeting_id,
            description=item.description,
            owner=item.owner,
            due_on=item.due_on,
            references=item.references,
        )

    def _leave(self, member_id: str, on: dt.date, reason: str) -> None:
        member = self.members[member_id]
        member.left_on, member.left_reason = on, reason


def not_future(field_name: str, day: dt.date, today: dt.date) -> None:
    if day > today:
        raise InvalidRequest(f"{field_name}: {day} is in the future (today is {today} in the factory's country)")


def ranked(candidates: Sequence[Candidate], tie_break: Sequence[str] = ()) -> list[Candidate]:
    """Most votes first; among equal votes, the order of `tie_break`, then as listed."""
    order = {number: i for i, number in enumerate(tie_break)}
    return sorted(candidates, key=lambda c: (-c.votes, order.get(c.person.employee_number, len(order))))


def _ordered(candidates: Sequence[Candidate], election: ElectionRecorded) -> bool:
    return all(c.person.employee_number in election.tie_break for c in candidates)


def elect(candidates: Sequence[Candidate], seats: int, tie_break: Sequence[str] = ()) -> list[Candidate]:
    """Who wins the seats: the most votes, at least one vote each. A tie for the last seat is decided
    only by `tie_break` (a run-off's or a draw's order); without one it is an error, never chance."""
    with_votes = [c for c in candidates if c.votes > 0]
    if len(with_votes) <= seats:
        return ranked(with_votes)
    by_votes = ranked(with_votes)
    last_seat = by_votes[seats - 1].votes
    if by_votes[seats].votes != last_seat:
        return by_votes[:seats]
    tied = [c for c in by_votes if c.votes == last_seat]
    if not all(c.person.employee_number in tie_break for c in tied):
        raise ElectionTied(tied, seats - sum(1 for c in by_votes if c.votes > last_seat))
    return ranked(with_votes, tie_break)[:seats]


# --- health ---------------------------------------------------------------------------------------


class HealthStatus(StrEnum):
    OK = "ok"
    ATTENTION = "attention"
    NOT_MET = "not-met"
    UNKNOWN = "unknown"  # the facts to judge by are missing: the reason says which


@dataclass(frozen=True)
class HealthCheck:
    name: str
    status: HealthStatus
    reason: str


@dataclass(frozen=True)
class HealthPolicy:
    """What the programme expects of a committee; each country team may tune it."""

    meeting_every_days: int = 31
    meeting_grace_days: int = 7
    women_share_tolerance: float = 15.0  # percentage points between members and workforce


@dataclass(frozen=True)
class Workforce:
    total: int
    women: int


def health_checks(
    committee: Committee, workforce: Workforce | None, today: dt.date, policy: HealthPolicy = HealthPolicy()
) -> list[HealthCheck]:
    """What the portals show about a committee on `today`: each check with its status and why."""
    if not committee.active:
        reason = f"dissolved on {committee.dissolved_on}: {committee.dissolution_reason}"
        return [HealthCheck("committee-active", HealthStatus.NOT_MET, reason)]
    members = committee.members_on(today)
    return [
        _elected_representatives(committee, members, today),
        _workers_at_least_half(members),
        _women_represented(members, workforce, policy),
        _meeting_cadence(committee, today, policy),
    ]


def _elected_representatives(committee: Committee, members: list[Member], today: dt.date) -> HealthCheck:
    name = "worker-representatives-elected"
    workers = [m for m in members if m.side is Side.WORKERS]
    if not committee.elections:
        return HealthCheck(name, HealthStatus.NOT_MET, "the workers have not elected representatives yet")
    latest = max(committee.elections.values(), key=lambda e: e.held_on)
    if not workers:
        ended = max(
            (m.term_ends_on for m in committee.members.values() if m.side is Side.WORKERS and m.term_ends_on),
            default=None,
        )
        why = f"their terms ended on {ended}" if ended and ended < today else "none of them sits any more"
        return HealthCheck(
            name,
            HealthStatus.NOT_MET,
            f"no elected worker representative sits on the committee ({why}); hold an election",
        )
    contest = f"{len(latest.candidates)} candidates for {latest.seats} seat{'s' if latest.seats > 1 else ''}"
    if len(latest.candidates) <= latest.seats:
        return HealthCheck(
            name,
            HealthStatus.ATTENTION,
            f"{len(workers)} elected worker representatives, but the last election ({latest.held_on}) was "
            f"uncontested: {contest}",
        )
    return HealthCheck(
        name,
        HealthStatus.OK,
        f"{len(workers)} worker representatives, elected; the last election was on {latest.held_on} ({contest})",
    )


def _workers_at_least_half(members: list[Member]) -> HealthCheck:
    name = "workers-at-least-half"
    if not members:
        return HealthCheck(name, HealthStatus.NOT_MET, "the committee has no members")
    workers = sum(1 for m in members if m.side is Side.WORKERS)
    counted = f"{workers} of the {len(members)} members are worker representatives"
    if 2 * workers >= len(members):
        return HealthCheck(name, HealthStatus.OK, counted)
    return HealthCheck(name, HealthStatus.NOT_MET, f"{counted}; at least half must be")


def _women_represented(members: list[Member], workforce: Workforce | None, policy: HealthPolicy) -> HealthCheck:
    name = "women-represented"
    if workforce is None or workforce.total <= 0:
        return HealthCheck(
            name,
            HealthStatus.UNKNOWN,
            "the factory's workforce by sex is not recorded in the factory registry, so the women's share cannot be compared",
        )
    if not members:
        return HealthCheck(name, HealthStatus.NOT_MET, "the committee has no members")
    women = sum(1 for m in members if m.person.sex is Sex.FEMALE)
    among_members = 100 * women / len(members)
    in_workforce = 100 * workforce.women / workforce.total
    gap = among_members - in_workforce
    facts = (
        f"women are {among_members:.0f}% of the members ({women} of {len(members)}) and {in_workforce:.0f}% of the "
        f"workforce ({workforce.women:,} of {workforce.total:,})"
    )
    if abs(gap) <= policy.women_share_tolerance:
        return HealthCheck(name, HealthStatus.OK, facts)
    direction = "under" if gap < 0 else "over"
    return HealthCheck(
        name,
        HealthStatus.NOT_MET,
        f"{facts}: {direction}-represented by {abs(gap):.0f} points, more than the "
        f"{policy.women_share_tolerance:.0f} allowed",
    )


def _meeting_cadence(committee: Committee, today: dt.date, policy: HealthPolicy) -> HealthCheck:
    name = "meeting-cadence"
    assert committee.established_on is not None
    held = [m.held_on for m in committee.meetings.values()]
    since = max(held) if held else committee.established_on
    what = (
        f"the last meeting was on {since}" if held else f"no meeting yet since the committee was established on {since}"
    )
    due = since + dt.timedelta(days=policy.meeting_every_days)
    days = (today - since).days
    expected = f"one is expected every {policy.meeting_every_days} days"
    if days <= policy.meeting_every_days:
        return HealthCheck(name, HealthStatus.OK, f"{what}; the next is due by {due}")
    if days <= policy.meeting_every_days + policy.meeting_grace_days:
        return HealthCheck(name, HealthStatus.ATTENTION, f"{what}, {days} days ago; the next was due by {due}")
    return HealthCheck(name, HealthStatus.NOT_MET, f"{what}, {days} days ago; {expected}")
