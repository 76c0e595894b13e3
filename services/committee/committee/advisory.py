"""Advisory services as the programme runs them: plain Python, events in, events out.

An enterprise advisor works with a factory through one plan per cycle of its service package:
the visits the package includes, the advisor, and the priorities agreed with the factory, each
answering findings of the latest assessment or action items of the factory's committee. Visits
are planned, then held (or cancelled, or missed); at each one the factory commits to things by
dates, and at later ones the advisor follows them up. The factory may confirm or comment on the
record of a visit.

Dates are the factory's calendar days. Nothing here reads a clock: commands that must not record
the future are given `today`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, TypeAlias

from betterwork_events.contracts.advisory import (
    AdvisorAssigned,
    AdvisoryCommitmentFollowedUp,
    AdvisoryCommitmentMade,
    AdvisoryPlanAgreed,
    AdvisoryPriority,
    AdvisoryPriorityAgreed,
    AdvisoryTopic,
    AdvisoryVisitCancelled,
    AdvisoryVisitHeld,
    AdvisoryVisitMissed,
    AdvisoryVisitPlanned,
    AdvisoryVisitRecordCommented,
    AdvisoryVisitRecordConfirmed,
    AdvisoryVisitsRevised,
    Approval,
    Attendee,
    CommitteeAttendee,
    FollowUpStatus,
    Participants,
    TopicWorked,
    UnionPresence,
)
from betterwork_events.contracts.factory_registry import ServicePackage
from betterwork_events.errors import IllegalStep, InvalidRequest, NotFound

from committee.domain import Committee, not_future

if TYPE_CHECKING:
    from betterwork_events.factories import KnownFactory

# How many advisory visits one cycle of each service package includes. A plan may promise more
# only with the programme's approval (`Approval`).
VISITS_INCLUDED: dict[ServicePackage, int] = {
    ServicePackage.CORE: 4,
    ServicePackage.ASSESSMENT_ONLY: 0,
}

AdvisoryEvent: TypeAlias = (
    AdvisoryPlanAgreed
    | AdvisorAssigned
    | AdvisoryPriorityAgreed
    | AdvisoryVisitsRevised
    | AdvisoryVisitPlanned
    | AdvisoryVisitHeld
    | AdvisoryCommitmentMade
    | AdvisoryCommitmentFollowedUp
    | AdvisoryVisitCancelled
    | AdvisoryVisitMissed
    | AdvisoryVisitRecordConfirmed
    | AdvisoryVisitRecordCommented
)


def plan_stream(plan_id: str) -> str:
    return f"advisory-plan-{plan_id}"


def plan_id(factory_id: str, cycle: int) -> str:
    """A factory's plans are numbered by cycle: the next cycle's plan follows the last one."""
    return f"{factory_id}-AP{cycle}"


def action_item_links(committees: Sequence[Committee]) -> set[str]:
    """What a priority may link to among the factory's committees: `action-item:<committee>/<item>`."""
    return {f"action-item:{c.id}/{item}" for c in committees for item in c.action_items}


class VisitStatus(StrEnum):
    PLANNED = "planned"
    HELD = "held"
    CANCELLED = "cancelled"
    MISSED = "missed"


class CommitmentStatus(StrEnum):
    OPEN = "open"
    LATE = "late"  # followed up past its due date and not done: still open
    DONE = "done"
    DROPPED = "dropped"


CLOSED = (CommitmentStatus.DONE, CommitmentStatus.DROPPED)


@dataclass(frozen=True)
class NewPriority:
    topic: AdvisoryTopic
    description: str
    links: tuple[str, ...]


@dataclass(frozen=True)
class NewCommitment:
    description: str
    topic: AdvisoryTopic
    due_on: dt.date
    priority_id: str | None = None


@dataclass(frozen=True)
class FollowUp:
    commitment_id: str
    status: FollowUpStatus
    note: str | None = None
    due_on: dt.date | None = None  # a late commitment's new due date


