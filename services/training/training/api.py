"""REST commands of the training service. Routes validate, authorize, call a handler: no more.

Who may do what (see policy.py): programme staff schedule and run sessions; a factory's users
read their own factory's sessions and people; nobody else writes or reads here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
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
from betterwork_events.errors import NotFound
from betterwork_events.store import EventStore
from betterwork_events.web import Command, Day, IdempotencyKey, IfMatch, Problem, command_context, expected_version
from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field, field_validator

from training import directory, handlers, policy
from training.courses import CATALOGUE_VERSION, COURSES, Course
from training.domain import Participant, Status, TrainingSession

router = APIRouter(route_class=TokenFirstRoute)


STEP_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem, "description": "Only programme staff manage training"},
    404: {"model": Problem, "description": "No such session, or (when scheduling) no such factory known here"},
    409: {
        "model": Problem,
        "description": "An impossible step, with the reason; or the session changed since the If-Match version",
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


class SessionSummary(BaseModel):
    id: str
    course: str
    country: str
    factory_ids: list[str]
    first_day: dt.date
    last_day: dt.date
    status: Status
    version: int | None = Field(description=VERSION_DESCRIPTION)


# --- helpers ----------------------------------------------------------------------------------


def store(request: Request) -> EventStore:
    return request.app.state.store


def clock(request: Request) -> handlers.Clock:
    return request.app.state.clock


def session_response(session: TrainingSession, principal: Principal, response: Response) -> SessionView:
    view = SessionView.of(session, principal)
    if view.version is not None:
        response.headers["ETag"] = f'"{view.version}"'
    return view


async def change(
    request: Request,
    response: Response,
    principal: Principal,
    session_id: str,
    if_match: str | None,
    decide: handlers.Decision,
    what: str,
) -> SessionView:
    """Authorize a programme step, have the handler take it, answer with the session and its ETag."""
    policy.may_manage_training(principal, what)
    session = await handlers.change_session(
        store(request),
        session_id,
        expected_version(if_match),
        decide,
        command_context(principal, request),
        clock(request),
    )
    return session_response(session, principal, response)


# --- courses ----------------------------------------------------------------------------------


@router.get("/courses", response_model=CatalogueView, tags=["courses"])
async def courses(principal: CurrentPrincipal) -> CatalogueView:
    """The course catalogue: each course's length, audience, and whether it has tests and feedback."""
    return CatalogueView(version=CATALOGUE_VERSION, courses=[CourseView.of(c) for c in COURSES.values()])


@router.get("/courses/{code}", response_model=CourseView, tags=["courses"])
async def course(code: str, principal: CurrentPrincipal) -> CourseView:
    found = COURSES.get(code.upper())
    if found is None:
        raise NotFound(f"no course {code} in the catalogue")
    return CourseView.of(found)


# --- sessions ---------------------------------------------------------------------------------


