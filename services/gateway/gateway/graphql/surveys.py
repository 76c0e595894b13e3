"""Research surveys in aggregate: worker survey results per question (never a response, never a
free-text answer) and the manager surveys' impact figures. Who reads what is policy.Scope's
(`survey_results`, `manager_survey_impact`); how small groups are withheld, read_models/surveys.py's."""

from __future__ import annotations

import statistics

import strawberry

from gateway import policy
from gateway.graphql.arguments import BadArgument
from gateway.graphql.context import Context
from gateway.read_models import surveys
from gateway.read_models.surveys import Cell, GroupCell, Impact, QuestionResult, RoundCount, Thresholds

Info = strawberry.Info[Context, None]


@strawberry.type(description="How many respondents of a group gave one answer (an option, or a point of a scale)")
class SurveyAnswerCount:
    answer: str
    respondents: int
    share: float = strawberry.field(description="Of the group's respondents, rounded to the hundredth")


@strawberry.type(
    description="A group's answers to one question. Withheld (every figure null) where the group has fewer than "
    "10 respondents, or showing it would let a smaller group be worked out from the other figures; for a "
    "government, also where it stands on fewer than 5 factories"
)
class SurveyCell:
    respondents: int | None = strawberry.field(description="Who answered the question (for text: all there is)")
    withheld: bool
    withheld_reason: str | None
    distribution: list[SurveyAnswerCount] = strawberry.field(
        description="Choice and scale questions: every option or point, with how many chose it"
    )
    mean: float | None = strawberry.field(description="Scale and number questions, rounded to the hundredth")
    median: float | None = strawberry.field(description="Scale and number questions")

    @classmethod
    def of(cls, cell: Cell) -> SurveyCell:
        n = cell.respondents or 0
        return cls(
            respondents=cell.respondents,
            withheld=not cell.shown,
            withheld_reason=cell.withheld,
            distribution=[
                SurveyAnswerCount(answer=answer, respondents=count, share=policy.rounded_share(count / n))
                for answer, count in cell.distribution
            ]
            if n
            else [],
            mean=cell.mean,
            median=cell.median,
        )


@strawberry.type(description="One group of a breakdown: a sex, an age band or a role")
class SurveyGroup:
    group: str
    figures: SurveyCell

    @classmethod
    def of(cls, group: GroupCell) -> SurveyGroup:
        return cls(group=group.group, figures=SurveyCell.of(group.cell))


@strawberry.type(
    description="One question over the closed rounds in reach. A breakdown's groups each stand on the rounds "
    "where that group could be shown, so a group's respondents can be fewer than the total's"
)
class SurveyQuestionResult:
    question_id: str
    text: str
    type: str = strawberry.field(description="scale, choice, number or text")
    total: SurveyCell
    by_sex: list[SurveyGroup]
    by_age_band: list[SurveyGroup]
    by_role: list[SurveyGroup]

    @classmethod
    def of(cls, result: QuestionResult) -> SurveyQuestionResult:
        q = result.question
        groups = {d: [SurveyGroup.of(g) for g in cells] for d, cells in result.breakdowns.items()}
        return cls(
            question_id=q.id,
            text=q.text,
            type=q.type.value,
            total=SurveyCell.of(result.total),
            by_sex=groups["sex"],
            by_age_band=groups["age_band"],
            by_role=groups["role"],
        )


@strawberry.type(
    description="A worker survey's results: each question of one questionnaire version over the closed rounds of "
    "a country, a factory or one round. Only closed rounds count, and only those with at least 10 respondents"
)
class WorkerSurveyResults:
    questionnaire_id: str
    version: int
    title: str
    country: str | None
    factory_id: str | None
    round_id: str | None
    rounds_counted: int
    rounds_still_open: int
    rounds_with_too_few_respondents: int = strawberry.field(description="Closed with fewer than 10 respondents")
    respondents: int = strawberry.field(description="In the rounds counted")
    questions: list[SurveyQuestionResult]


@strawberry.type(description="Factories an impact figure leaves out, for one reason")
class FactoriesLeftOut:
    reason: str
    factories: int
    factory_ids: list[str] | None = strawberry.field(description="Programme staff only")


