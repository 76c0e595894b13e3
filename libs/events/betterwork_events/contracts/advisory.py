"""Events on `committee.events`: the advisory services Better Work's enterprise advisors give a
factory between assessments. A plan for one cycle of the factory's service package (how many
visits, who advises, the priorities agreed with the factory), the visits planned, held, cancelled
or missed, what the factory committed to at each visit and how those commitments were followed
up, and the factory's own word on a visit's record.

Every event belongs to one plan (stream `advisory-plan-<plan id>`) and is keyed by its factory.

What each audience may be shown, for whoever builds on these events (the gateway, brand feeds):

- a factory: its own plans and visits, all of them;
- a brand, of a supplier that consents to share with it: that the supplier has a plan, for which
  cycle, and its priorities by cluster (`AdvisoryPriority.topic` → `cluster_of`). Never the
  advisor, a priority's description, visits, notes, participants or commitments: they name
  people, and record what the factory said in confidence;
- a government: counts per country (`AdvisoryPlanAgreed.country`), never one factory.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from betterwork_events.catalogue import EventContract, contract
from betterwork_events.contracts.committee import MemberId, Name, Part, Reason, Sex, Side
from betterwork_events.contracts.factory_registry import ServicePackage

Text = Annotated[str, Field(min_length=1, max_length=2000)]
Notes = Annotated[str, Field(min_length=1, max_length=20000)]
PriorityId = Annotated[str, Field(pattern=r"^P-[1-9]\d*$", examples=["P-2"])]
VisitId = Annotated[str, Field(pattern=r"^V-[1-9]\d*$", examples=["V-3"])]
CommitmentId = Annotated[str, Field(pattern=r"^CM-[1-9]\d*$", examples=["CM-4"])]
# What a priority answers: `finding:<id>` for a finding of the factory's latest assessment,
# `action-item:<committee id>/<action item id>` for an action item of the factory's committee.
PriorityLink = Annotated[
    str,
    Field(
        pattern=r"^(finding:[A-Za-z0-9][A-Za-z0-9._-]{0,99}|action-item:[A-Za-z0-9][A-Za-z0-9._-]{0,99}/AI-[1-9]\d*)$",
        examples=["finding:KH-2026-0042-5-A1-F7", "action-item:KH-2026-0042-5-C1/AI-3"],
    ),
]
# The most visits one cycle's plan may promise: a visit a week.
MOST_VISITS = 52


class Cluster(StrEnum):
    """The clusters of the assessment tool (services/assessment/assessment/tools/global-1.json)."""

    CHILD_LABOUR = "child-labour"
    DISCRIMINATION = "discrimination"
    FORCED_LABOUR = "forced-labour"
    FREEDOM_OF_ASSOCIATION = "freedom-of-association"
    COMPENSATION = "compensation"
    CONTRACTS_AND_HR = "contracts-and-hr"
    OSH = "osh"
    WORKING_TIME = "working-time"


class AdvisoryTopic(StrEnum):
    """What an advisor works on with a factory: `<cluster>.<subject>`, each within one cluster of
    the assessment tool, so that advice can be set beside what the assessments found."""

    AGE_VERIFICATION = "child-labour.age-verification"
    NON_DISCRIMINATION = "discrimination.non-discrimination"
    SEXUAL_HARASSMENT = "discrimination.sexual-harassment-prevention"
    RESPONSIBLE_RECRUITMENT = "forced-labour.responsible-recruitment"
    SOCIAL_DIALOGUE = "freedom-of-association.social-dialogue"
    COLLECTIVE_BARGAINING = "freedom-of-association.collective-bargaining"
    WAGES = "compensation.wages-and-benefits"
    CONTRACTS = "contracts-and-hr.contracts"
    GRIEVANCES = "contracts-and-hr.grievances-and-discipline"
    OSH_MANAGEMENT = "osh.management-system"
    FIRE_SAFETY = "osh.fire-and-emergency-preparedness"
    CHEMICALS = "osh.chemical-safety"
    WORKING_HOURS = "working-time.hours-and-overtime"
    LEAVE = "working-time.leave"


TOPIC_NAMES: dict[AdvisoryTopic, str] = {
    AdvisoryTopic.AGE_VERIFICATION: "Age verification and young workers",
    AdvisoryTopic.NON_DISCRIMINATION: "Non-discrimination and gender equality",
    AdvisoryTopic.SEXUAL_HARASSMENT: "Preventing sexual harassment",
    AdvisoryTopic.RESPONSIBLE_RECRUITMENT: "Responsible recruitment and freedom of movement",
    AdvisoryTopic.SOCIAL_DIALOGUE: "Social dialogue and the worker-management committee",
    AdvisoryTopic.COLLECTIVE_BARGAINING: "Collective bargaining",
    AdvisoryTopic.WAGES: "Wages, benefits and payslips",
    AdvisoryTopic.CONTRACTS: "Employment contracts",
    AdvisoryTopic.GRIEVANCES: "Grievance handling and discipline",
    AdvisoryTopic.OSH_MANAGEMENT: "OSH management system and risk assessment",
    AdvisoryTopic.FIRE_SAFETY: "Fire safety and emergency preparedness",
    AdvisoryTopic.CHEMICALS: "Chemical safety",
    AdvisoryTopic.WORKING_HOURS: "Working hours and overtime planning",
    AdvisoryTopic.LEAVE: "Leave and holidays",
}


def cluster_of(topic: AdvisoryTopic) -> Cluster:
    return Cluster(topic.split(".", 1)[0])


class FollowUpStatus(StrEnum):
    """What became of a commitment, as an advisor found at a later visit."""

    DONE = "done"  # closes it
    LATE = "late"  # past its due date and not done: it stays open, perhaps with a new date
    DROPPED = "dropped"  # closes it: no longer to be done (the reason says why)


class Approval(Part):
    """The programme's approval of more advisory visits than the factory's service package includes."""

    approved_by: Name = Field(examples=["Country programme manager, Better Factories Cambodia"])
    approved_on: dt.date
    reason: Reason


class AdvisoryPriority(Part):
    """What the advisor and the factory agreed to work on in the cycle."""

    priority_id: PriorityId
    topic: AdvisoryTopic
    description: Text = Field(examples=["Keep every emergency exit of the cutting floor clear"])
    links: tuple[PriorityLink, ...] = Field(
        min_length=1, max_length=20, description="The findings or committee action items the priority answers"
    )


class Attendee(Part):
    name: Name
    role: str = Field(min_length=1, max_length=200, examples=["HR manager"])


class CommitteeAttendee(Part):
    """A member of the factory's worker-management committee who took part."""

    committee_id: str
    member_id: MemberId
    side: Side
    sex: Sex


