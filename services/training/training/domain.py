"""Training sessions as the programme runs them: plain Python, events in, events out.

A session is scheduled for one factory or several, participants are registered, the register of
each day is kept, and the session is then delivered (with its hours and who attended) or
cancelled with the reason. Dates come in from the caller: nothing here reads a clock.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

from betterwork_events.contracts.training import (
    AttendanceRecorded,
    ByRole,
    BySex,
    FactoryAttendance,
    FeedbackGiven,
    Headcount,
    ParticipantRegistered,
    Role,
    ScheduledCourse,
    Sex,
    TestPhase,
    TestScoreRecorded,
    TrainingDelivered,
    TrainingSessionCancelled,
    TrainingSessionRescheduled,
    TrainingSessionScheduled,
)
from betterwork_events.errors import IllegalStep
from betterwork_events.factories import KnownFactory

from training.courses import Course

SessionEvent: TypeAlias = (
    TrainingSessionScheduled
    | TrainingSessionRescheduled
    | ParticipantRegistered
    | AttendanceRecorded
    | TestScoreRecorded
    | FeedbackGiven
    | TrainingDelivered
    | TrainingSessionCancelled
)


STREAM_PREFIX = "training-session-"


def session_stream(session_id: str) -> str:
    return f"{STREAM_PREFIX}{session_id}"


class Status(StrEnum):
    SCHEDULED = "scheduled"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Feedback:
    rating: int
    comment: str | None


@dataclass
class Participant:
    id: str
    factory_id: str
    role: Role
    sex: Sex
    name: str | None = None
    scores: dict[TestPhase, int] = field(default_factory=dict)
    feedback: Feedback | None = None


@dataclass
class TrainingSession:
    id: str
    status: Status | None = None  # None: not scheduled
    country: str = ""
    course: ScheduledCourse | None = None
    factory_ids: tuple[str, ...] = ()
    days: tuple[dt.date, ...] = ()
    venue: str = ""
    trainer: str = ""
    participants: dict[str, Participant] = field(default_factory=dict)
    attendance: dict[dt.date, frozenset[str]] = field(default_factory=dict)  # day → who was present
    cancellation_reason: str | None = None
    delivered: TrainingDelivered | None = None
    version: int = 0

    # --- commands ----------------------------------------------------------------------------

    @staticmethod
    def schedule(
        session_id: str,
        course: Course,
        factories: Sequence[KnownFactory],
        days: Sequence[dt.date],
        venue: str,
        trainer: str,
    ) -> list[SessionEvent]:
        if not factories:
            raise IllegalStep("a session trains the workers of at least one factory")
        ids = [f.id for f in factories]
        if len(set(ids)) != len(ids):
            raise IllegalStep("a factory is named twice")
        for factory in factories:
            if not factory.enrolled:
                now = factory.enrollment or "not enrolled"
                raise IllegalStep(f"{factory.name} ({factory.id}) is {now}: only enrolled factories are trained")
        countries = {f.country for f in factories}
        if len(countries) > 1:
            raise IllegalStep(
                f"a session is held in one country; these factories are in {', '.join(sorted(countries))}"
            )
        return [
            TrainingSessionScheduled(
                session_id=session_id,
                factory_ids=tuple(ids),
                country=factories[0].country,
                course=course.as_scheduled(),
                days=_training_days(days),
                venue=venue,
                trainer=trainer,
            )
        ]

    def reschedule(self, days: Sequence[dt.date], venue: str | None, reason: str) -> list[SessionEvent]:
        self._still_scheduled("reschedule")
        new_days = _training_days(days)
        kept = sorted(day for day in self.attendance if day not in new_days)
        if kept:
            raise IllegalStep(f"attendance was recorded on {kept[0]}; that day cannot be dropped")
        venue = venue or self.venue
        if new_days == self.days and venue == self.venue:
            raise IllegalStep("the session is already on these days at this venue")
        return [
            TrainingSessionRescheduled(
                session_id=self.id, factory_ids=self.factory_ids, days=new_days, venue=venue, reason=reason
            )
        ]

    def register(
        self, participant_id: str, factory_id: str, role: Role, sex: Sex, name: str | None = None
    ) -> list[SessionEvent]:
        course = self._still_scheduled("register participants for")
        if factory_id not in self.factory_ids:
            raise IllegalStep(
                f"factory {factory_id} is not one of this session's factories ({', '.join(self.factory_ids)})"
            )
        if participant_id in self.participants:
            raise IllegalStep(f"participant {participant_id} is already registered")
        if role not in course.audience:
            audience = ", ".join(f"{r}s" for r in course.audience)
            raise IllegalStep(f"{course.title} is for {audience}, not {role}s")
        return [
            ParticipantRegistered(
                session_id=self.id,
                factory_ids=self.factory_ids,
                participant_id=participant_id,
                factory_id=factory_id,
                role=role,
                sex=sex,
                name=name,
            )
        ]

    def record_attendance(self, day: dt.date, present: Iterable[str], today: dt.date) -> list[SessionEvent]:
        self._still_scheduled("record attendance of")
        if day not in self.days:
            raise IllegalStep(f"{day} is not a day of this session ({_listed(self.days)})")
        if day > today:
            raise IllegalStep(f"{day} is still to come: record who was present once the day is over")
        present = tuple(sorted(set(present)))
        unknown = [p for p in present if p not in self.participants]
        if unknown:
            raise IllegalStep(f"participant {unknown[0]} is not registered for this session")
        return [AttendanceRecorded(session_id=self.id, factory_ids=self.factory_ids, day=day, present=present)]

    def record_score(self, participant_id: str, phase: TestPhase, score: int) -> list[SessionEvent]:
        course = self._not_cancelled("record test scores of")
        if not course.pre_post_tests:
            raise IllegalStep(f"{course.title} has no tests before and after")
        participant = self._participant(participant_id)
        if phase is TestPhase.POST and not self.days_present(participant_id):
            raise IllegalStep(f"participant {participant_id} attended no day: there is no test after to score")
        return [
            TestScoreRecorded(
                session_id=self.id,
                factory_ids=self.factory_ids,
                participant_id=participant_id,
                factory_id=participant.factory_id,
                phase=phase,
                score=score,
            )
        ]

    def give_feedback(self, participant_id: str, rating: int, comment: str | None) -> list[SessionEvent]:
        course = self._not_cancelled("record feedback on")
        if not course.feedback:
            raise IllegalStep(f"{course.title} collects no feedback from participants")
        participant = self._participant(participant_id)
        if not self.days_present(participant_id):
            raise IllegalStep(f"participant {participant_id} attended no day, so cannot rate the course")
        return [
            FeedbackGiven(
                session_id=self.id,
                factory_ids=self.factory_ids,
                participant_id=participant_id,
                factory_id=participant.factory_id,
                rating=rating,
                comment=comment,
            )
        ]

    def deliver(self, today: dt.date) -> list[SessionEvent]:
        course = self._still_scheduled("deliver")
        last_day = self.days[-1]
        if today < last_day:
            raise IllegalStep(f"the session's last day, {last_day}, is still to come")
        missing = [day for day in self.days if day not in self.attendance]
        if missing:
            raise IllegalStep(f"attendance on {_listed(missing)} is not recorded")
        attendees = [p for p in self.participants.values() if self.days_present(p.id)]
        if not attendees:
            raise IllegalStep("nobody attended; cancel the session with the reason instead")
        hours_a_day = course.hours / len(self.days)

        def hours_of(participants: Iterable[Participant]) -> float:
            return round(sum(self.days_present(p.id) * hours_a_day for p in participants), 2)

        factories = tuple(
            FactoryAttendance(
                factory_id=factory_id,
                registered=sum(1 for p in self.participants.values() if p.factory_id == factory_id),
                attended=headcount(p for p in attendees if p.factory_id == factory_id),
                participant_hours=hours_of(p for p in attendees if p.factory_id == factory_id),
            )
            for factory_id in self.factory_ids
        )
        return [
            TrainingDelivered(
                session_id=self.id,
                factory_ids=self.factory_ids,
                course_code=course.code,
                first_day=self.days[0],
                last_day=last_day,
                hours=course.hours,
                participant_hours=hours_of(attendees),
                registered=len(self.participants),
                attended=headcount(attendees),
                completed=sum(1 for p in attendees if self.days_present(p.id) == len(self.days)),
                factories=factories,
            )
        ]

    def cancel(self, reason: str) -> list[SessionEvent]:
        self._still_scheduled("cancel")
        return [TrainingSessionCancelled(session_id=self.id, factory_ids=self.factory_ids, reason=reason)]

    # --- state ---------------------------------------------------------------------------------

    def days_present(self, participant_id: str) -> int:
        return sum(1 for present in self.attendance.values() if participant_id in present)

    def apply(self, event: SessionEvent) -> None:
        match event:
            case TrainingSessionScheduled():
                self.status = Status.SCHEDULED
                self.country, self.course, self.factory_ids = event.country, event.course, event.factory_ids
                self.days, self.venue, self.trainer = event.days, event.venue, event.trainer
            case TrainingSessionRescheduled():
                self.days, self.venue = event.days, event.venue
            case ParticipantRegistered():
                self.participants[event.participant_id] = Participant(
                    event.participant_id, event.factory_id, event.role, event.sex, event.name
                )
            case AttendanceRecorded():
                self.attendance[event.day] = frozenset(event.present)
            case TestScoreRecorded():
                self.participants[event.participant_id].scores[event.phase] = event.score
            case FeedbackGiven():
                self.participants[event.participant_id].feedback = Feedback(event.rating, event.comment)
            case TrainingDelivered():
                self.status, self.delivered = Status.DELIVERED, event
            case TrainingSessionCancelled():
                self.status, self.cancellation_reason = Status.CANCELLED, event.reason
        self.version += 1

    @classmethod
    def rebuild(cls, session_id: str, events: Iterable[SessionEvent]) -> TrainingSession:
        session = cls(id=session_id)
        for event in events:
            session.apply(event)
        return session

    def _still_scheduled(self, step: str) -> ScheduledCourse:
        """The course, if the session is scheduled: neither delivered nor cancelled."""
        course = self._not_cancelled(step)
        if self.status is Status.DELIVERED:
            raise IllegalStep(f"cannot {step} a session that was delivered")
        return course

    def _not_cancelled(self, step: str) -> ScheduledCourse:
        if self.course is None:
            raise IllegalStep(f"session {self.id} is not scheduled")
        if self.status is Status.CANCELLED:
            raise IllegalStep(f"cannot {step} a session that was cancelled ({self.cancellation_reason})")
        return self.course

    def _participant(self, participant_id: str) -> Participant:
        participant = self.participants.get(participant_id)
        if participant is None:
            raise IllegalStep(f"participant {participant_id} is not registered for this session")
        return participant


def headcount(participants: Iterable[Participant]) -> Headcount:
    participants = list(participants)
    by_sex = Counter(p.sex for p in participants)
    by_role = Counter(p.role for p in participants)
    return Headcount(
        total=len(participants),
        by_sex=BySex(
            female=by_sex[Sex.FEMALE], male=by_sex[Sex.MALE], other_or_undisclosed=by_sex[Sex.OTHER_OR_UNDISCLOSED]
        ),
        by_role=ByRole(worker=by_role[Role.WORKER], supervisor=by_role[Role.SUPERVISOR], manager=by_role[Role.MANAGER]),
        women_supervisors_and_managers=sum(
            1 for p in participants if p.sex is Sex.FEMALE and p.role in (Role.SUPERVISOR, Role.MANAGER)
        ),
    )


def _training_days(days: Sequence[dt.date]) -> tuple[dt.date, ...]:
    ordered = tuple(sorted(set(days)))
    if not ordered:
        raise IllegalStep("a session needs at least one day")
    if len(ordered) != len(days):
        raise IllegalStep("a day is named twice")
    return ordered


def _listed(days: Iterable[dt.date]) -> str:
    return ", ".join(str(day) for day in days)
