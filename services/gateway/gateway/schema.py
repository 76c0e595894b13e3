"""The GraphQL schema that portals and partner systems query."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import sqlalchemy as sa
import strawberry
from betterwork_events.auth import Principal
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter
from strawberry.fastapi import BaseContext
from strawberry.types import Info

from gateway import policy
from gateway.read_model import assessment_reports, factories, finding_remediation


@dataclass
class Context(BaseContext):
    principal: Principal | None
    engine: AsyncEngine
    # For a brand: the factories the registry says share their reports with it now (see registry.py).
    sharing_now: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        super().__init__()


@strawberry.enum(description="Where a factory stands with its country programme")
class Enrollment(Enum):
    APPLIED = "applied"
    ENROLLED = "enrolled"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


@strawberry.type(description="Workers employed at the site")
class Workforce:
    total: int
    women: int
    men: int


@strawberry.type(description="A compliance point of a published report")
class CompliancePointResult:
    compliance_point_id: str
    cluster_id: str
    non_compliant: bool
    non_compliant_questions: list[str]
    remediation: list[str] = strawberry.field(description="Per non-compliant question: open, remediated or verified")


@strawberry.type(description="A cluster of a published report")
class ClusterResult:
    cluster_id: str
    compliance_points_assessed: int
    compliance_points_non_compliant: int
    non_compliance_rate: float


@strawberry.type(description="A published assessment report")
class AssessmentReport:
    id: strawberry.ID
    published_on: str
    tool_version: str
    compliance_points: list[CompliancePointResult]
    clusters: list[ClusterResult]
    recurring_questions: list[str] = strawberry.field(description="Non-compliant again since the previous report")


@strawberry.type(description="A factory in the programme")
class Factory:
    id: strawberry.ID
    name: str
    local_name: str | None
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code")
    address: str
    sector: str
    enrollment: Enrollment | None
    workforce: Workforce | None

    @strawberry.field(description="Its published assessment reports, newest first")
    async def assessment_reports(self, info: Info[Context, None]) -> list[AssessmentReport]:
        context = info.context
        allowed = _allowed(lambda: policy.readable_factories(context.principal, context.sharing_now))
        query = (
            sa.select(assessment_reports)
            .join(factories, factories.c.id == assessment_reports.c.factory_id)
            .where(assessment_reports.c.factory_id == str(self.id), allowed)
            .order_by(assessment_reports.c.published_on.desc())
        )
        async with context.engine.connect() as conn:
            reports = list(await conn.execute(query))
            remediation = {
                (r.assessment_id, r.question_id): r.status
                for r in await conn.execute(
                    sa.select(finding_remediation).where(
                        finding_remediation.c.assessment_id.in_([r.id for r in reports])
                    )
                )
            }
        return [_report(row, remediation) for row in reports]

    @classmethod
    def of(cls, row: Any) -> Factory:
        workforce = (
            Workforce(total=row.workers_total, women=row.workers_women or 0, men=row.workers_men or 0)
            if row.workers_total is not None
            else None
        )
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            local_name=row.local_name,
            country=row.country,
            address=row.address,
            sector=row.sector,
            enrollment=Enrollment(row.enrollment) if row.enrollment else None,
            workforce=workforce,
        )


@strawberry.type(
    description="A country's programme in numbers; cells of fewer than 5 factories are withheld, workers are "
    "rounded to the hundred and shares to the hundredth"
)
class CountrySummary:
    country: str
    enrolled_factories: int | None
    workers: int | None
    women_share: float | None = strawberry.field(description="Women among the enrolled factories' workers, from 0 to 1")
    suppressed: bool = strawberry.field(description="True when the figures are withheld because the cell is small")


def _report(row: Any, remediation: dict[tuple[str, str], str]) -> AssessmentReport:
    return AssessmentReport(
        id=strawberry.ID(row.id),
        published_on=row.published_on.isoformat(),
        tool_version=row.tool_version,
        compliance_points=[
            CompliancePointResult(
                compliance_point_id=p["compliance_point_id"],
                cluster_id=p["cluster_id"],
                non_compliant=p["non_compliant"],
                non_compliant_questions=p["non_compliant_questions"],
                remediation=[remediation.get((row.id, q), "open") for q in p["non_compliant_questions"]],
            )
            for p in row.compliance_points
        ],
        clusters=[ClusterResult(**c) for c in row.clusters],
        recurring_questions=row.recurring,
    )


def _allowed(build: Any) -> Any:
    try:
        return build()
    except policy.AccessDenied as denied:
        raise PermissionError(str(denied)) from None


@strawberry.type
class Query:
    @strawberry.field(description="The factories you may read, by name")
    async def factories(
        self, info: Info[Context, None], country: str | None = None, enrollment: Enrollment | None = None
    ) -> list[Factory]:
        context = info.context
        allowed = _allowed(lambda: policy.readable_factories(context.principal, context.sharing_now))
        query = (
            sa.select(factories)
            .where(allowed, factories.c.merged_into.is_(None))
            .order_by(factories.c.name, factories.c.id)
        )
        if country is not None:
            query = query.where(factories.c.country == country)
        if enrollment is not None:
            query = query.where(factories.c.enrollment == enrollment.value)
        async with context.engine.connect() as conn:
            return [Factory.of(row) for row in await conn.execute(query)]

    @strawberry.field(description="One factory; the id of a merged record finds the factory it was merged into")
    async def factory(self, info: Info[Context, None], id: strawberry.ID) -> Factory | None:
        context = info.context
        allowed = _allowed(lambda: policy.readable_factories(context.principal, context.sharing_now))
        async with context.engine.connect() as conn:
            merged_into = (await conn.execute(sa.select(factories.c.merged_into).where(factories.c.id == id))).scalar()
            row = (
                await conn.execute(sa.select(factories).where(factories.c.id == (merged_into or id), allowed))
            ).first()
        return Factory.of(row) if row else None

    @strawberry.field(description="A country's enrolled factories and their workforce, in aggregate")
    async def country_summary(self, info: Info[Context, None], country: str) -> CountrySummary:
        _allowed(lambda: policy.readable_country_aggregates(info.context.principal, country))
        query = sa.select(
            sa.func.count(),
            sa.func.count(factories.c.workers_total),
            sa.func.sum(factories.c.workers_total),
            sa.func.sum(factories.c.workers_women),
        ).where(factories.c.country == country, factories.c.enrollment == "enrolled", factories.c.merged_into.is_(None))
        async with info.context.engine.connect() as conn:
            count, with_workforce, workers, women = (await conn.execute(query)).one()
        if count < policy.SMALLEST_CELL:
            return CountrySummary(
                country=country, enrolled_factories=None, workers=None, women_share=None, suppressed=True
            )
        if with_workforce < policy.SMALLEST_CELL:
            # The workforce figures are a cell of their own: the factories that recorded one.
            return CountrySummary(
                country=country, enrolled_factories=count, workers=None, women_share=None, suppressed=True
            )
        # Rounded, so that the difference of two readings (before and after one factory enrolls)
        # does not give that factory's workforce to the person.
        share = round(women / workers, 2) if workers else None
        rounded = int(round(workers, -policy.WORKERS_ROUNDED_TO_DIGITS))
        return CountrySummary(
            country=country, enrolled_factories=count, workers=rounded, women_share=share, suppressed=False
        )


def _internal(error: GraphQLError) -> bool:
    """Errors whose message must not reach the caller: anything but the policy's refusals and the
    caller's own mistakes in the query (which have no original error)."""
    original = error.original_error
    return original is not None and not isinstance(original, PermissionError | GraphQLError)


def _masking() -> MaskErrors:
    return MaskErrors(should_mask_error=_internal, error_message="the query could not be answered")


# Each alias of a root field is a database query, and every token is parsed: bounds far above
# what a portal or a partner's query needs, far below what would tie up the gateway.
MOST_ALIASES = 50
MOST_TOKENS = 5_000


def _few_aliases() -> MaxAliasesLimiter:
    return MaxAliasesLimiter(max_alias_count=MOST_ALIASES)


def _few_tokens() -> MaxTokensLimiter:
    return MaxTokensLimiter(max_token_count=MOST_TOKENS)


schema = strawberry.Schema(query=Query, extensions=[_masking, _few_aliases, _few_tokens])
