"""Published assessment reports, with how their findings are remedied (from the improvement plans
read model). Nothing before publication.

Only published reports reach this read model: a scheduled assessment (and its confidential date)
is never stored here, so no query of any audience can reveal it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from betterwork_events.contracts import assessment as ae
from betterwork_events.envelope import Envelope
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.read_models import improvement_plans
from gateway.read_models.pages import Order, Page, PageRequest, pages_per_parent
from gateway.read_models.projection import Projection, metadata
from gateway.read_models.snapshot import Reader

if TYPE_CHECKING:  # the policy module reads the directory's tables
    from gateway.policy import Scope

assessment_reports = sa.Table(
    "assessment_reports",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("factory_id", sa.Text, nullable=False),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("tool_version", sa.Text, nullable=False),
    sa.Column("published_on", sa.Date, nullable=False),
    sa.Column("compliance_points", sa.JSON, nullable=False),
    sa.Column("clusters", sa.JSON, nullable=False),
    sa.Column("recurring", sa.JSON, nullable=False),
)

projection = Projection("assessment-reports", [assessment_reports])


@projection.on(ae.AssessmentCompleted)
async def completed(conn: AsyncConnection, event: ae.AssessmentCompleted, envelope: Envelope) -> None:
    await conn.execute(
        insert(assessment_reports)
        .values(
            id=event.assessment_id,
            factory_id=event.factory_id,
            country=event.country,
            tool_version=event.tool_version,
            published_on=event.published_on,
            compliance_points=[p.model_dump(mode="json") for p in event.compliance_points],
            clusters=[c.model_dump(mode="json") for c in event.clusters],
            recurring=list(event.recurring_questions),
        )
        .on_conflict_do_nothing()
    )


# --- queries ------------------------------------------------------------------------------------

NEWEST_FIRST = Order((assessment_reports.c.published_on, assessment_reports.c.id), descending=True)


def readable_reports(scope: Scope) -> sa.Select[Any]:
    """The published reports this caller may read, with the remediation of their findings."""
    findings = improvement_plans.plan_findings.c
    remediation = (
        sa.select(
            sa.func.coalesce(
                sa.func.json_object_agg(findings.question_id, findings.status), sa.literal_column("'{}'::json")
            )
        )
        .where(findings.assessment_id == assessment_reports.c.id)
        .scalar_subquery()
        .label("remediation")
    )
    return sa.select(assessment_reports, remediation).where(scope.factory(assessment_reports.c.factory_id))


async def reports_of_factories(
    engine: Reader, scope: Scope, factory_ids: Sequence[str], request: PageRequest
) -> list[Page]:
    """Each factory's published reports, newest first, with the remediation of their findings."""
    query = readable_reports(scope)
    return await pages_per_parent(engine, query, assessment_reports.c.factory_id, factory_ids, NEWEST_FIRST, request)


async def report(engine: Reader, scope: Scope, assessment_id: str) -> Any | None:
    """One published report, if the caller may read it."""
    async with engine.connect() as conn:
        found = await conn.execute(readable_reports(scope).where(assessment_reports.c.id == assessment_id))
        return found.first()


def remediation_of(row: Any, question_id: str) -> str:
    """Open, remediated or verified: a rejected remediation leaves the finding open again."""
    status = str((row.remediation or {}).get(question_id, improvement_plans.OPEN))
    return improvement_plans.OPEN if status == improvement_plans.REJECTED else status
