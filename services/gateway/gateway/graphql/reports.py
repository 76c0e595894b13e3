"""Published assessment reports, as a factory's brands, its own users and the programme read them."""

from __future__ import annotations

from typing import Any

import strawberry

from gateway.graphql.context import Context
from gateway.graphql.relay import Connection, connection
from gateway.read_models import reports
from gateway.read_models.pages import PageRequest


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

    @classmethod
    def of(cls, row: Any) -> AssessmentReport:
        return cls(
            id=strawberry.ID(row.id),
            published_on=row.published_on.isoformat(),
            tool_version=row.tool_version,
            compliance_points=[
                CompliancePointResult(
                    compliance_point_id=p["compliance_point_id"],
                    cluster_id=p["cluster_id"],
                    non_compliant=p["non_compliant"],
                    non_compliant_questions=p["non_compliant_questions"],
                    remediation=[reports.remediation_of(row, q) for q in p["non_compliant_questions"]],
                )
                for p in row.compliance_points
            ],
            clusters=[ClusterResult(**c) for c in row.clusters],
            recurring_questions=row.recurring,
        )


async def of_factory(
    factory_id: str, info: strawberry.Info[Context, None], first: int | None, after: str | None
) -> Connection[AssessmentReport]:
    loader = info.context.pages(reports.reports_of_factories)
    return connection(await loader.load((factory_id, PageRequest.of(first, after))), AssessmentReport.of)
