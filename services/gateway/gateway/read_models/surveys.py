"""Research surveys in aggregate: worker surveys per question, and the manager surveys' business
figures as each factory's change between its first and latest round.

What is kept of a worker's response is what aggregates need: its round, the worker's sex, age
band and role, and per question the answer if it is a number (scale, number) or an option
(choice). Free-text answers are not kept at all, only that the question was answered: no
query can return one. Nothing here returns a response either; `worker_survey` answers per
question over groups of at least `smallest_group` respondents, built so that no figure can be
differenced against another into a smaller group:

- only closed rounds count (an open round's figures would change with each response, and two
  readings would give that response away);
- a round counts for a question only if at least `smallest_group` of its respondents answered it,
  and a group (women, men, an age band, a role) of a round only where the round's breakdown can
  show it: fewer than `smallest_group`, or what the shown groups leave of the round's total being
  fewer, and it is withheld (the next smallest with it, or the whole breakdown);
- a factory's or a country's figures are sums of those round cells only, so that the difference
  of any two of them is itself a sum of cells of at least `smallest_group`, never less;
- a government's figures also stand on at least `smallest_factories` factories, cell by cell,
  with what the shown cells leave of the total held to the same rule.

Which rounds a caller reaches is the policy's (Scope.survey_results); nothing here decides it.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from betterwork_events.contracts import surveys as se
from betterwork_events.envelope import Envelope
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.read_models.projection import Projection, advanced, metadata
from gateway.read_models.snapshot import Reader

questionnaires = sa.Table(
    "survey_questionnaires",
    metadata,
    sa.Column("questionnaire_id", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("questions", JSONB, nullable=False),
)

rounds = sa.Table(
    "survey_rounds",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("factory_id", sa.Text, nullable=False),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("questionnaire_id", sa.Text, nullable=False),
    sa.Column("questionnaire_version", sa.Integer, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("question_types", JSONB, nullable=False),  # question id -> type, to keep what aggregates need
    sa.Column("opened_on", sa.Date, nullable=False),
    sa.Column("closed_on", sa.Date),
    sa.Column("responses", sa.Integer),  # as the closing counted them
    sa.Column("version", sa.Integer, nullable=False),
)

worker_answers = sa.Table(
    "survey_worker_answers",
    metadata,
    sa.Column("response_id", sa.Text, primary_key=True),
    sa.Column("question_id", sa.Text, primary_key=True),
    sa.Column("round_id", sa.Text, nullable=False),
    sa.Column("sex", sa.Text, nullable=False),
    sa.Column("age_band", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("number", sa.Float),  # scale and number answers
    sa.Column("choice", sa.Text),  # choice answers; a text answer keeps neither
)

manager_figures = sa.Table(
    "survey_manager_figures",
    metadata,
    sa.Column("round_id", sa.Text, primary_key=True),
    sa.Column("period_start", sa.Date, nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("sales", sa.Float),
    sa.Column("currency", sa.Text),
    sa.Column("production_capacity", sa.BigInteger),
    sa.Column("employment", sa.Integer),
    sa.Column("version", sa.Integer, nullable=False),
)

projection = Projection("surveys", [questionnaires, rounds, worker_answers, manager_figures])


@projection.on(se.QuestionnairePublished)
async def published(conn: AsyncConnection, event: se.QuestionnairePublished, envelope: Envelope) -> None:
    values = {
        "questionnaire_id": event.questionnaire_id,
        "version": event.version,
        "kind": event.kind.value,
        "title": event.title,
        "questions": [q.model_dump(mode="json") for q in event.questions],
    }
    await conn.execute(insert(questionnaires).values(**values).on_conflict_do_nothing())


@projection.on(se.SurveyRoundOpened)
async def opened(conn: AsyncConnection, event: se.SurveyRoundOpened, envelope: Envelope) -> None:
    values = {
        "id": event.round_id,
        "factory_id": event.factory_id,
        "country": event.country,
        "questionnaire_id": event.questionnaire_id,
        "questionnaire_version": event.questionnaire_version,
        "kind": event.kind.value,
        "question_types": {q.id: q.type.value for q in event.questions},
        "opened_on": event.opened_on,
        "version": envelope.streamversion,
    }
    await conn.execute(insert(rounds).values(**values).on_conflict_do_nothing())


@projection.on(se.WorkerSurveyResponseRecorded)
async def worker_responded(conn: AsyncConnection, event: se.WorkerSurveyResponseRecorded, envelope: Envelope) -> None:
    types = (await conn.execute(sa.select(rounds.c.question_types).where(rounds.c.id == event.round_id))).scalar()
    types = types or {}
    person = {"sex": event.sex.value, "age_band": event.age_band.value, "role": event.role.value}
    rows = []
    for answer in event.answers:
        kind = types.get(answer.question_id)
        value = answer.value
        rows.append(
            {
                "response_id": event.response_id,
                "question_id": answer.question_id,
                "round_id": event.round_id,
                **person,
                "number": float(value) if kind in ("scale", "number") and not isinstance(value, str) else None,
                "choice": value if kind == "choice" and isinstance(value, str) else None,
            }
        )
    if rows:
        await conn.execute(insert(worker_answers).values(rows).on_conflict_do_nothing())


@projection.on(se.ManagerSurveyResponseRecorded)
async def manager_responded(conn: AsyncConnection, event: se.ManagerSurveyResponseRecorded, envelope: Envelope) -> None:
    """A later response of the round corrects the figures; an older one replayed does not."""
    f = event.figures
    values = {
        "round_id": event.round_id,
        "period_start": f.period_start,
        "period_end": f.period_end,
        "sales": f.sales,
        "currency": f.currency,
        "production_capacity": f.production_capacity,
        "employment": f.employment,
        "version": envelope.streamversion,
    }
    upsert = insert(manager_figures).values(**values)
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=["round_id"],
            set_={k: upsert.excluded[k] for k in values if k != "round_id"},
            where=manager_figures.c.version < upsert.excluded.version,
        )
    )


@projection.on(se.SurveyRoundClosed)
async def closed(conn: AsyncConnection, event: se.SurveyRoundClosed, envelope: Envelope) -> None:
    await advanced(
        conn, rounds, rounds.c.id == event.round_id, envelope, closed_on=event.closed_on, responses=event.responses
    )


# --- worker surveys: the pure aggregation -----------------------------------------------------

DIMENSIONS = ("sex", "age_band", "role")


@dataclass(frozen=True)
class AnswerRow:
    """One answer of one (anonymous) respondent, as aggregates need it."""

    response_id: str
    round_id: str
    factory_id: str
    question_id: str
    sex: str
    age_band: str
    role: str
    value: float | str | None  # None: a text answer, counted, never kept


@dataclass(frozen=True)
class Cell:
    """Figures over a group of respondents, or the reason they are withheld (then all None)."""

    respondents: int | None
    withheld: str | None = None
    distribution: tuple[tuple[str, int], ...] = ()  # (answer, respondents), every option or scale point
    mean: float | None = None
    median: float | None = None

    @property
    def shown(self) -> bool:
        return self.withheld is None


@dataclass(frozen=True)
class GroupCell:
    group: str
    cell: Cell


@dataclass(frozen=True)
class QuestionResult:
    question: se.Question
    total: Cell
    breakdowns: dict[str, tuple[GroupCell, ...]]  # by dimension, groups in name order


@dataclass(frozen=True)
class RoundCount:
    """The rounds in reach of a query, by what became of them."""

    counted: int
    still_open: int
    too_few_respondents: int
    respondents: int  # in the rounds counted


@dataclass(frozen=True)
class Thresholds:
    smallest_group: int  # respondents
    smallest_factories: int  # factories (1: no rule beyond the respondents')


def fewer_than(thresholds: Thresholds, rows: Sequence[AnswerRow]) -> str | None:
    """Why these respondents are too few a group to show, or None."""
    if len(rows) < thresholds.smallest_group:
        return f"fewer than {thresholds.smallest_group} respondents"
    if len({r.factory_id for r in rows}) < thresholds.smallest_factories:
        return f"fewer than {thresholds.smallest_factories} factories"
    return None


def shown_groups(
    total: Sequence[AnswerRow], groups: dict[str, list[AnswerRow]], too_few: Callable[[Sequence[AnswerRow]], str | None]
) -> set[str]:
    """The groups of a breakdown that can be shown beside its total: each must not be too few, and
    neither may what the shown ones leave of the total (else the total minus them gives the
    withheld away): the smallest shown group is withheld too until that holds, or none is shown."""
    shown = {g for g, rows in groups.items() if too_few(rows) is None}
    while shown:
        covered = {r.response_id for g in shown for r in groups[g]}
        rest = [r for r in total if r.response_id not in covered]
        if not rest or too_few(rest) is None:
            break
        shown.remove(min(shown, key=lambda g: (len(groups[g]), g)))
    return shown


def _figures(question: se.Question, rows: Sequence[AnswerRow]) -> Cell:
    match question.type:
        case se.QuestionType.CHOICE:
            points = list(question.options)
        case se.QuestionType.SCALE:
            points = [str(n) for n in range(1, (question.scale_max or 0) + 1)]
        case _:
            points = []
    answers = [r.value for r in rows]
    counts = {p: 0 for p in points}
    for value in answers:
        key = str(int(value)) if question.type is se.QuestionType.SCALE and isinstance(value, float) else str(value)
        if key in counts:
            counts[key] += 1
    numbers = [float(v) for v in answers if isinstance(v, int | float)]
    numeric = question.type in (se.QuestionType.SCALE, se.QuestionType.NUMBER) and numbers
    return Cell(
        respondents=len(rows),
        distribution=tuple(counts.items()),
        mean=round(statistics.fmean(numbers), 2) if numeric else None,
        median=round(statistics.median(numbers), 2) if numeric else None,
    )


def _withheld(reason: str) -> Cell:
    return Cell(respondents=None, withheld=reason)


def aggregate_question(question: se.Question, rows: Sequence[AnswerRow], thresholds: Thresholds) -> QuestionResult:
    """One question over the closed rounds of `rows`, as the module's docstring says."""
    by_round: dict[str, list[AnswerRow]] = {}
    for row in rows:
        by_round.setdefault(row.round_id, []).append(row)
    per_round = Thresholds(thresholds.smallest_group, 1)  # a round is one factory's: the factories' rule is the level's

    def too_few_in_round(group: Sequence[AnswerRow]) -> str | None:
        return fewer_than(per_round, group)

    counted = {r: answers for r, answers in by_round.items() if too_few_in_round(answers) is None}
    total = [row for answers in counted.values() for row in answers]
    empty: dict[str, tuple[GroupCell, ...]] = {d: () for d in DIMENSIONS}
    if not total:
        none = f"no closed round with {thresholds.smallest_group} or more respondents to the question"
        return QuestionResult(question, _withheld(none), empty)
    if (too_small := fewer_than(thresholds, total)) is not None:
        return QuestionResult(question, _withheld(too_small), empty)

    def too_few(group: Sequence[AnswerRow]) -> str | None:
        return fewer_than(thresholds, group)

    breakdowns: dict[str, tuple[GroupCell, ...]] = {}
    for dimension in DIMENSIONS:
        # Each round's cells first: only those its own breakdown can show count at any level.
        groups: dict[str, list[AnswerRow]] = {}
        for answers in counted.values():
            in_round = _grouped(answers, dimension)
            for group in shown_groups(answers, in_round, too_few_in_round):
                groups.setdefault(group, []).extend(in_round[group])
        present = sorted({getattr(r, dimension) for r in total})
        shown = shown_groups(total, groups, too_few)
        breakdowns[dimension] = tuple(
            GroupCell(
                group,
                _figures(question, groups[group])
                if group in shown
                else _withheld(
                    f"fewer than {thresholds.smallest_group} respondents in the group, or showing it would let "
                    "a smaller group be worked out"
                    + (
                        f", or fewer than {thresholds.smallest_factories} factories"
                        if thresholds.smallest_factories > 1
                        else ""
                    )
                ),
            )
            for group in present
        )
    return QuestionResult(question, _figures(question, total), breakdowns)


