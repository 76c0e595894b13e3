"""Worker-management committees (PICCs), as programme staff and the factory itself read them, and
the country statistics programme staff and governments read.

Who may read what is `Scope.committee` (policy.py): programme staff every committee, a factory its
own (its members' names and its minutes included); brands and governments no individual committee
(FORBIDDEN, before any lookup, as the committee service answers them 403). `committeeStatistics`
follows `Scope.country_aggregates` with small cells withheld (`policy.withheld`).

Health is judged on read, as the committee service judges it: read_models/committees.py has the
rules. Every figure "on a day" takes a `today` argument, the current date (UTC) when left out.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from enum import Enum
from typing import Annotated, Any

import sqlalchemy as sa
import strawberry

from gateway import policy
from gateway.graphql.context import Context
from gateway.graphql.relay import AFTER, FIRST, Connection, Node, connection, from_global_id, global_id
from gateway.read_models import committees as model
from gateway.read_models import pages
from gateway.read_models.pages import PageRequest
from gateway.read_models.snapshot import Reader

Info = strawberry.Info[Context, None]
TODAY = strawberry.argument(description="The day the figures are for (default: the current date, UTC)")


def on(today: dt.date | None) -> dt.date:
    """The day asked for; the clock is read here, at the edge, and nowhere else."""
    return today if today is not None else dt.datetime.now(dt.UTC).date()


@strawberry.enum(description="Whether a committee still sits")
class CommitteeStatus(Enum):
    ACTIVE = "active"
    DISSOLVED = "dissolved"


@strawberry.enum(description="The side of the bipartite committee a member represents")
class Side(Enum):
    WORKERS = "workers"
    MANAGEMENT = "management"


@strawberry.enum
class Sex(Enum):
    FEMALE = "female"
    MALE = "male"


@strawberry.enum(description="An office of the committee")
class Office(Enum):
    MEMBER = "member"
    CHAIR = "chair"
    VICE_CHAIR = "vice-chair"
    SECRETARY = "secretary"


@strawberry.enum
class ActionItemStatus(Enum):
    OPEN = "open"
    IN_PROGRESS = "in-progress"
    DONE = "done"


@strawberry.enum(description="How a health check came out; UNKNOWN when the facts to judge by are missing")
class HealthStatus(Enum):
    OK = "ok"
    ATTENTION = "attention"
    NOT_MET = "not-met"
    UNKNOWN = "unknown"


@strawberry.type(description="Someone seated on the committee: a factory worker's personal data")
class CommitteeMember:
    member_id: str
    name: str
    employee_number: str
    sex: Sex
    job_title: str | None
    side: Side
    office: Office
    term_starts_on: dt.date
    term_ends_on: dt.date | None = strawberry.field(description="The last day of the term; none if open-ended")
    election_id: str | None = strawberry.field(description="The election that seated a worker representative")

    @classmethod
    def of(cls, row: Any) -> CommitteeMember:
        return cls(
            member_id=row.member_id,
            name=row.name,
            employee_number=row.employee_number,
            sex=Sex(row.sex),
            job_title=row.job_title,
            side=Side(row.side),
            office=Office(row.office),
            term_starts_on=row.term_starts_on,
            term_ends_on=row.term_ends_on,
            election_id=row.election_id,
        )


@strawberry.type(description="The members of one side, by sex")
class SideComposition:
    members: int
    women: int
    men: int


@strawberry.type(description="Who sits on the committee on a day, by side and sex")
class Composition:
    members: int
    women: int
    men: int
    workers: SideComposition
    management: SideComposition
    women_share: float | None = strawberry.field(description="Women among the members, from 0 to 1")

    @classmethod
    def of(cls, seated: Sequence[Any]) -> Composition:
        def count(rows: Sequence[Any]) -> SideComposition:
            women = sum(1 for r in rows if r.sex == Sex.FEMALE.value)
            return SideComposition(members=len(rows), women=women, men=len(rows) - women)

        every = count(seated)
        return cls(
            members=every.members,
            women=every.women,
            men=every.men,
            workers=count([r for r in seated if r.side == Side.WORKERS.value]),
            management=count([r for r in seated if r.side == Side.MANAGEMENT.value]),
            women_share=every.women / every.members if every.members else None,
        )


@strawberry.type(description="An office and who holds it on the day; null when vacant")
class CommitteeOffice:
    office: Office
    holder: CommitteeMember | None


@strawberry.type(description="The workers' election of their representatives")
class Election:
    election_id: str
    held_on: dt.date
    seats: int
    candidates: int
    women_candidates: int
    votes_cast: int = strawberry.field(
        description="The votes of all candidates together. The events record votes per candidate, not how many "
        "workers voted, so a turnout share cannot be given"
    )
    elected: int
    women_elected: int
    contested: bool = strawberry.field(description="More candidates than seats")

    @classmethod
    def of(cls, row: Any) -> Election:
        return cls(
            election_id=row.election_id,
            held_on=row.held_on,
            seats=row.seats,
            candidates=row.candidates,
            women_candidates=row.women_candidates,
            votes_cast=row.votes_cast,
            elected=row.elected,
            women_elected=row.women_elected,
            contested=row.candidates > row.seats,
        )


@strawberry.type
class AgendaTopic:
    title: str
    references: list[str] = strawberry.field(description="finding:<id> or compliance-point:<id>")


@strawberry.type(description="A meeting of the committee, with its minutes")
class Meeting:
    meeting_id: str
    held_on: dt.date
    attendees: int = strawberry.field(description="How many members attended")
    guests: int = strawberry.field(description="How many others were present, e.g. a Better Work advisor")
    agenda: list[AgendaTopic]
    minutes: str
    decisions: list[str]

    @classmethod
    def of(cls, row: Any) -> Meeting:
        return cls(
            meeting_id=row.meeting_id,
            held_on=row.held_on,
            attendees=row.attendees,
            guests=row.guests,
            agenda=[AgendaTopic(title=t["title"], references=list(t["references"])) for t in row.agenda],
            minutes=row.minutes,
            decisions=list(row.decisions),
        )


@strawberry.type(description="Something a meeting gave a member to do by a date")
class ActionItem:
    action_item_id: str
    meeting_id: str
    description: str
    owner: str = strawberry.field(description="The member id of who owns it")
    due_on: dt.date
    status: ActionItemStatus
    closed_on: dt.date | None
    outcome: str | None
    overdue: bool = strawberry.field(description="Not done and past its due date, on the day asked for")

    @classmethod
    def of(cls, row: Any) -> ActionItem:
        return cls(
            action_item_id=row.action_item_id,
            meeting_id=row.meeting_id,
            description=row.description,
            owner=row.owner,
            due_on=row.due_on,
            status=ActionItemStatus(row.status),
            closed_on=row.closed_on,
            outcome=row.outcome,
            overdue=row.overdue,
        )


@strawberry.type
class QuarterMeetings:
    quarter: str = strawberry.field(description="e.g. 2026-Q1")
    meetings: int


@strawberry.type(description="How regularly the committee meets, from its meetings up to the day asked for")
class MeetingRegularity:
    meetings: int
    first_held_on: dt.date | None
    last_held_on: dt.date | None
    days_since_last: int = strawberry.field(description="Since the last meeting, or since it was established")
    days_between_meetings: list[int] = strawberry.field(description="Between each meeting and the next, oldest first")
    average_days_between: float | None
    longest_days_between: int | None
    per_quarter: list[QuarterMeetings] = strawberry.field(
        description="Every quarter since it was established (until dissolved), none left out"
    )

    @classmethod
    def of(cls, established_on: dt.date, ends_on: dt.date, held: list[dt.date]) -> MeetingRegularity:
        gaps = [(later - earlier).days for earlier, later in itertools.pairwise(held)]
        counted: dict[str, int] = {}
        year, quarter = established_on.year, (established_on.month - 1) // 3
        while (year, quarter) <= (ends_on.year, (ends_on.month - 1) // 3):
            counted[f"{year}-Q{quarter + 1}"] = 0
            year, quarter = (year + 1, 0) if quarter == 3 else (year, quarter + 1)
        for day in held:
            name = f"{day.year}-Q{(day.month - 1) // 3 + 1}"
            counted[name] = counted.get(name, 0) + 1
        return cls(
            meetings=len(held),
            first_held_on=held[0] if held else None,
            last_held_on=held[-1] if held else None,
            days_since_last=(ends_on - (held[-1] if held else established_on)).days,
            days_between_meetings=gaps,
            average_days_between=round(sum(gaps) / len(gaps), 1) if gaps else None,
            longest_days_between=max(gaps, default=None),
            per_quarter=[QuarterMeetings(quarter=q, meetings=n) for q, n in sorted(counted.items())],
        )


@strawberry.type(description="One of the checks the portals show of a committee, with why")
class HealthCheck:
    name: str
    status: HealthStatus
    reason: str


def health_checks(row: Any) -> list[HealthCheck]:
    """The committee service's checks, worded from the figures read_models.committees judges them by."""
    if row.dissolved_on is not None:
        reason = f"dissolved on {row.dissolved_on}: {row.dissolution_reason}"
        return [HealthCheck(name="committee-active", status=HealthStatus.NOT_MET, reason=reason)]
    return [
        HealthCheck(name=name, status=HealthStatus(getattr(row, name.replace("-", "_"))), reason=why(row))
        for name, why in zip(model.CHECKS, (_elected, _half, _women, _cadence), strict=True)
    ]


