"""Events on `training.events`: training sessions, from scheduling to delivery.

Every event belongs to one session (stream `training-session-<id>`) and names the session's
factories in `factory_ids`, so a subscriber can route it without keeping state. An event about
one participant also names that participant's factory in `factory_id`.

Kafka key: the session (its stream id, `ce_subject`), not a factory. A session can train the
workers of several factories; keying by factory would put the events of one session in several
partitions, and a subscriber could see a session delivered before its participants registered.
So these events set no `ce_factoryid` header: route on `factory_ids` in the body.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from betterwork_events.catalogue import EventContract, contract

FactoryId = Annotated[str, Field(min_length=1, max_length=40, description="A factory's programme id")]
ParticipantId = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="The participant's reference within the session: a pseudonymous code or the factory's "
        "employee number, never a national id",
        examples=["HS-W-00417"],
    ),
]
Hours = Annotated[float, Field(ge=0, le=1000)]
Count = Annotated[int, Field(ge=0)]


class Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Role(StrEnum):
    WORKER = "worker"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER_OR_UNDISCLOSED = "other-or-undisclosed"


class TestPhase(StrEnum):
    PRE = "pre"  # before the training: what the participant knew
    POST = "post"  # after it: what they learnt


class ScheduledCourse(Part):
    """The course as the catalogue described it when the session was scheduled."""

    code: str = Field(min_length=1, max_length=20, examples=["SST"])
    title: str = Field(min_length=1, max_length=200)
    catalogue_version: str = Field(min_length=1, max_length=20, examples=["2026.1"])
    hours: Hours = Field(description="The course's length in training hours")
    audience: tuple[Role, ...] = Field(min_length=1, description="Who the course is for")
    pre_post_tests: bool = Field(description="Participants sit a test before and after")
    feedback: bool = Field(description="Participants rate the course afterwards")


class BySex(Part):
    female: Count
    male: Count
    other_or_undisclosed: Count


class ByRole(Part):
    worker: Count
    supervisor: Count
    manager: Count


class Headcount(Part):
    """How many participants attended, by sex and by role."""

    total: Count
    by_sex: BySex
    by_role: ByRole
    women_supervisors_and_managers: Count = Field(
        description="Women among the supervisors and managers: what Better Work's gender reporting follows"
    )


class FactoryAttendance(Part):
    factory_id: FactoryId
    registered: Count
    attended: Headcount
    participant_hours: Hours = Field(le=10_000_000, description="Hours of training its participants received")


class TrainingEvent(EventContract):
    topic_service = "training"
    keyed_by_factory = False  # keyed by the session: see the module's docstring

    session_id: str = Field(min_length=1, max_length=40, examples=["TS-7KQ2M9XDRA"])
    factory_ids: tuple[FactoryId, ...] = Field(min_length=1, description="The factories whose workers it trains")


@contract("org.betterwork.training.session-scheduled.v1")
class TrainingSessionScheduled(TrainingEvent):
    """Programme staff scheduled a session of a course for one factory or several."""

    country: str = Field(pattern=r"^[A-Z]{2}$", description="Where it is held (ISO 3166-1 alpha-2)")
    course: ScheduledCourse
    days: tuple[dt.date, ...] = Field(min_length=1, max_length=60, description="The training days, in order")
    venue: str = Field(min_length=1, max_length=300)
    trainer: str = Field(min_length=1, max_length=200, description="Who delivers it (usually an enterprise advisor)")


@contract("org.betterwork.training.session-rescheduled.v1")
class TrainingSessionRescheduled(TrainingEvent):
    """The session moved to other days or another venue."""

    days: tuple[dt.date, ...] = Field(min_length=1, max_length=60)
    venue: str = Field(min_length=1, max_length=300)
    reason: str = Field(min_length=1, max_length=2000)


@contract("org.betterwork.training.participant-registered.v1")
class ParticipantRegistered(TrainingEvent):
    """A worker, supervisor or manager of one of the session's factories was registered."""

    participant_id: ParticipantId
    factory_id: FactoryId = Field(description="The participant's factory")
    role: Role
    sex: Sex
    name: str | None = Field(
        default=None,
        max_length=200,
        description="Optional, and published with the event: leave it out to keep the participant pseudonymous",
    )


@contract("org.betterwork.training.attendance-recorded.v1")
class AttendanceRecorded(TrainingEvent):
    """The register of one training day: who was present. A later register of the same day replaces it."""

    day: dt.date
    present: tuple[ParticipantId, ...] = Field(max_length=2000)


@contract("org.betterwork.training.test-score-recorded.v1")
class TestScoreRecorded(TrainingEvent):
    """A participant's score in the test before or after the course. A later score of the same test corrects it."""

    participant_id: ParticipantId
    factory_id: FactoryId = Field(description="The participant's factory")
    phase: TestPhase
    score: int = Field(ge=0, le=100, description="Percent")


@contract("org.betterwork.training.feedback-given.v1")
class FeedbackGiven(TrainingEvent):
    """A participant rated the course. Later feedback from the same participant replaces it."""

    participant_id: ParticipantId
    factory_id: FactoryId = Field(description="The participant's factory")
    rating: int = Field(ge=1, le=5, description="1 (poor) to 5 (excellent)")
    comment: str | None = Field(default=None, max_length=2000)


@contract("org.betterwork.training.delivered.v1")
class TrainingDelivered(TrainingEvent):
    """The session took place: its hours, and who attended, by sex and role, overall and per factory.

    Attended: present on at least one day. Completed: present on every day."""

    course_code: str = Field(min_length=1, max_length=20, examples=["SST"])
    first_day: dt.date
    last_day: dt.date
    hours: Hours = Field(description="The session's length in training hours")
    participant_hours: Hours = Field(le=10_000_000, description="Hours of training all participants received")
    registered: Count
    attended: Headcount
    completed: Count
    factories: tuple[FactoryAttendance, ...] = Field(min_length=1)


@contract("org.betterwork.training.session-cancelled.v1")
class TrainingSessionCancelled(TrainingEvent):
    """The session will not take place."""

    reason: str = Field(min_length=1, max_length=2000)
