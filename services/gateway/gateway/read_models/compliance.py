"""Non-compliance in aggregate, from each factory's latest published report, per country and cluster.

No tables of its own: it reads the published reports (reports.py), whose per-cluster summaries
say how many compliance points were assessed and how many found non-compliant. Which reports
count is the caller's condition (from the policy); nothing here names a factory in its answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, distinct_on
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.read_models.reports import assessment_reports


@dataclass(frozen=True)
class ClusterTotal:
    """One country's cluster over a set of factories: the compliance points of their latest reports."""

    country: str
    cluster_id: str
    factories: int
    assessed: int
    non_compliant: int


async def cluster_totals(engine: AsyncEngine, reports: sa.ColumnElement[bool]) -> list[ClusterTotal]:
    """Per country and cluster, over the latest published report of each factory whose reports
    satisfy `reports`; a factory counts in a cluster if its report assessed a point of it."""
    r = assessment_reports.c
    latest = (
        sa.select(r.factory_id, r.country, r.clusters)
        .where(reports)
        .ext(distinct_on(r.factory_id))
        .order_by(r.factory_id, r.published_on.desc(), r.id.desc())
        .subquery("latest")
    )
    cluster = sa.func.jsonb_array_elements(sa.cast(latest.c.clusters, JSONB)).table_valued(
        sa.column("value", JSONB), name="cluster"
    )
    cluster_id = cluster.c.value["cluster_id"].astext
    assessed = cluster.c.value["compliance_points_assessed"].astext.cast(sa.Integer)
    non_compliant = cluster.c.value["compliance_points_non_compliant"].astext.cast(sa.Integer)
    query = (
        sa.select(
            latest.c.country,
            cluster_id.label("cluster_id"),
            sa.func.count(sa.distinct(latest.c.factory_id)).label("factories"),
            sa.func.sum(assessed).label("assessed"),
            sa.func.sum(non_compliant).label("non_compliant"),
        )
        .select_from(latest.join(cluster, sa.true()))
        .where(assessed > 0)
        .group_by(latest.c.country, cluster_id)
        .order_by(latest.c.country, cluster_id)
    )
    async with engine.connect() as conn:
        rows = await conn.execute(query)
    return [ClusterTotal(row.country, row.cluster_id, row.factories, row.assessed, row.non_compliant) for row in rows]


def of_country(country: str) -> sa.ColumnElement[bool]:
    return assessment_reports.c.country == country


def of_countries(countries: set[str]) -> sa.ColumnElement[bool]:
    return assessment_reports.c.country.in_(sorted(countries))


# The column a caller's condition on whose reports count is about (policy.Scope.brand_suppliers).
FACTORY_OF_REPORT = assessment_reports.c.factory_id
