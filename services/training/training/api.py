"""REST commands of the training service. Routes validate, authorize, call a handler: no more.

Who may do what is decided in policy.py, as the dependencies the routes declare: programme
trainers schedule and run their country's sessions; a factory's users read their own factory's
sessions and people; nobody else writes or reads here. Every change of a session takes If-Match.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from betterwork_events.auth import CurrentPrincipal, Principal, TokenFirstRoute
from betterwork_events.contracts.training import (
    FactoryAttendance,
    FactoryId,
    Headcount,
    ParticipantId,
    Role,
    ScheduledCourse,
    Sex,
    TestPhase,
)
from betterwork_events.history import Change
from betterwork_events.web import Command, Day, IdempotencyKey, Problem, ReadVersion, command_context
from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, Field, field_validator

from training import handlers, policy
from training.courses import CATALOGUE_VERSION, COURSES, Course, course_named
from training.domain import Participant, Status, TrainingSession
from training.handlers import Asked
from training.policy import ChangeableSession, ReadableSession, Reader, Trainer, store

router = APIRouter(route_class=TokenFirstRoute)


NEW_SESSION_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {
        "model": Problem,
        "description": "Only programme assessors and country managers (of the factories' country) manage training",
    },
    404: {"model": Problem, "description": "No such factory known here"},
    409: {
        "model": Problem,
        "description": "An impossible step, with the reason; or the Idempotency-Key was used for another request",
    },
}
STEP_ERRORS: dict[int | str, dict[str, Any]] = NEW_SESSION_ERRORS | {
    403: {
        "model": Problem,
        "description": "Only programme assessors and country managers (of the session's country) manage training",
    },
    404: {"model": Problem, "description": "No such session"},
    409: {
        "model": Problem,
        "description": "An impossible step, with the reason; the session changed since the If-Match version; "
        "or the Idempotency-Key was used for another request",
    },
    428: {
        "model": Problem,
        "description": "If-Match is missing: a session is changed only by who read its latest version",
    },
}
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem, "description": "Brands and governments read training through the gateway"},
    404: {"model": Problem, "description": "No such session among those the caller may read"},
}

Reason = Annotated[str, Field(min_length=1, max_length=2000)]
Days = Annotated[list[dt.date], Field(min_length=1, max_length=60, examples=[["2026-03-10", "2026-03-11"]])]
Venue = Annotated[str, Field(min_length=1, max_length=300)]


def _no_repeats(values: Sequence[object], what: str) -> None:
    seen: set[object] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value} is named twice")
        seen.add(value)


class ScheduleRequest(Command):
    course: str = Field(description="A course code from GET /courses", examples=["SST"])
    factory_ids: list[FactoryId] = Field(
        min_length=1,
        max_length=30,
        description="The enrolled factories whose people it trains",
        examples=[["VN-2026-0012-8"]],
    )
    days: Days
    venue: Venue = Field(examples=["Better Work Vietnam training room, Thu Dau Mot, Binh Duong"])
    trainer: str = Field(min_length=1, max_length=200, examples=["Nguyen Thi Lan, enterprise advisor"])

    @field_validator("course")
    @classmethod
    def _in_the_catalogue(cls, code: str) -> str:
        if code not in COURSES:
            raise ValueError(f"no course {code!r} in the catalogue; one of {', '.join(COURSES)}")
        return code

    @field_validator("factory_ids")
    @classmethod
    def _factories_once(cls, factory_ids: list[str]) -> list[str]:
        _no_repeats(factory_ids, "factory")
        return factory_ids

    @field_validator("days")
    @classmethod
    def _days_once(cls, days: list[dt.date]) -> list[dt.date]:
        _no_repeats(days, "day")
        return days


class RescheduleRequest(Command):
    days: Days
    venue: Venue | None = Field(default=None, description="Left out: the same venue")
    reason: Reason

    @field_validator("days")
    @classmethod
    def _days_once(cls, days: list[dt.date]) -> list[dt.date]:
        _no_repeats(days, "day")
        return days


class RegisterRequest(Command):
    participant_id: ParticipantId
    factory_id: FactoryId
    role: Role
    sex: Sex
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Optional, and published on training.events: leave it out to keep the participant pseudonymous",
    )


class AttendanceRequest(Command):
    present: list[ParticipantId] = Field(max_length=2000, description="Everyone present that day; the rest were absent")


class ScoreRequest(Command):
    score: int = Field(ge=0, le=100, description="Percent")


class FeedbackRequest(Command):
    rating: int = Field(ge=1, le=5, description="1 (poor) to 5 (excellent)")
    comment: str | None = Field(default=None, max_length=2000)


class ReasonRequest(Command):
    reason: Reason


class CourseView(BaseModel):
    code: str
    title: str
    summary: str
    hours: float
    audience: list[Role]
    pre_post_tests: bool
    feedback: bool

    @classmethod
    def of(cls, course: Course) -> CourseView:
        return cls(**{**course.__dict__, "audience": list(course.audience)})


class CatalogueView(BaseModel):
    version: str
    courses: list[CourseView]


class FeedbackView(BaseModel):
    rating: int
    comment: str | None


class ParticipantView(BaseModel):
    participant_id: str
    factory_id: str
    role: Role
    sex: Sex
    name: str | None
    days_present: int
    pre_test: int | None
    post_test: int | None
    feedback: FeedbackView | None

    @classmethod
    def of(cls, p: Participant, session: TrainingSession) -> ParticipantView:
        return cls(
            participant_id=p.id,
            factory_id=p.factory_id,
            role=p.role,
            sex=p.sex,
            name=p.name,
            days_present=session.days_present(p.id),
            pre_test=p.scores.get(TestPhase.PRE),
            post_test=p.scores.get(TestPhase.POST),
            feedback=FeedbackView(rating=p.feedback.rating, comment=p.feedback.comment) if p.feedback else None,
        )


class DeliveryView(BaseModel):
    """Who attended. Totals over every factory are for programme staff; a factory sees its own line."""

    hours: float
    registered: int | None
    attended: Headcount | None
    completed: int | None
    participant_hours: float | None
    factories: list[FactoryAttendance]


# A session's version counts every change, the other factories' people's too: a factory's users
# (who change nothing) do not get it.
VERSION_DESCRIPTION = "The ETag to send as If-Match with a change; only for programme staff, who make changes"


class SessionView(BaseModel):
    id: str
    status: Status
    course: ScheduledCourse
    country: str
    factory_ids: list[str]
    days: list[dt.date]
    venue: str
    trainer: str
    participants: list[ParticipantView]
    attendance: dict[dt.date, list[str]] = Field(description="Day → who was present, for the days recorded")
    cancellation_reason: str | None
    delivery: DeliveryView | None
    version: int | None = Field(description=VERSION_DESCRIPTION)

    @classmethod
    def of(cls, session: TrainingSession, principal: Principal) -> SessionView:
        """The session as the caller may see it: only the people and numbers of their factories."""
        assert session.course is not None and session.status is not None
        visible = policy.visible_participants(principal, session)
        ids = {p.id for p in visible}
        return cls(
            id=session.id,
            status=session.status,
            course=session.course,
            country=session.country,
            factory_ids=list(session.factory_ids),
            days=list(session.days),
            venue=session.venue,
            trainer=session.trainer,
            participants=[ParticipantView.of(p, session) for p in visible],
            attendance={day: sorted(ids & present) for day, present in sorted(session.attendance.items())},
            cancellation_reason=session.cancellation_reason,
            delivery=cls._delivery(session, principal),
            version=session.version if policy.sees_whole_session(principal) else None,
        )

    @staticmethod
    def _delivery(session: TrainingSession, principal: Principal) -> DeliveryView | None:
        delivered = session.delivered
        if delivered is None:
            return None
        whole = policy.sees_whole_session(principal)
        return DeliveryView(
            hours=delivered.hours,
            registered=delivered.registered if whole else None,
            attended=delivered.attended if whole else None,
            completed=delivered.completed if whole else None,
            participant_hours=delivered.participant_hours if whole else None,
            factories=[f for f in delivered.factories if policy.sees_factory(principal, f.factory_id)],
        )


class SessionQuery(BaseModel):
    factory_id: str | None = None
    course: str | None = None
    status: Status | None = None
    since: Day | None = Field(default=None, description="Sessions that end on or after this day")
    until: Day | None = Field(default=None, description="Sessions that start on or before this day")
    limit: int = Field(default=100, ge=1, le=500)


class SessionSummary(BaseModel):
    id: str
    course: str
    country: str
    factory_ids: list[str]
    first_day: dt.date
    last_day: dt.date
    status: Status
    version: int | None = Field(description=VERSION_DESCRIPTION)

    @classmethod
    def of(cls, row: Any, principal: Principal) -> SessionSummary:
        summary = cls.model_validate(row, from_attributes=True)
        return summary if policy.sees_whole_session(principal) else summary.model_copy(update={"version": None})


# --- helpers ----------------------------------------------------------------------------------


def clock(request: Request) -> handlers.Clock:
    return request.app.state.clock


def new_command(principal: CurrentPrincipal, request: Request, idempotency_key: IdempotencyKey = None) -> Asked:
    """FastAPI dependency: the command a request sends, named by its route."""
    route = f"{request.method} {request.scope['route'].path}"
    return Asked(route, command_context(principal, request), idempotency_key)


NewCommand = Annotated[Asked, Depends(new_command)]


def answer(session: TrainingSession, principal: Principal, response: Response) -> SessionView:
    """The session as the caller may see it, with its ETag for those who may change it."""
    view = SessionView.of(session, principal)
    if view.version is not None:
        response.headers["ETag"] = f'"{view.version}"'
    return view


@dataclass(frozen=True)
class SessionChange:
    """A change the caller may make to a session (policy.ChangeableSession), at the version they read."""

    session_id: str
    principal: Principal
    asked: Asked
    request: Request
    response: Response

    async def take(self, decide: handlers.Decision) -> SessionView:
        """Have the domain decide, answer with the session and its ETag."""
        request = self.request
        session = await handlers.change_session(store(request), clock(request), self.session_id, self.asked, decide)
        return answer(session, self.principal, self.response)


def session_change(
    principal: Trainer,  # first: programme staff who train, or 403 before anything else is read
    version: ReadVersion,  # then the If-Match they must send (428 without it, 422 malformed)
    session_id: ChangeableSession,  # then the lookup: their country team's session, or 403
    asked: NewCommand,
    request: Request,
    response: Response,
) -> SessionChange:
    return SessionChange(session_id, principal, asked.at_version(version), request, response)


Changing = Annotated[SessionChange, Depends(session_change)]


async def scheduled(
    body: ScheduleRequest, principal: Principal, asked: Asked, request: Request, response: Response
) -> SessionView:
    factories = await policy.factories_to_train(body.factory_ids, principal, request)
    cmd = handlers.ScheduleSession(
        COURSES[body.course], tuple(factories), tuple(body.factory_ids), tuple(body.days), body.venue, body.trainer
    )
    session = await handlers.schedule_session(store(request), clock(request), asked, cmd)
    response.headers["Location"] = f"/sessions/{session.id}"
    return answer(session, principal, response)


# --- courses ----------------------------------------------------------------------------------


@router.get("/courses", response_model=CatalogueView, tags=["courses"])
async def courses(principal: CurrentPrincipal) -> CatalogueView:
    """The course catalogue: each course's length, audience, and whether it has tests and feedback."""
    return CatalogueView(version=CATALOGUE_VERSION, courses=[CourseView.of(c) for c in COURSES.values()])