@router.post(
    "/sessions",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionView,
    tags=["sessions"],
    responses=STEP_ERRORS,
)
async def schedule(
    body: ScheduleRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> SessionView:
    """Schedule a session of a course for one enrolled factory or several in one country."""
    policy.may_manage_training(principal, "schedule training")
    command = handlers.ScheduleSession(
        body.course, tuple(body.factory_ids), tuple(body.days), body.venue, body.trainer, idempotency_key
    )
    session = await handlers.schedule_session(command, store(request), command_context(principal, request))
    response.headers["Location"] = f"/sessions/{session.id}"
    return session_response(session, principal, response)


@router.get("/sessions", response_model=list[SessionSummary], tags=["sessions"], responses={403: READ_ERRORS[403]})
async def sessions(
    principal: CurrentPrincipal,
    request: Request,
    factory_id: str | None = None,
    course: str | None = None,
    state: Annotated[Status | None, Query(alias="status")] = None,
    since: Annotated[Day | None, Query(description="Sessions that end on or after this day")] = None,
    until: Annotated[Day | None, Query(description="Sessions that start on or before this day")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[SessionSummary]:
    """The sessions the caller may read, latest first."""
    readable = policy.readable_factories(principal)
    async with store(request).engine.connect() as conn:
        rows = await directory.listed(
            conn, readable, factory_id=factory_id, course=course, status=state, since=since, until=until, limit=limit
        )
    summaries = [SessionSummary.model_validate(row, from_attributes=True) for row in rows]
    if not policy.sees_whole_session(principal):
        summaries = [summary.model_copy(update={"version": None}) for summary in summaries]
    return summaries


@router.get("/sessions/{session_id}", response_model=SessionView, tags=["sessions"], responses=READ_ERRORS)
async def get_session(
    session_id: str, principal: CurrentPrincipal, request: Request, response: Response
) -> SessionView:
    """A session as it is now; a factory's users see only their own people and numbers."""
    policy.readable_factories(principal)  # brands and governments: 403 before anything is looked up
    session = await handlers.load_session(store(request), session_id)
    if not policy.may_read(principal, session):
        raise NotFound(f"no training session {session_id}")  # not 403: whether it exists is not theirs to know
    return session_response(session, principal, response)


@router.post("/sessions/{session_id}/reschedule", response_model=SessionView, tags=["sessions"], responses=STEP_ERRORS)
async def reschedule(
    session_id: str,
    body: RescheduleRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> SessionView:
    """Move a scheduled session to other days or another venue; days already held stay."""
    return await change(
        request,
        response,
        principal,
        session_id,
        if_match,
        lambda s, today: s.reschedule(body.days, body.venue, body.reason),
        "reschedule training",
    )


@router.post(
    "/sessions/{session_id}/participants",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionView,
    tags=["participants"],
    responses=STEP_ERRORS,
)
async def register(
    session_id: str,
    body: RegisterRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> SessionView:
    """Register a worker, supervisor or manager of one of the session's factories (once: again is 409)."""
    policy.may_manage_training(principal, "register participants")
    command = handlers.RegisterParticipant(
        session_id, body.participant_id, body.factory_id, body.role, body.sex, body.name, idempotency_key
    )
    session = await handlers.register_participant(
        command, store(request), command_context(principal, request), expected_version(if_match)
    )
    return session_response(session, principal, response)


@router.put(
    "/sessions/{session_id}/attendance/{day}", response_model=SessionView, tags=["participants"], responses=STEP_ERRORS
)
async def record_attendance(
    session_id: str,
    day: dt.date,
    body: AttendanceRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> SessionView:
    """The register of one day, once it is over: who was present. Sending it again replaces it."""
    return await change(
        request,
        response,
        principal,
        session_id,
        if_match,
        lambda s, today: s.record_attendance(day, body.present, today),
        "record attendance",
    )


@router.put(
    "/sessions/{session_id}/participants/{participant_id}/scores/{phase}",
    response_model=SessionView,
    tags=["participants"],
    responses=STEP_ERRORS,
)
async def record_score(
    session_id: str,
    participant_id: str,
    phase: TestPhase,
    body: ScoreRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> SessionView:
    """A participant's score in the test before (`pre`) or after (`post`), for courses that test."""
    return await change(
        request,
        response,
        principal,
        session_id,
        if_match,
        lambda s, today: s.record_score(participant_id, phase, body.score),
        "record test scores",
    )


@router.put(
    "/sessions/{session_id}/participants/{participant_id}/feedback",
    response_model=SessionView,
    tags=["participants"],
    responses=STEP_ERRORS,
)
async def give_feedback(
    session_id: str,
    participant_id: str,
    body: FeedbackRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> SessionView:
    """A participant's rating of the course, for courses that collect feedback."""
    return await change(
        request,
        response,
        principal,
        session_id,
        if_match,
        lambda s, today: s.give_feedback(participant_id, body.rating, body.comment),
        "record feedback",
    )


@router.post("/sessions/{session_id}/deliver", response_model=SessionView, tags=["sessions"], responses=STEP_ERRORS)
async def deliver(
    session_id: str, principal: CurrentPrincipal, request: Request, response: Response, if_match: IfMatch = None
) -> SessionView:
    """Record that the session took place, once its last day is over and every day's register is kept.

    Publishes `TrainingDelivered` with the hours and who attended, by sex and role, per factory."""
    return await change(
        request, response, principal, session_id, if_match, lambda s, today: s.deliver(today), "deliver training"
    )


@router.post("/sessions/{session_id}/cancel", response_model=SessionView, tags=["sessions"], responses=STEP_ERRORS)
async def cancel(
    session_id: str,
    body: ReasonRequest,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> SessionView:
    """Cancel a scheduled session, with the reason."""
    return await change(
        request, response, principal, session_id, if_match, lambda s, today: s.cancel(body.reason), "cancel training"
    )
