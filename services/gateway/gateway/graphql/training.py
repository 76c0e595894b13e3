"""Training sessions, as the programme and the factories whose people they train read them, and
what a country's programme delivered, in aggregate, for the programme and governments.

Who reads what (policy.py decides; see `Scope.trains`): programme staff every session, whole;
a factory's users the sessions that train their people, and of a session shared with other
factories only their own people and figures (never the others' ids, names or counts, never the
totals over all of them); brands no session (FORBIDDEN, as in the training service); governments
no individual session (FORBIDDEN), only `trainingStatistics` of their own country.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated, Any

import strawberry

from gateway import policy
from gateway.graphql.arguments import calendar_year
from gateway.graphql.context import Context
from gateway.graphql.relay import AFTER, FIRST, Connection, Node, connection, global_id
from gateway.read_models import pages
from gateway.read_models import training as model
from gateway.read_models.pages import PageRequest

Info = strawberry.Info[Context, None]


@strawberry.enum(description="Where a session stands: rescheduled is still to be held, on its new days")
class TrainingStatus(Enum):
    SCHEDULED = "scheduled"
    RESCHEDULED = "rescheduled"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


@strawberry.type(description="The course as the catalogue described it when the session was scheduled")
class TrainingCourse:
    code: str
    title: str
    catalogue_version: str
    hours: float = strawberry.field(description="The course's length in training hours")


@strawberry.type(description="Participants by sex")
class ParticipantsBySex:
    female: int
    male: int
    other_or_undisclosed: int


@strawberry.type(description="Participants by role")
class ParticipantsByRole:
    worker: int
    supervisor: int
    manager: int


@strawberry.type(description="How many participants, by sex and by role")
class TrainingHeadcount:
    total: int
    by_sex: ParticipantsBySex
    by_role: ParticipantsByRole
    women_supervisors_and_managers: int = strawberry.field(
        description="Women among the supervisors and managers: what Better Work's gender reporting follows"
    )

    @classmethod
    def attended(cls, row: Any, rounded: bool = False) -> TrainingHeadcount:
        """From the attended_* columns of a row; `rounded` for a country aggregate."""

        def n(part: str) -> int:
            value = int(getattr(row, f"attended_{part}") or 0)
            return policy.rounded_participants(value) if rounded else value

        return cls(
            total=n("total"),
            by_sex=ParticipantsBySex(female=n("female"), male=n("male"), other_or_undisclosed=n("other")),
            by_role=ParticipantsByRole(worker=n("worker"), supervisor=n("supervisor"), manager=n("manager")),
            women_supervisors_and_managers=n("women_leaders"),
        )


@strawberry.type(description="A participant: only the programme and the participant's own factory read one")
class TrainingParticipant:
    participant_id: strawberry.ID = strawberry.field(description="A pseudonymous code or an employee number")
    factory_id: strawberry.ID
    role: str
    sex: str
    name: str | None = strawberry.field(description="Only if it was given at registration")
    days_present: int
    session_days: int
    attendance_rate: float = strawberry.field(description="Days present over the session's days, from 0 to 1")
    pre_test_score: int | None = strawberry.field(description="Percent, before the course")
    post_test_score: int | None = strawberry.field(description="Percent, after it")
    improvement: int | None = strawberry.field(description="Post-test less pre-test score, in points")
    rating: int | None = strawberry.field(description="The participant's rating of the course, 1 to 5")
    comment: str | None = strawberry.field(description="What the participant wrote of the course: programme only")

    @classmethod
    def of(cls, row: Any, scope: policy.Scope) -> TrainingParticipant:
        tested = row.pre_score is not None and row.post_score is not None
        return cls(
            participant_id=strawberry.ID(row.participant_id),
            factory_id=strawberry.ID(row.factory_id),
            role=row.role,
            sex=row.sex,
            name=row.name,
            days_present=row.days_present,
            session_days=row.session_days,
            attendance_rate=row.days_present / row.session_days,
            pre_test_score=row.pre_score,
            post_test_score=row.post_score,
            improvement=row.post_score - row.pre_score if tested else None,
            rating=row.rating,
            comment=row.comment if scope.sees_feedback_comments else None,
        )


@strawberry.type(
    description="Over the participants you may read (a factory: its own people): who registered, how they "
    "attended, their tests and their ratings"
)
class TrainingParticipation:
    registered: TrainingHeadcount
    attendance_rate: float | None = strawberry.field(
        description="Days present over the session's days, across these participants, from 0 to 1"
    )
    tested: int = strawberry.field(description="Participants with both a pre-test and a post-test score")
    average_pre_test_score: float | None
    average_post_test_score: float | None
    average_improvement: float | None = strawberry.field(description="In points, over the participants tested")
    rated: int = strawberry.field(description="Participants who rated the course")
    average_rating: float | None

    @classmethod
    def of(cls, row: Any | None) -> TrainingParticipation:
        if row is None:
            none = TrainingHeadcount(
                total=0,
                by_sex=ParticipantsBySex(female=0, male=0, other_or_undisclosed=0),
                by_role=ParticipantsByRole(worker=0, supervisor=0, manager=0),
                women_supervisors_and_managers=0,
            )
            return cls(
                registered=none,
                attendance_rate=None,
                tested=0,
                average_pre_test_score=None,
                average_post_test_score=None,
                average_improvement=None,
                rated=0,
                average_rating=None,
            )

        def mean(value: Any) -> float | None:
            return round(float(value), 2) if value is not None else None

        pre, post = mean(row.average_pre), mean(row.average_post)
        return cls(
            registered=TrainingHeadcount(
                total=row.total,
                by_sex=ParticipantsBySex(female=row.sex_female, male=row.sex_male, other_or_undisclosed=row.sex_other),
                by_role=ParticipantsByRole(
                    worker=row.role_worker, supervisor=row.role_supervisor, manager=row.role_manager
                ),
                women_supervisors_and_managers=row.women_leaders,
            ),
            attendance_rate=round(float(row.days_present) / (row.session_days * row.total), 4),
            tested=row.tested,
            average_pre_test_score=pre,
            average_post_test_score=post,
            average_improvement=round(post - pre, 2) if pre is not None and post is not None else None,
            rated=row.rated,
            average_rating=mean(row.average_rating),
        )


def _share(part: int | None, whole: int | None) -> float | None:
    return round(part / whole, 4) if part is not None and whole else None


@strawberry.type(description="What the delivery counted of one factory's people")
class FactoryTrainingAttendance:
    factory_id: strawberry.ID
    registered: int
    attended: TrainingHeadcount = strawberry.field(description="Present on at least one day")
    attended_share: float | None = strawberry.field(description="Attended over registered, from 0 to 1")
    participant_hours: float

    @classmethod
    def of(cls, row: Any) -> FactoryTrainingAttendance:
        return cls(
            factory_id=strawberry.ID(row.factory_id),
            registered=row.registered,
            attended=TrainingHeadcount.attended(row),
            attended_share=_share(row.attended_total, row.registered),
            participant_hours=row.participant_hours,
        )


@strawberry.type(
    description="What the delivery counted. The totals over all the session's factories are for programme staff "
    "(null for a factory's users, who read their own line in `factories`)"
)
class TrainingDelivery:
    hours: float
    registered: int | None
    attended: TrainingHeadcount | None = strawberry.field(description="Present on at least one day")
    completed: int | None = strawberry.field(description="Present on every day")
    attended_share: float | None = strawberry.field(description="Attended over registered, from 0 to 1")
    completed_share: float | None = strawberry.field(description="Completed over registered, from 0 to 1")
    participant_hours: float | None
    factories: list[FactoryTrainingAttendance] = strawberry.field(description="The factories you may read")


@strawberry.type(description="A training session of a course, for the people of one factory or several")
class TrainingSession(Node):
    session_id: strawberry.ID = strawberry.field(description="The training service's id, e.g. TS-7KQ2M9XDRA")
    country: str
    course: TrainingCourse
    days: list[dt.date] = strawberry.field(description="The training days, in order")
    first_day: dt.date
    last_day: dt.date
    venue: str
    trainer: str | None = strawberry.field(description="A staff name: programme staff only")
    status: TrainingStatus
    cancellation_reason: str | None
    _row: strawberry.Private[Any]

    @strawberry.field(description="The session's factories that you may read (a factory: itself only)")
    async def factory_ids(self, info: Info) -> list[strawberry.ID]:
        rows = await info.context.loader(model.factories_of_sessions).load(self.session_id)
        return [strawberry.ID(r.factory_id) for r in rows]

    @strawberry.field(description="The participants you may read (a factory: its own people), by participant id")
    async def participants(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[TrainingParticipant]:
        page = await info.context.pages(model.participants_of_sessions).load(
            (self.session_id, PageRequest.of(first, after))
        )
        scope = info.context.scope
        return connection(page, lambda row: TrainingParticipant.of(row, scope))

    @strawberry.field(description="Over the participants you may read: registered, attendance, tests, ratings")
    async def participation(self, info: Info) -> TrainingParticipation:
        return TrainingParticipation.of(await info.context.loader(model.figures_of_sessions).load(self.session_id))

    @strawberry.field(description="What the delivery counted; null until the session is delivered")
    async def delivery(self, info: Info) -> TrainingDelivery | None:
        row = self._row
        if row.status != "delivered":
            return None
        lines = await info.context.loader(model.factories_of_sessions).load(self.session_id)
        whole = info.context.scope.sees_whole_training_session
        return TrainingDelivery(
            hours=row.delivered_hours,
            registered=row.registered if whole else None,
            attended=TrainingHeadcount.attended(row) if whole else None,
            completed=row.completed if whole else None,
            attended_share=_share(row.attended_total, row.registered) if whole else None,
            completed_share=_share(row.completed, row.registered) if whole else None,
            participant_hours=row.participant_hours if whole else None,
            factories=[FactoryTrainingAttendance.of(r) for r in lines if r.registered is not None],
        )

    @classmethod
    def of(cls, row: Any, scope: policy.Scope) -> TrainingSession:
        return cls(
            id=global_id("TrainingSession", row.id),
            session_id=strawberry.ID(row.id),
            country=row.country,
            course=TrainingCourse(
                code=row.course_code,
                title=row.course_title,
                catalogue_version=row.catalogue_version,
                hours=row.course_hours,
            ),
            days=list(row.days),
            first_day=row.first_day,
            last_day=row.last_day,
            venue=row.venue,
            trainer=row.trainer if scope.sees_staff_names else None,
            status=TrainingStatus(row.status),
            cancellation_reason=row.cancellation_reason,
            _row=row,
        )


async def session(info: Info, session_id: str) -> TrainingSession | None:
    """None whether it does not exist or is out of the caller's reach: the two answer alike."""
    row = await info.context.loader(model.sessions_by_id).load(session_id)
    return TrainingSession.of(row, info.context.scope) if row is not None else None