class UnionPresence(Part):
    union: Name = Field(description="The union at the factory", examples=["Cambodian Alliance of Trade Unions"])
    representatives: tuple[Attendee, ...] = Field(min_length=1, max_length=50)


class Participants(Part):
    """Who took part in a visit besides the advisor."""

    management: tuple[Attendee, ...] = Field(default=(), max_length=100)
    committee_members: tuple[CommitteeAttendee, ...] = Field(default=(), max_length=100)
    union: UnionPresence | None = Field(default=None, description="Where the factory has a union")


class TopicWorked(Part):
    topic: AdvisoryTopic
    priority_id: PriorityId | None = Field(default=None, description="The plan's priority it served, if any")
    note: str | None = Field(default=None, max_length=2000)


class AdvisoryEvent(EventContract):
    topic_service = "committee"
    plan_id: str = Field(description="The plan's id: its factory's id and its cycle, e.g. KH-2026-0042-5-AP1")
    factory_id: str = Field(description="The factory advised (its permanent programme id)")


@contract("org.betterwork.advisory.plan-agreed.v1")
class AdvisoryPlanAgreed(AdvisoryEvent):
    """The factory and its advisor agreed the advisory plan of a cycle of the factory's service package."""

    country: str = Field(pattern=r"^[A-Z]{2}$", description="The factory's country programme")
    cycle: int = Field(ge=1, description="The factory's advisory cycles are numbered from 1")
    starts_on: dt.date
    ends_on: dt.date = Field(description="The last day of the cycle")
    service_package: ServicePackage = Field(description="The package of the factory's enrollment")
    visits_included: int = Field(ge=0, le=MOST_VISITS, description="The advisory visits the package includes")
    visits_promised: int = Field(ge=1, le=MOST_VISITS)
    extra_visits_approval: Approval | None = Field(
        default=None, description="The programme's approval of promising more visits than the package includes"
    )
    advisor: Name = Field(description="The enterprise advisor assigned")
    priorities: tuple[AdvisoryPriority, ...] = Field(default=(), max_length=50)