def _elected(row: Any) -> str:
    if not row.elections:
        return "the workers have not elected representatives yet"
    if not row.workers_seated:
        return "no elected worker representative sits on the committee; hold an election"
    seats = row.last_election_seats
    contest = f"{row.last_election_candidates} candidates for {seats} seat{'s' if seats > 1 else ''}"
    if row.worker_representatives_elected == model.ATTENTION:
        return (
            f"{row.workers_seated} elected worker representatives, but the last election ({row.last_election_on}) "
            f"was uncontested: {contest}"
        )
    return f"{row.workers_seated} worker representatives, elected; the last election was on {row.last_election_on} ({contest})"


def _half(row: Any) -> str:
    if not row.seated:
        return "the committee has no members"
    counted = f"{row.workers_seated} of the {row.seated} members are worker representatives"
    return counted if row.workers_at_least_half == model.OK else f"{counted}; at least half must be"


def _women(row: Any) -> str:
    if row.women_represented == model.UNKNOWN:
        return "the factory's workforce by sex is not recorded in the factory registry, so the women's share cannot be compared"
    if not row.seated:
        return "the committee has no members"
    among, within = 100 * row.women_seated / row.seated, 100 * row.workforce_women / row.workforce_total
    facts = (
        f"women are {among:.0f}% of the members ({row.women_seated} of {row.seated}) and {within:.0f}% of the "
        f"workforce ({row.workforce_women:,} of {row.workforce_total:,})"
    )
    if row.women_represented == model.OK:
        return facts
    tolerance = model.HEALTH.women_share_tolerance
    direction = "under" if among < within else "over"
    return (
        f"{facts}: {direction}-represented by {abs(among - within):.0f} points, more than the {tolerance:.0f} allowed"
    )