@router.get("/courses/{code}", response_model=CourseView, tags=["courses"])
async def course(code: str, principal: CurrentPrincipal) -> CourseView:
    return CourseView.of(course_named(code))


# --- sessions ---------------------------------------------------------------------------------


@router.post(
    "/sessions",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionView,
    tags=["sessions"],
    responses=NEW_SESSION_ERRORS,
)
async def schedule(
    principal: Trainer, asked: NewCommand, body: ScheduleRequest, request: Request, response: Response
) -> SessionView:
    """Schedule a session of a course for one enrolled factory or several in one country."""
    return await scheduled(body, principal, asked, request, response)


@router.get("/sessions", response_model=list[SessionSummary], tags=["sessions"], responses={403: READ_ERRORS[403]})
async def sessions(
    principal: Reader, which: Annotated[SessionQuery, Query()], request: Request
) -> list[SessionSummary]:
    """The sessions the caller may read, latest first."""
    rows = await handlers.listed(store(request), policy.readable_factories(principal), which.model_dump())
    return [SessionSummary.of(row, principal) for row in rows]


@router.get("/sessions/{session_id}", response_model=SessionView, tags=["sessions"], responses=READ_ERRORS)
async def get_session(session: ReadableSession, principal: Reader, response: Response) -> SessionView:
    """A session as it is now; a factory's users see only their own people and numbers."""
    return answer(session, principal, response)