@dataclass(frozen=True)
class VisitRecord:
    """What the advisor records of a visit held."""

    held_on: dt.date
    remote: bool
    topics: Sequence[TopicWorked]
    notes: str
    advisor: str | None = None  # the plan's advisor, unless another held the visit
    management: Sequence[Attendee] = ()
    committee_members: Sequence[str] = ()  # member ids of the committee sitting on the day
    union: UnionPresence | None = None
    commitments: Sequence[NewCommitment] = ()
    follow_ups: Sequence[FollowUp] = ()


@dataclass(frozen=True)
class FactoryResponse:
    """The factory's word on a visit's record."""

    on: dt.date
    comment: str | None


@dataclass
class Visit:
    visit_id: str
    planned_on: dt.date
    planned_for: dt.date
    remote: bool
    planned_topics: tuple[AdvisoryTopic, ...]
    status: VisitStatus = VisitStatus.PLANNED
    record: AdvisoryVisitHeld | None = None
    called_off_on: dt.date | None = None  # cancelled or missed on
    called_off_reason: str | None = None
    confirmation: FactoryResponse | None = None
    comments: list[FactoryResponse] = field(default_factory=list)

    @property
    def counts(self) -> bool:
        """Whether the visit takes one of the visits the plan promises (a cancelled or missed one does not)."""
        return self.status in (VisitStatus.PLANNED, VisitStatus.HELD)


@dataclass
class Commitment:
    commitment_id: str
    visit_id: str
    description: str
    topic: AdvisoryTopic
    priority_id: str | None
    due_on: dt.date
    status: CommitmentStatus = CommitmentStatus.OPEN
    follow_ups: list[AdvisoryCommitmentFollowedUp] = field(default_factory=list)