def _cadence(row: Any) -> str:
    since = row.last_meeting_on or row.established_on
    what = (
        f"the last meeting was on {since}"
        if row.last_meeting_on
        else f"no meeting yet since the committee was established on {since}"
    )
    every = model.HEALTH.meeting_every_days
    due = since + dt.timedelta(days=every)
    if row.meeting_cadence == model.OK:
        return f"{what}; the next is due by {due}"
    if row.meeting_cadence == model.ATTENTION:
        return f"{what}, {row.days_since_meeting} days ago; the next was due by {due}"
    return f"{what}, {row.days_since_meeting} days ago; one is expected every {every} days"


@strawberry.type(description="A factory's worker-management committee (PICC)")
class Committee(Node):
    committee_id: strawberry.ID = strawberry.field(description="e.g. KH-2026-0042-5-C1")
    factory_id: str
    country: str
    established_on: dt.date
    dissolved_on: dt.date | None
    dissolution_reason: str | None
    status: CommitteeStatus

    @strawberry.field(description="Who sits on it on the day, by side and sex")
    async def composition(self, info: Info, today: Annotated[dt.date | None, TODAY] = None) -> Composition:
        return Composition.of(await info.context.loader(model.members_of).load((self.committee_id, on(today))))

    @strawberry.field(description="The members seated on the day, workers' side first: names are personal data")
    async def members(self, info: Info, today: Annotated[dt.date | None, TODAY] = None) -> list[CommitteeMember]:
        seated = await info.context.loader(model.members_of).load((self.committee_id, on(today)))
        return [CommitteeMember.of(r) for r in seated]

    @strawberry.field(description="Chair, vice-chair and secretary, and who holds each on the day")
    async def offices(self, info: Info, today: Annotated[dt.date | None, TODAY] = None) -> list[CommitteeOffice]:
        seated = await info.context.loader(model.members_of).load((self.committee_id, on(today)))
        holders = {r.office: CommitteeMember.of(r) for r in seated}
        return [CommitteeOffice(office=o, holder=holders.get(o.value)) for o in Office if o is not Office.MEMBER]

    @strawberry.field(description="Its elections, oldest first")
    async def elections(self, info: Info) -> list[Election]:
        return [Election.of(r) for r in await info.context.loader(model.elections_of).load(self.committee_id)]

    @strawberry.field(description="Its meetings, newest first, with their minutes")
    async def meetings(
        self, info: Info, first: Annotated[int | None, FIRST] = None, after: Annotated[str | None, AFTER] = None
    ) -> Connection[Meeting]:
        page = await info.context.pages(model.meetings_of_committees).load(
            (self.committee_id, PageRequest.of(first, after))
        )
        return connection(page, Meeting.of)

    @strawberry.field(description="How regularly it meets: gaps between meetings, meetings per quarter")
    async def meeting_regularity(self, info: Info, today: Annotated[dt.date | None, TODAY] = None) -> MeetingRegularity:
        day = on(today)
        ends_on = min(day, self.dissolved_on) if self.dissolved_on else day
        held = [r.held_on for r in await info.context.loader(model.meeting_dates_of).load(self.committee_id)]
        return MeetingRegularity.of(self.established_on, ends_on, [h for h in held if h <= day])

    @strawberry.field(description="Its action items, by due date")
    async def action_items(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        status: ActionItemStatus | None = None,
        overdue: Annotated[
            bool | None, strawberry.argument(description="Only those overdue (or not) on `today`")
        ] = None,
        today: Annotated[dt.date | None, TODAY] = None,
    ) -> Connection[ActionItem]:
        fetch = model.action_items_where(status.value if status else None, overdue, on(today))
        page = await info.context.pages(fetch).load((self.committee_id, PageRequest.of(first, after)))
        return connection(page, ActionItem.of)

    @strawberry.field(description="The health checks the portals show, as the committee service judges them")
    async def health(self, info: Info, today: Annotated[dt.date | None, TODAY] = None) -> list[HealthCheck]:
        return health_checks(await info.context.loader(model.health_of).load((self.committee_id, on(today))))

    @strawberry.field(description="Active, and no health check not met on the day")
    async def healthy(self, info: Info, today: Annotated[dt.date | None, TODAY] = None) -> bool:
        return bool((await info.context.loader(model.health_of).load((self.committee_id, on(today)))).healthy)

    @classmethod
    def of(cls, row: Any) -> Committee:
        return cls(
            id=global_id("Committee", row.id),
            committee_id=strawberry.ID(row.id),
            factory_id=row.factory_id,
            country=row.country,
            established_on=row.established_on,
            dissolved_on=row.dissolved_on,
            dissolution_reason=row.dissolution_reason,
            status=CommitteeStatus.ACTIVE if row.dissolved_on is None else CommitteeStatus.DISSOLVED,
        )