def session_filter(
    course: str | None, status: TrainingStatus | None, from_: dt.date | None, to: dt.date | None, country: str | None
) -> model.SessionFilter:
    return model.SessionFilter(
        country=country,
        course=course,
        status=status.value if status is not None else None,
        ends_on_or_after=from_,
        starts_on_or_before=to,
    )


FROM = strawberry.argument(name="from", description="Sessions that end on or after this day")
TO = strawberry.argument(description="Sessions that start on or before this day")
COURSE = strawberry.argument(description="A course code, e.g. SST")


async def of_factory(
    factory_id: str,
    info: Info,
    first: int | None,
    after: str | None,
    narrowed: model.SessionFilter,
) -> Connection[TrainingSession]:
    page = await info.context.pages(narrowed).load((factory_id, PageRequest.of(first, after)))
    scope = info.context.scope
    return connection(page, lambda row: TrainingSession.of(row, scope))


# --- country aggregates -------------------------------------------------------------------------


@strawberry.type(
    description="Sessions delivered and who attended them, over one course or all; withheld (null, suppressed) "
    "when fewer than 5 factories' people attended, participants rounded to the ten, shares to the hundredth"
)
class TrainingCell:
    sessions_delivered: int | None
    factories: int | None = strawberry.field(description="Factories whose people attended")
    registered: int | None
    attended: TrainingHeadcount | None = strawberry.field(description="Present on at least one day")
    completed: int | None = strawberry.field(description="Present on every day")
    attended_share: float | None
    completed_share: float | None
    participant_hours: float | None
    suppressed: bool

    @classmethod
    def of(cls, row: Any, suppressed: bool) -> TrainingCell:
        if suppressed:
            return cls(
                sessions_delivered=None,
                factories=None,
                registered=None,
                attended=None,
                completed=None,
                attended_share=None,
                completed_share=None,
                participant_hours=None,
                suppressed=True,
            )
        return cls(
            sessions_delivered=row.sessions,
            factories=row.factories,
            registered=policy.rounded_participants(row.registered),
            attended=TrainingHeadcount.attended(row, rounded=True),
            completed=policy.rounded_participants(row.completed),
            attended_share=policy.rounded_share(row.attended_total / row.registered),
            completed_share=policy.rounded_share(row.completed / row.registered),
            participant_hours=float(policy.rounded_participants(round(row.participant_hours))),
            suppressed=False,
        )