@dataclass
class AdvisoryPlan:
    id: str
    factory_id: str = ""
    country: str = ""
    cycle: int = 0
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    service_package: ServicePackage | None = None
    visits_included: int = 0
    visits_promised: int = 0
    extra_visits_approval: Approval | None = None
    advisor: str = ""
    priorities: dict[str, AdvisoryPriority] = field(default_factory=dict)
    visits: dict[str, Visit] = field(default_factory=dict)
    commitments: dict[str, Commitment] = field(default_factory=dict)
    agreement: AdvisoryPlanAgreed | None = None  # the plan as first agreed
    version: int = 0

    # --- commands ----------------------------------------------------------------------------

    @staticmethod
    def agree(
        factory: KnownFactory,
        cycle: int,
        starts_on: dt.date,
        ends_on: dt.date,
        advisor: str,
        visits: int,
        priorities: Sequence[NewPriority],
        today: dt.date,
        previous: AdvisoryPlan | None,
        action_items: Collection[str] = (),
        approval: Approval | None = None,
    ) -> list[AdvisoryEvent]:
        """The plan of the factory's next cycle. `action_items` are what its priorities may link to
        among the committee's action items (`action_item_links`)."""
        _enrolled(factory, "advisory plans are made")
        if factory.service_package is None:
            raise IllegalStep(
                f"this service has not learnt which service package factory {factory.id} bought; "
                "the registry's enrollment event may still be on its way"
            )
        if ends_on <= starts_on:
            raise InvalidRequest(f"ends_on: the cycle must end after it starts ({starts_on})")
        if previous is not None and previous.ends_on is not None and starts_on <= previous.ends_on:
            raise IllegalStep(
                f"the cycle of {previous.id} runs until {previous.ends_on}; the next plan starts after it"
            )
        included = VISITS_INCLUDED[factory.service_package]
        _within_package(visits, included, factory.service_package, approval, today)
        new_id = plan_id(factory.id, cycle)
        return [
            AdvisoryPlanAgreed(
                plan_id=new_id,
                factory_id=factory.id,
                country=factory.country,
                cycle=cycle,
                starts_on=starts_on,
                ends_on=ends_on,
                service_package=factory.service_package,
                visits_included=included,
                visits_promised=visits,
                extra_visits_approval=approval,
                advisor=advisor,
                priorities=tuple(
                    _priority(f"P-{i + 1}", p, action_items, f"priorities[{i}].") for i, p in enumerate(priorities)
                ),
            )
        ]

    def assign_advisor(self, advisor: str, assigned_on: dt.date, reason: str, today: dt.date) -> list[AdvisoryEvent]:
        self._agreed()
        not_future("assigned_on", assigned_on, today)
        if advisor == self.advisor:
            raise IllegalStep(f"{advisor} is already the plan's advisor")
        return [
            AdvisorAssigned(
                plan_id=self.id, factory_id=self.factory_id, advisor=advisor, assigned_on=assigned_on, reason=reason
            )
        ]

    def agree_priority(self, priority: NewPriority, action_items: Collection[str] = ()) -> list[AdvisoryEvent]:
        self._agreed()
        new = _priority(f"P-{len(self.priorities) + 1}", priority, action_items, "")
        return [AdvisoryPriorityAgreed(plan_id=self.id, factory_id=self.factory_id, priority=new)]

    def revise_visits(
        self, visits: int, reason: str, today: dt.date, approval: Approval | None = None
    ) -> list[AdvisoryEvent]:
        self._agreed()
        assert self.service_package is not None
        if visits == self.visits_promised:
            raise IllegalStep(f"the plan already promises {visits} visits")
        taken = self._visits_taken()
        if visits < taken:
            raise IllegalStep(f"{taken} visits are planned or held already; the plan cannot promise fewer")
        _within_package(visits, self.visits_included, self.service_package, approval, today)
        return [
            AdvisoryVisitsRevised(
                plan_id=self.id,
                factory_id=self.factory_id,
                visits_promised=visits,
                reason=reason,
                extra_visits_approval=approval,
            )
        ]

    def plan_visit(
        self,
        factory: KnownFactory,
        planned_on: dt.date,
        planned_for: dt.date,
        today: dt.date,
        remote: bool = False,
        topics: Sequence[AdvisoryTopic] = (),
    ) -> list[AdvisoryEvent]:
        self._agreed()
        assert self.starts_on is not None and self.ends_on is not None
        _enrolled(factory, "advisory visits are planned")
        not_future("planned_on", planned_on, today)
        if planned_for < planned_on:
            raise InvalidRequest(f"planned_for: a visit cannot be planned for a day ({planned_for}) already past")
        if not self.starts_on <= planned_for <= self.ends_on:
            raise IllegalStep(
                f"the visit ({planned_for}) must fall within the plan's cycle, {self.starts_on} to {self.ends_on}"
            )
        if (taken := self._visits_taken()) >= self.visits_promised:
            raise IllegalStep(
                f"the plan promises {self.visits_promised} visits and {taken} are planned or held; "
                "revise the plan to plan another"
            )
        return [
            AdvisoryVisitPlanned(
                plan_id=self.id,
                factory_id=self.factory_id,
                visit_id=f"V-{len(self.visits) + 1}",
                planned_on=planned_on,
                planned_for=planned_for,
                remote=remote,
                topics=tuple(topics),
            )
        ]

    def record_visit(
        self,
        visit_id: str,
        factory: KnownFactory,
        record: VisitRecord,
        committees: Sequence[Committee],
        today: dt.date,
    ) -> list[AdvisoryEvent]:
        """The visit was held: its record, the commitments made, and the earlier ones followed up.

        `committees` are the factory's: the members who took part must sit on the one of the day."""
        visit = self._planned(visit_id, "recorded as held")
        _enrolled(factory, "advisory visits are held")
        held_on = record.held_on
        if held_on < visit.planned_on:
            raise IllegalStep(
                f"visit {visit_id} was planned on {visit.planned_on}; it cannot be held before ({held_on})"
            )
        not_future("held_on", held_on, today)
        for i, topic in enumerate(record.topics):
            self._known_priority(topic.priority_id, f"topics[{i}].priority_id")
        held = AdvisoryVisitHeld(
            plan_id=self.id,
            factory_id=self.factory_id,
            visit_id=visit_id,
            held_on=held_on,
            advisor=record.advisor or self.advisor,
            remote=record.remote,
            participants=Participants(
                management=tuple(record.management),
                committee_members=_committee_attendees(record.committee_members, committees, held_on),
                union=record.union,
            ),
            topics=tuple(record.topics),
            notes=record.notes,
        )
        events: list[AdvisoryEvent] = [held]
        events += self._follow_ups(visit_id, held_on, record.follow_ups)
        first = len(self.commitments) + 1
        for i, new in enumerate(record.commitments):
            if new.due_on <= held_on:
                raise InvalidRequest(f"commitments[{i}].due_on: a commitment falls due after its visit ({held_on})")
            self._known_priority(new.priority_id, f"commitments[{i}].priority_id")
            events.append(
                AdvisoryCommitmentMade(
                    plan_id=self.id,
                    factory_id=self.factory_id,
                    commitment_id=f"CM-{first + i}",
                    visit_id=visit_id,
                    description=new.description,
                    topic=new.topic,
                    priority_id=new.priority_id,
                    due_on=new.due_on,
                )
            )
        return events

    def cancel_visit(self, visit_id: str, cancelled_on: dt.date, reason: str, today: dt.date) -> list[AdvisoryEvent]:
        visit = self._planned(visit_id, "cancelled")
        self._called_off_after_planning(visit, "cancelled_on", cancelled_on, today)
        return [
            AdvisoryVisitCancelled(
                plan_id=self.id, factory_id=self.factory_id, visit_id=visit_id, cancelled_on=cancelled_on, reason=reason
            )
        ]

    def record_missed_visit(
        self, visit_id: str, missed_on: dt.date, reason: str, today: dt.date
    ) -> list[AdvisoryEvent]:
        visit = self._planned(visit_id, "recorded as missed")
        self._called_off_after_planning(visit, "missed_on", missed_on, today)
        return [
            AdvisoryVisitMissed(
                plan_id=self.id, factory_id=self.factory_id, visit_id=visit_id, missed_on=missed_on, reason=reason
            )
        ]

    def confirm_visit_record(self, visit_id: str, comment: str | None, today: dt.date) -> list[AdvisoryEvent]:
        """The factory confirms the advisor's record of a visit held; once."""
        visit = self._visit(visit_id)
        if visit.status is not VisitStatus.HELD:
            raise IllegalStep(f"visit {visit_id} is {visit.status}; only the record of a visit held is confirmed")
        if visit.confirmation is not None:
            raise IllegalStep(f"the factory confirmed the record of visit {visit_id} on {visit.confirmation.on}")
        return [
            AdvisoryVisitRecordConfirmed(
                plan_id=self.id, factory_id=self.factory_id, visit_id=visit_id, confirmed_on=today, comment=comment
            )
        ]

    def comment_on_visit_record(self, visit_id: str, comment: str, today: dt.date) -> list[AdvisoryEvent]:
        visit = self._visit(visit_id)
        if visit.status is VisitStatus.PLANNED:
            raise IllegalStep(f"visit {visit_id} is still planned: it has no record to comment on yet")
        return [
            AdvisoryVisitRecordCommented(
                plan_id=self.id, factory_id=self.factory_id, visit_id=visit_id, commented_on=today, comment=comment
            )
        ]

    # --- state ---------------------------------------------------------------------------------

    @property
    def stream(self) -> str:
        return plan_stream(self.id)

    def apply(self, event: AdvisoryEvent) -> None:
        match event:
            case AdvisoryPlanAgreed():
                self.agreement = event
                self.factory_id, self.country, self.cycle = event.factory_id, event.country, event.cycle
                self.starts_on, self.ends_on = event.starts_on, event.ends_on
                self.service_package, self.visits_included = event.service_package, event.visits_included
                self.visits_promised, self.extra_visits_approval = event.visits_promised, event.extra_visits_approval
                self.advisor = event.advisor
                self.priorities = {p.priority_id: p for p in event.priorities}
            case AdvisorAssigned():
                self.advisor = event.advisor
            case AdvisoryPriorityAgreed():
                self.priorities[event.priority.priority_id] = event.priority
            case AdvisoryVisitsRevised():
                self.visits_promised, self.extra_visits_approval = event.visits_promised, event.extra_visits_approval
            case AdvisoryVisitPlanned():
                self.visits[event.visit_id] = Visit(
                    event.visit_id, event.planned_on, event.planned_for, event.remote, event.topics
                )
            case AdvisoryVisitHeld():
                visit = self.visits[event.visit_id]
                visit.status, visit.record = VisitStatus.HELD, event
            case AdvisoryCommitmentMade():
                self.commitments[event.commitment_id] = Commitment(
                    event.commitment_id, event.visit_id, event.description, event.topic, event.priority_id, event.due_on
                )
            case AdvisoryCommitmentFollowedUp():
                commitment = self.commitments[event.commitment_id]
                commitment.status = CommitmentStatus(event.status.value)
                commitment.due_on = event.due_on or commitment.due_on
                commitment.follow_ups.append(event)
            case AdvisoryVisitCancelled():
                self._call_off(event.visit_id, VisitStatus.CANCELLED, event.cancelled_on, event.reason)
            case AdvisoryVisitMissed():
                self._call_off(event.visit_id, VisitStatus.MISSED, event.missed_on, event.reason)
            case AdvisoryVisitRecordConfirmed():
                self.visits[event.visit_id].confirmation = FactoryResponse(event.confirmed_on, event.comment)
            case AdvisoryVisitRecordCommented():
                self.visits[event.visit_id].comments.append(FactoryResponse(event.commented_on, event.comment))
        self.version += 1

    @classmethod
    def rebuild(cls, plan_id: str, events: Sequence[AdvisoryEvent]) -> AdvisoryPlan:
        plan = cls(id=plan_id)
        for event in events:
            plan.apply(event)
        return plan

    # --- rules ---------------------------------------------------------------------------------

    def _agreed(self) -> None:
        if self.starts_on is None:
            raise NotFound(f"no advisory plan {self.id}")

    def _visits_taken(self) -> int:
        return sum(1 for v in self.visits.values() if v.counts)

    def _visit(self, visit_id: str) -> Visit:
        self._agreed()
        visit = self.visits.get(visit_id)
        if visit is None:
            raise NotFound(f"advisory plan {self.id} has no visit {visit_id}")
        return visit

    def _planned(self, visit_id: str, what: str) -> Visit:
        visit = self._visit(visit_id)
        if visit.status is VisitStatus.HELD:
            assert visit.record is not None
            raise IllegalStep(f"visit {visit_id} was held on {visit.record.held_on}")
        if visit.status is not VisitStatus.PLANNED:
            raise IllegalStep(
                f"visit {visit_id} was {visit.status} on {visit.called_off_on} ({visit.called_off_reason}); "
                f"it cannot be {what}; plan another"
            )
        return visit

    def _called_off_after_planning(self, visit: Visit, field_name: str, day: dt.date, today: dt.date) -> None:
        not_future(field_name, day, today)
        if day < visit.planned_on:
            raise IllegalStep(f"visit {visit.visit_id} was only planned on {visit.planned_on}, after {day}")

    def _call_off(self, visit_id: str, status: VisitStatus, on: dt.date, reason: str) -> None:
        visit = self.visits[visit_id]
        visit.status, visit.called_off_on, visit.called_off_reason = status, on, reason

    def _known_priority(self, priority_id: str | None, where: str) -> None:
        if priority_id is not None and priority_id not in self.priorities:
            raise IllegalStep(f"{where}: the plan has no priority {priority_id}")

    def _follow_ups(
        self, visit_id: str, held_on: dt.date, follow_ups: Sequence[FollowUp]
    ) -> list[AdvisoryCommitmentFollowedUp]:
        ids = [f.commitment_id for f in follow_ups]
        if twice := sorted({i for i in ids if ids.count(i) > 1}):
            raise InvalidRequest(f"follow_ups: {', '.join(twice)} is followed up more than once")
        events = []
        for i, follow_up in enumerate(follow_ups):
            where = f"follow_ups[{i}]"
            commitment = self.commitments.get(follow_up.commitment_id)
            if commitment is None:
                raise IllegalStep(f"{where}: the plan has no commitment {follow_up.commitment_id}")
            if commitment.status in CLOSED:
                raise IllegalStep(f"{where}: commitment {commitment.commitment_id} is {commitment.status} already")
            _follow_up_holds(follow_up, commitment, held_on, where)
            events.append(
                AdvisoryCommitmentFollowedUp(
                    plan_id=self.id,
                    factory_id=self.factory_id,
                    commitment_id=commitment.commitment_id,
                    visit_id=visit_id,
                    status=follow_up.status,
                    note=follow_up.note,
                    due_on=follow_up.due_on,
                )
            )
        return events