def _grouped(rows: Iterable[AnswerRow], dimension: str) -> dict[str, list[AnswerRow]]:
    groups: dict[str, list[AnswerRow]] = {}
    for row in rows:
        groups.setdefault(getattr(row, dimension), []).append(row)
    return groups


# --- worker surveys: the queries --------------------------------------------------------------

r, a = rounds.c, worker_answers.c


@dataclass(frozen=True)
class Questionnaire:
    questionnaire_id: str
    version: int
    kind: str
    title: str
    questions: tuple[se.Question, ...]


async def questionnaire(engine: Reader, questionnaire_id: str, version: int) -> Questionnaire | None:
    q = questionnaires.c
    query = sa.select(questionnaires).where(q.questionnaire_id == questionnaire_id, q.version == version)
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        return None
    questions = tuple(se.Question.model_validate(item) for item in row.questions)
    return Questionnaire(row.questionnaire_id, row.version, row.kind, row.title, questions)


async def round_of(engine: Reader, round_id: str) -> sa.Row[tuple[str, str, str, int]] | None:
    """A round's factory, country and questionnaire: to ask the policy about it before reading it."""
    query = sa.select(r.factory_id, r.country, r.questionnaire_id, r.questionnaire_version).where(r.id == round_id)
    async with engine.connect() as conn:
        return (await conn.execute(query)).first()  # type: ignore[return-value]