async def committee(info: Info, committee_id: str) -> Committee | None:
    """None whether it does not exist or is another factory's; brands and governments are refused."""
    row = await info.context.loader(model.committees_by_id).load(committee_id)
    return Committee.of(row) if row is not None else None


async def active_of_factory(info: Info, factory_id: str) -> Committee | None:
    row = await info.context.loader(model.active_committees_of).load(factory_id)
    return Committee.of(row) if row is not None else None


async def of_factory(info: Info, factory_id: str, first: int | None, after: str | None) -> Connection[Committee]:
    page = await info.context.pages(model.committees_of_factories).load((factory_id, PageRequest.of(first, after)))
    return connection(page, Committee.of)


@strawberry.type(
    description="A country's committees in numbers, counted by factory; cells of fewer than 5 factories are "
    "withheld, shares rounded to the hundredth"
)
class CommitteeStatistics:
    country: str
    factories_with_a_committee: int | None = strawberry.field(description="Factories that ever established one")
    active: int | None = strawberry.field(description="Factories whose committee sits on the day")
    meeting_regularly: int | None = strawberry.field(
        description="Factories whose active committee met within the expected interval (meeting-cadence ok)"
    )
    workers_side_women_share: float | None = strawberry.field(
        description="Women among the worker representatives seated on the day, from 0 to 1"
    )
    healthy: int | None = strawberry.field(description="Factories whose active committee is healthy on the day")
    meetings_by_quarter: list[CountryQuarterMeetings] = strawberry.field(
        description="Per calendar quarter up to the day's, from the country's first committee"
    )
    suppressed: bool = strawberry.field(description="True when some figures are withheld because the cell is small")