def _follow_up_holds(follow_up: FollowUp, commitment: Commitment, held_on: dt.date, where: str) -> None:
    """A commitment is closed (done, dropped) only with a note; it is late only once past due."""
    if follow_up.status is FollowUpStatus.LATE:
        if held_on <= commitment.due_on:
            raise IllegalStep(
                f"{where}: commitment {commitment.commitment_id} is due on {commitment.due_on}, "
                f"so it is not late at a visit on {held_on}"
            )
        if follow_up.due_on is not None and follow_up.due_on <= held_on:
            raise InvalidRequest(f"{where}.due_on: a late commitment's new due date comes after the visit ({held_on})")
        return
    if not (follow_up.note or "").strip():
        raise InvalidRequest(
            f"{where}.note: commitment {commitment.commitment_id} cannot be closed ({follow_up.status}) without a note"
        )
    if follow_up.due_on is not None:
        raise InvalidRequest(f"{where}.due_on: only a late commitment gets a new due date")


def _enrolled(factory: KnownFactory, what: str) -> None:
    if not factory.enrolled:
        now = factory.enrollment or "not enrolled"
        raise IllegalStep(f"factory {factory.id} is {now}; {what} for enrolled factories")


def _within_package(
    visits: int, included: int, package: ServicePackage, approval: Approval | None, today: dt.date
) -> None:
    """A plan promises more visits than the package includes only with the programme's approval."""
    if visits > included and approval is None:
        raise IllegalStep(
            f"the {package} package includes {included} advisory visits a cycle; promising {visits} needs the "
            "programme's approval (extra_visits_approval)"
        )
    if visits <= included and approval is not None:
        raise InvalidRequest(
            f"extra_visits_approval: {visits} visits are within the {included} the {package} package includes; "
            "no approval is needed"
        )
    if approval is not None:
        not_future("extra_visits_approval.approved_on", approval.approved_on, today)


def _priority(priority_id: str, new: NewPriority, action_items: Collection[str], prefix: str) -> AdvisoryPriority:
    for link in new.links:
        if link.startswith("action-item:") and link not in action_items:
            raise IllegalStep(f"{prefix}links: {link} is not an action item of the factory's committee")
    return AdvisoryPriority(priority_id=priority_id, topic=new.topic, description=new.description, links=new.links)


def _committee_attendees(
    member_ids: Sequence[str], committees: Sequence[Committee], day: dt.date
) -> tuple[CommitteeAttendee, ...]:
    if not member_ids:
        return ()
    if len(set(member_ids)) != len(member_ids):
        raise InvalidRequest("committee_members: a member is listed more than once")
    committee = next((c for c in reversed(committees) if c.sat_on(day)), None)
    if committee is None:
        raise IllegalStep(f"the factory had no committee on {day}, so no committee member took part")
    attendees = []
    for member_id in member_ids:
        member = committee.sitting_member(member_id, day, "take part in the visit as a committee member")
        attendees.append(
            CommitteeAttendee(committee_id=committee.id, member_id=member_id, side=member.side, sex=member.person.sex)
        )
    return tuple(attendees)