def in_reach(
    country: str | None = None, factory_id: str | None = None, round_id: str | None = None
) -> sa.ColumnElement[bool]:
    conditions = [
        column == value
        for column, value in ((r.country, country), (r.factory_id, factory_id), (r.id, round_id))
        if value is not None
    ]
    return sa.and_(sa.true(), *conditions)


async def worker_survey(
    engine: Reader, found: Questionnaire, reach: sa.ColumnElement[bool], thresholds: Thresholds
) -> tuple[RoundCount, list[QuestionResult]]:
    """Each question of the questionnaire version over the closed rounds in `reach`."""
    of_version = sa.and_(reach, r.questionnaire_id == found.questionnaire_id, r.questionnaire_version == found.version)
    closed_rounds = sa.and_(of_version, r.closed_on.is_not(None))
    answers = (
        sa.select(a.response_id, a.round_id, r.factory_id, a.question_id, a.sex, a.age_band, a.role, a.number, a.choice)
        .join(rounds, r.id == a.round_id)
        .where(closed_rounds)
    )
    respondents = sa.select(r.closed_on.is_not(None).label("closed"), r.responses).where(of_version)
    async with engine.connect() as conn:
        rows = [
            AnswerRow(
                x.response_id,
                x.round_id,
                x.factory_id,
                x.question_id,
                x.sex,
                x.age_band,
                x.role,
                x.choice if x.choice is not None else x.number,
            )
            for x in await conn.execute(answers)
        ]
        in_rounds = list(await conn.execute(respondents))
    enough = [x.responses for x in in_rounds if x.closed and x.responses >= thresholds.smallest_group]
    count = RoundCount(
        counted=len(enough),
        still_open=sum(not x.closed for x in in_rounds),
        too_few_respondents=sum(x.closed and x.responses < thresholds.smallest_group for x in in_rounds),
        respondents=sum(enough),
    )
    by_question: dict[str, list[AnswerRow]] = {}
    for row in rows:
        by_question.setdefault(row.question_id, []).append(row)
    return count, [aggregate_question(q, by_question.get(q.id, []), thresholds) for q in found.questions]