@router.get("/sessions/{session_id}/history", response_model=list[Change], tags=["sessions"], responses=READ_ERRORS)
async def session_history(session: ReadableSession, principal: Reader, request: Request) -> list[Change]:
    """Every change of the session, oldest first, with when and by whom. Programme staff read the
    whole record; a factory's users the session's own changes and those of their own people,
    numbered in order (the session's version counts other factories' changes too)."""
    return policy.history(principal, await handlers.envelopes(store(request), session.id))


@router.post("/sessions/{session_id}/reschedule", response_model=SessionView, tags=["sessions"], responses=STEP_ERRORS)
async def reschedule(change: Changing, body: RescheduleRequest) -> SessionView:
    """Move a scheduled session to other days or another venue; days already held stay."""
    return await change.take(lambda s, today: s.reschedule(body.days, body.venue, body.reason))


@router.post(
    "/sessions/{session_id}/participants",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionView,
    tags=["participants"],
    responses=STEP_ERRORS,
)
async def register(change: Changing, body: RegisterRequest) -> SessionView:
    """Register a worker, supervisor or manager of one of the session's factories (once: again is 409)."""
    return await change.take(
        lambda s, today: s.register(body.participant_id, body.factory_id, body.role, body.sex, body.name)
    )


@router.put(
    "/sessions/{session_id}/attendance/{day}", response_model=SessionView, tags=["participants"], responses=STEP_ERRORS
)
async def record_attendance(change: Changing, day: dt.date, body: AttendanceRequest) -> SessionView:
    """The register of one day, once it is over: who was present. Sending it again replaces it."""
    return await change.take(lambda s, today: s.record_attendance(day, body.present, today))