@strawberry.type(description="One course's cell")
class CourseTrainingStatistics:
    course_code: str
    course_title: str
    delivered: TrainingCell


@strawberry.type(description="A country's training in a year (sessions by their last day), in aggregate")
class TrainingStatistics:
    country: str
    year: int
    total: TrainingCell = strawberry.field(description="All courses together")
    courses: list[CourseTrainingStatistics] = strawberry.field(description="Per course delivered, by code")


def _statistics(country: str, year: int, rows: list[Any]) -> TrainingStatistics:
    total = next((r for r in rows if r.course_code is None), None)
    per_course = [r for r in rows if r.course_code is not None]
    hidden = policy.withheld_cells({r.course_code: r.factories for r in per_course})
    if total is None:
        empty = TrainingCell.of(None, suppressed=True)
        return TrainingStatistics(country=country, year=year, total=empty, courses=[])
    return TrainingStatistics(
        country=country,
        year=year,
        total=TrainingCell.of(total, suppressed=policy.withheld(total.factories)),
        courses=[
            CourseTrainingStatistics(
                course_code=r.course_code,
                course_title=r.course_title,
                delivered=TrainingCell.of(r, suppressed=r.course_code in hidden),
            )
            for r in per_course
        ],
    )


@strawberry.type
class Query:
    @strawberry.field(
        description="The training sessions you may read, latest first: programme staff all, a factory's users "
        "those that train their people"
    )
    async def training_sessions(
        self,
        info: Info,
        country: str | None = None,
        course: Annotated[str | None, COURSE] = None,
        status: TrainingStatus | None = None,
        factory_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Sessions that train this factory's people")
        ] = None,
        from_: Annotated[dt.date | None, FROM] = None,
        to: Annotated[dt.date | None, TO] = None,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[TrainingSession]:
        context = info.context
        scope = context.scope
        query = session_filter(course, status, from_, to, country).where(model.readable_sessions(scope, factory_id))
        page = await pages.page(context.reads, query, model.LATEST_FIRST, PageRequest.of(first, after))
        return connection(page, lambda row: TrainingSession.of(row, scope))

    @strawberry.field(
        description="A country's training in a year, in aggregate: for programme staff and the country's government"
    )
    async def training_statistics(self, info: Info, country: str, year: int) -> TrainingStatistics:
        info.context.scope.country_aggregates(country)
        calendar_year(year)
        return _statistics(country, year, await model.delivered_per_course(info.context.reads, country, year))