@strawberry.type(
    description="The meetings a country's committees held in a calendar quarter; withheld when fewer than 5 "
    "factories' committees sat in it"
)
class CountryQuarterMeetings:
    quarter: str = strawberry.field(description="e.g. 2026-Q1")
    committees: int | None = strawberry.field(description="Committees sitting in the quarter, at some time")
    meetings: int | None = strawberry.field(description="Held in the quarter (up to the day)")
    meetings_per_committee: float | None = strawberry.field(description="Rounded to the hundredth")
    suppressed: bool

    @classmethod
    def of(cls, row: Any) -> CountryQuarterMeetings:
        quarter = f"{row.starts_on.year}-Q{(row.starts_on.month - 1) // 3 + 1}"
        if policy.withheld(row.factories):
            return cls(quarter=quarter, committees=None, meetings=None, meetings_per_committee=None, suppressed=True)
        return cls(
            quarter=quarter,
            committees=row.committees,
            meetings=row.meetings,
            meetings_per_committee=policy.rounded_share(row.meetings / row.committees),
            suppressed=False,
        )


async def statistics(engine: Reader, country: str, today: dt.date) -> CommitteeStatistics:
    figures = await model.country_statistics(engine, country, today)
    quarters = await model.meetings_by_quarter(engine, country, today)
    established = None if policy.withheld(figures.factories_established) else figures.factories_established
    active_cell = established is not None and not policy.withheld(figures.factories_active)
    share = figures.workers_side_women / figures.workers_side if figures.workers_side else None
    return CommitteeStatistics(
        country=country,
        factories_with_a_committee=established,
        active=figures.factories_active if active_cell else None,
        meeting_regularly=figures.meeting_regularly if active_cell else None,
        workers_side_women_share=policy.rounded_share(share) if active_cell and share is not None else None,
        healthy=figures.healthy if active_cell else None,
        meetings_by_quarter=[CountryQuarterMeetings.of(q) for q in quarters],
        suppressed=not active_cell,
    )


@strawberry.type
class Query:
    @strawberry.field(description="The committees you may read, newest first")
    async def committees(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = None,
        after: Annotated[str | None, AFTER] = None,
        country: str | None = None,
        factory_id: str | None = None,
        status: CommitteeStatus | None = None,
        healthy: Annotated[
            bool | None, strawberry.argument(description="Only those healthy (or not) on `today`")
        ] = None,
        today: Annotated[dt.date | None, TODAY] = None,
    ) -> Connection[Committee]:
        judged = model.health_at(on(today)).subquery()
        j = judged.c
        query = sa.select(judged).where(info.context.scope.committee(j.factory_id))
        if country is not None:
            query = query.where(j.country == country)
        if factory_id is not None:
            query = query.where(j.factory_id == factory_id)
        if status is not None:
            query = query.where(
                j.dissolved_on.is_(None) if status is CommitteeStatus.ACTIVE else j.dissolved_on.isnot(None)
            )
        if healthy is not None:
            query = query.where(j.healthy.is_(healthy))
        order = pages.Order((j.established_on, j.id), descending=True)
        page = await pages.page(info.context.reads, query, order, PageRequest.of(first, after))
        return connection(page, Committee.of)

    @strawberry.field(description="One committee, by its id or its global id")
    async def committee(self, info: Info, id: strawberry.ID) -> Committee | None:
        found = from_global_id(id)
        return await committee(info, found[1] if found is not None and found[0] == "Committee" else id)

    @strawberry.field(description="A country's committees in aggregate: programme staff and the country's government")
    async def committee_statistics(
        self, info: Info, country: str, today: Annotated[dt.date | None, TODAY] = None
    ) -> CommitteeStatistics:
        info.context.scope.country_aggregates(country)
        return await statistics(info.context.reads, country, on(today))