@strawberry.type(
    description="The change in one business figure between each factory's first and latest closed manager survey "
    "rounds reporting it (sales as a rate per day of the period they cover). Withheld for a government (null) "
    "where it stands on fewer than 5 factories"
)
class ImpactFigure:
    measure: str = strawberry.field(description="sales, production_capacity or employment")
    factories: int | None = strawberry.field(description="The factories it stands on")
    factories_increased: int | None
    share_increased: float | None = strawberry.field(
        description="Of those factories, the share whose figure rose, from 0 to 1, rounded to the hundredth"
    )
    median_change: float | None = strawberry.field(
        description="The median relative change (0.12: a rise of 12%), rounded to the hundredth"
    )
    suppressed: bool
    left_out: list[FactoriesLeftOut]

    @classmethod
    def of(cls, found: Impact, smallest: int, with_ids: bool) -> ImpactFigure:
        reasons: dict[str, list[str]] = {}
        for factory_id, reason in found.left_out:
            reasons.setdefault(reason, []).append(factory_id)
        left_out = [
            FactoriesLeftOut(reason=reason, factories=len(ids), factory_ids=ids if with_ids else None)
            for reason, ids in sorted(reasons.items())
        ]
        n = len(found.changes)
        if n == 0 or n < smallest:
            return cls(
                measure=found.measure,
                factories=n if smallest == 1 else None,
                factories_increased=None,
                share_increased=None,
                median_change=None,
                suppressed=smallest > 1,
                left_out=left_out,
            )
        rose = sum(c.latest > c.first for c in found.changes)
        return cls(
            measure=found.measure,
            factories=n,
            factories_increased=rose,
            share_increased=policy.rounded_share(rose / n),
            median_change=policy.rounded_share(statistics.median(c.relative for c in found.changes)),
            suppressed=False,
            left_out=left_out,
        )


@strawberry.type(description="A country's manager surveys: how factories' sales, capacity and employment changed")
class ManagerSurveyImpact:
    country: str
    sales: ImpactFigure
    production_capacity: ImpactFigure
    employment: ImpactFigure


@strawberry.type
class Query:
    @strawberry.field(
        description="A worker survey's results per question, of a country (the programme, its government), a "
        "factory or one round (the programme, the factory itself). Name exactly one of country, factoryId and "
        "roundId. Null if the questionnaire version or the round is not known (or not yours)"
    )
    async def worker_survey_results(
        self,
        info: Info,
        questionnaire_id: str,
        version: int,
        country: str | None = None,
        factory_id: str | None = None,
        round_id: str | None = None,
    ) -> WorkerSurveyResults | None:
        context = info.context
        if sum(x is not None for x in (country, factory_id, round_id)) != 1:
            raise BadArgument("name exactly one of country, factoryId and roundId")
        scope = context.scope
        if round_id is not None:
            scope.survey_round_results()  # brands and governments: refused before any lookup
            found_round = await surveys.round_of(context.reads, round_id)
            if found_round is None:
                return None
            try:
                smallest = scope.survey_results(found_round.country, found_round.factory_id)
            except policy.AccessDenied:
                return None  # another factory's round does not exist for a factory
            reach = surveys.in_reach(round_id=round_id)
        else:
            smallest = scope.survey_results(country, factory_id)
            reach = surveys.in_reach(country=country, factory_id=factory_id)
        found = await surveys.questionnaire(context.reads, questionnaire_id, version)
        if found is None or found.kind != "worker":
            return None
        thresholds = Thresholds(policy.SMALLEST_SURVEY_GROUP, smallest)
        count, results = await surveys.worker_survey(context.reads, found, reach, thresholds)
        return _results(found, count, results, country, factory_id, round_id)

    @strawberry.field(
        description="How factories' sales, production capacity and employment changed between their first and "
        "latest manager surveys, a country's: for the programme and the country's government"
    )
    async def manager_survey_impact(self, info: Info, country: str) -> ManagerSurveyImpact:
        scope = info.context.scope
        smallest = scope.manager_survey_impact(country)
        by_factory, open_only = await surveys.manager_rounds(info.context.reads, country)
        figures = {
            m: ImpactFigure.of(surveys.impact(m, by_factory, open_only), smallest, scope.sees_factories_left_out)
            for m in surveys.MEASURES
        }
        return ManagerSurveyImpact(
            country=country,
            sales=figures["sales"],
            production_capacity=figures["production_capacity"],
            employment=figures["employment"],
        )


def _results(
    found: surveys.Questionnaire,
    count: RoundCount,
    results: list[QuestionResult],
    country: str | None,
    factory_id: str | None,
    round_id: str | None,
) -> WorkerSurveyResults:
    return WorkerSurveyResults(
        questionnaire_id=found.questionnaire_id,
        version=found.version,
        title=found.title,
        country=country,
        factory_id=factory_id,
        round_id=round_id,
        rounds_counted=count.counted,
        rounds_still_open=count.still_open,
        rounds_with_too_few_respondents=count.too_few_respondents,
        respondents=count.respondents,
        questions=[SurveyQuestionResult.of(r) for r in results],
    )