@contract("org.betterwork.advisory.advisor-assigned.v1")
class AdvisorAssigned(AdvisoryEvent):
    """Another enterprise advisor took the plan over."""

    advisor: Name
    assigned_on: dt.date
    reason: Reason


@contract("org.betterwork.advisory.priority-agreed.v1")
class AdvisoryPriorityAgreed(AdvisoryEvent):
    """A priority added to the plan after it was agreed."""

    priority: AdvisoryPriority


@contract("org.betterwork.advisory.visits-revised.v1")
class AdvisoryVisitsRevised(AdvisoryEvent):
    """The plan now promises another number of visits."""

    visits_promised: int = Field(ge=1, le=MOST_VISITS)
    reason: Reason
    extra_visits_approval: Approval | None = None


@contract("org.betterwork.advisory.visit-planned.v1")
class AdvisoryVisitPlanned(AdvisoryEvent):
    visit_id: VisitId
    planned_on: dt.date = Field(description="The day the visit was agreed with the factory")
    planned_for: dt.date = Field(description="The day it is to take place")
    remote: bool = False
    topics: tuple[AdvisoryTopic, ...] = Field(default=(), max_length=20, description="What it is to work on")


@contract("org.betterwork.advisory.visit-held.v1")
class AdvisoryVisitHeld(AdvisoryEvent):
    """The advisor's record of a visit held: who took part, what was worked on, the notes."""

    visit_id: VisitId
    held_on: dt.date
    advisor: Name
    remote: bool
    participants: Participants
    topics: tuple[TopicWorked, ...] = Field(min_length=1, max_length=20)
    notes: Notes


@contract("org.betterwork.advisory.commitment-made.v1")
class AdvisoryCommitmentMade(AdvisoryEvent):
    """At a visit, the factory committed to do something by a date."""

    commitment_id: CommitmentId
    visit_id: VisitId
    description: Text = Field(examples=["Move the fabric rolls away from the east exit and mark the floor"])
    topic: AdvisoryTopic
    priority_id: PriorityId | None = None
    due_on: dt.date


@contract("org.betterwork.advisory.commitment-followed-up.v1")
class AdvisoryCommitmentFollowedUp(AdvisoryEvent):
    """At a later visit, the advisor found an earlier commitment done, late or dropped."""

    commitment_id: CommitmentId
    visit_id: VisitId = Field(description="The visit at which it was followed up")
    status: FollowUpStatus
    note: str | None = Field(
        default=None, max_length=2000, description="What was found; always given when the commitment is closed"
    )
    due_on: dt.date | None = Field(default=None, description="A late commitment's new due date, if one was agreed")


@contract("org.betterwork.advisory.visit-cancelled.v1")
class AdvisoryVisitCancelled(AdvisoryEvent):
    """A planned visit was called off before it was due."""

    visit_id: VisitId
    cancelled_on: dt.date
    reason: Reason


@contract("org.betterwork.advisory.visit-missed.v1")
class AdvisoryVisitMissed(AdvisoryEvent):
    """A planned visit did not take place."""

    visit_id: VisitId
    missed_on: dt.date
    reason: Reason


@contract("org.betterwork.advisory.visit-record-confirmed.v1")
class AdvisoryVisitRecordConfirmed(AdvisoryEvent):
    """The factory confirmed the advisor's record of a visit (its own users, never programme staff)."""

    visit_id: VisitId
    confirmed_on: dt.date
    comment: str | None = Field(default=None, max_length=2000)


@contract("org.betterwork.advisory.visit-record-commented.v1")
class AdvisoryVisitRecordCommented(AdvisoryEvent):
    """The factory's comment on the record of a visit (held, cancelled or missed)."""

    visit_id: VisitId
    commented_on: dt.date
    comment: Text