@router.put(
    "/sessions/{session_id}/participants/{participant_id}/scores/{phase}",
    response_model=SessionView,
    tags=["participants"],
    responses=STEP_ERRORS,
)
async def record_score(change: Changing, participant_id: str, phase: TestPhase, body: ScoreRequest) -> SessionView:
    """A participant's score in the test before (`pre`) or after (`post`), for courses that test."""
    return await change.take(lambda s, today: s.record_score(participant_id, phase, body.score))


@router.put(
    "/sessions/{session_id}/participants/{participant_id}/feedback",
    response_model=SessionView,
    tags=["participants"],
    responses=STEP_ERRORS,
)
async def give_feedback(change: Changing, participant_id: str, body: FeedbackRequest) -> SessionView:
    """A participant's rating of the course, for courses that collect feedback."""
    return await change.take(lambda s, today: s.give_feedback(participant_id, body.rating, body.comment))


@router.post("/sessions/{session_id}/deliver", response_model=SessionView, tags=["sessions"], responses=STEP_ERRORS)
async def deliver(change: Changing) -> SessionView:
    """Record that the session took place, once its last day is over and every day's register is kept.

    Publishes `TrainingDelivered` with the hours and who attended, by sex and role, per factory."""
    return await change.take(lambda s, today: s.deliver(today))


@router.post("/sessions/{session_id}/cancel", response_model=SessionView, tags=["sessions"], responses=STEP_ERRORS)
async def cancel(change: Changing, body: ReasonRequest) -> SessionView:
    """Cancel a scheduled session, with the reason."""
    return await change.take(lambda s, today: s.cancel(body.reason))