# --- manager surveys: impact ------------------------------------------------------------------

MEASURES = ("sales", "production_capacity", "employment")


@dataclass(frozen=True)
class ManagerRound:
    round_id: str
    factory_id: str
    opened_on: dt.date
    period_start: dt.date
    period_end: dt.date
    sales: float | None
    currency: str | None
    production_capacity: int | None
    employment: int | None

    def figure(self, measure: str) -> float | None:
        """The figure, sales as a rate a day of the period (periods can differ in length)."""
        value = getattr(self, measure)
        if value is None:
            return None
        if measure == "sales":
            return float(value) / ((self.period_end - self.period_start).days + 1)
        return float(value)


@dataclass(frozen=True)
class Change:
    factory_id: str
    first: float
    latest: float

    @property
    def relative(self) -> float:
        return (self.latest - self.first) / self.first


@dataclass(frozen=True)
class Impact:
    measure: str
    changes: tuple[Change, ...]  # the factories it stands on
    left_out: tuple[tuple[str, str], ...]  # (factory id, why), by factory id


ONE_ROUND = "only one closed manager survey round"
STILL_OPEN = "its manager survey round is still open"
MISSING = "the figure is missing in all but one round"
CURRENCIES = "sales in its first and latest rounds are in different currencies"
ZERO = "its first figure is zero: there is no relative change"


def impact(measure: str, by_factory: dict[str, list[ManagerRound]], open_only: Iterable[str] = ()) -> Impact:
    """Per factory, the change in `measure` between its first and latest closed rounds that report
    it (in the order of the periods they cover); the factories left out, and why."""
    changes, left_out = [], [(f, STILL_OPEN) for f in open_only if f not in by_factory]
    for factory_id, factory_rounds in sorted(by_factory.items()):
        if len(factory_rounds) < 2:
            left_out.append((factory_id, ONE_ROUND))
            continue
        reported = sorted(
            (x for x in factory_rounds if x.figure(measure) is not None),
            key=lambda x: (x.period_end, x.opened_on, x.round_id),
        )
        if len(reported) < 2:
            left_out.append((factory_id, MISSING))
            continue
        first, latest = reported[0], reported[-1]
        if measure == "sales" and first.currency != latest.currency:
            left_out.append((factory_id, CURRENCIES))
            continue
        before, after = first.figure(measure), latest.figure(measure)
        assert before is not None and after is not None
        if before == 0:
            left_out.append((factory_id, ZERO))
            continue
        changes.append(Change(factory_id, before, after))
    return Impact(measure, tuple(changes), tuple(sorted(left_out)))


async def manager_rounds(engine: Reader, country: str) -> tuple[dict[str, list[ManagerRound]], set[str]]:
    """The country's closed manager rounds with their figures, by factory; and the factories whose
    manager rounds are all still open."""
    m = manager_figures.c
    query = (
        sa.select(r.id, r.factory_id, r.opened_on, r.closed_on, *(c for c in manager_figures.c if c.name != "version"))
        .join(manager_figures, m.round_id == r.id, isouter=True)
        .where(r.country == country, r.kind == se.SurveyKind.MANAGER.value)
    )
    async with engine.connect() as conn:
        rows = list(await conn.execute(query))
    by_factory: dict[str, list[ManagerRound]] = {}
    for x in rows:
        if x.closed_on is not None and x.period_start is not None:
            by_factory.setdefault(x.factory_id, []).append(
                ManagerRound(
                    x.id,
                    x.factory_id,
                    x.opened_on,
                    x.period_start,
                    x.period_end,
                    x.sales,
                    x.currency,
                    x.production_capacity,
                    x.employment,
                )
            )
    return by_factory, {x.factory_id for x in rows} - set(by_factory)
