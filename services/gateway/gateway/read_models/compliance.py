"""Non-compliance in aggregate, from each factory's latest published report, per country and cluster.

No tables of its own: it reads the published reports (reports.py), whose per-cluster summaries
say how many compliance points were assessed and how many found non-compliant. Which reports
count is the caller's condition (from the policy); nothing here names a factory in its answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, distinct_on

from gateway.read_models import improvement_plans
from gateway.read_models.reports import assessment_reports
from gateway.read_models.snapshot import Reader


@dataclass(frozen=True)
class ClusterTotal:
    """One country's cluster over a set of factories: the compliance points of their latest reports."""

    country: str
    cluster_id: str
    factories: int
    assessed: int
    non_compliant: int


async def cluster_totals(engine: Reader, reports: sa.ColumnElement[bool]) -> list[ClusterTotal]:
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


# --- dashboards and impact: per compliance point of each published report -----------------------
#
# Everything below reads the compliance points of published reports (the assessment service's
# summary: each point assessed, with at least one applicable question, and whether it was found
# non-compliant). A factory's cycle is its report's place among the factory's published reports,
# oldest first: the cycle number of the assessments read model for every report whose earlier
# visits are published (a published assessment is never cancelled). Its years in the programme
# at a report are the whole years since its first published report, the baseline assessment.


@dataclass(frozen=True)
class Period:
    """Which reports a figure covers: each factory's latest (`cycle` and `year` None), its report of
    one cycle, or the reports published in one calendar year."""

    cycle: int | None = None
    year: int | None = None

    @property
    def is_current(self) -> bool:
        return self.cycle is None and self.year is None


def report_points(reports: sa.ColumnElement[bool]) -> sa.Subquery:
    """One row per compliance point of each published report satisfying `reports`, with the report's
    cycle, whether it is the factory's latest, the factory's years in the programme at it (`years`)
    and at its latest report (`programme_years`), and whether it is the factory's latest report of
    its year in the programme (`latest_of_year`)."""
    r = assessment_reports.c
    numbered = (
        sa.select(
            r.id.label("report_id"),
            r.factory_id,
            r.country,
            r.published_on,
            r.compliance_points,
            sa.func.row_number().over(partition_by=r.factory_id, order_by=(r.published_on, r.id)).label("cycle"),
            sa.func.count().over(partition_by=r.factory_id).label("reports"),
            sa.func.min(r.published_on).over(partition_by=r.factory_id).label("first_published_on"),
            sa.func.max(r.published_on).over(partition_by=r.factory_id).label("latest_published_on"),
        )
        .where(reports)
        .subquery("numbered")
    )
    n = numbered.c

    def years_between(since: sa.ColumnElement[Any], until: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
        return sa.cast(sa.func.extract("year", sa.func.age(until, since)), sa.Integer)

    years = years_between(n.first_published_on, n.published_on)
    with_years = sa.select(
        numbered,
        years.label("years"),
        years_between(n.first_published_on, n.latest_published_on).label("programme_years"),
        (
            sa.func.row_number().over(
                partition_by=(n.factory_id, years), order_by=(n.published_on.desc(), n.report_id.desc())
            )
            == 1
        ).label("latest_of_year"),
    ).subquery("with_years")
    w = with_years.c
    point = sa.func.jsonb_array_elements(sa.cast(w.compliance_points, JSONB)).table_valued(
        sa.column("value", JSONB), name="point"
    )
    return (
        sa.select(
            w.report_id,
            w.factory_id,
            w.country,
            w.published_on,
            w.cycle,
            w.reports,
            (w.cycle == w.reports).label("latest"),
            w.years,
            w.programme_years,
            w.latest_of_year,
            point.c.value["cluster_id"].astext.label("cluster_id"),
            point.c.value["compliance_point_id"].astext.label("compliance_point_id"),
            point.c.value["non_compliant"].astext.cast(sa.Boolean).label("non_compliant"),
        )
        .select_from(with_years.join(point, sa.true()))
        .subquery("report_points")
    )


def _in_period(rows: sa.Subquery, period: Period) -> sa.ColumnElement[bool]:
    c = rows.c
    if period.cycle is not None:
        return c.cycle == period.cycle
    if period.year is not None:
        return sa.extract("year", c.published_on) == period.year
    return c.latest


@dataclass(frozen=True)
class NonCompliance:
    """Non-compliance over a set of reports: the whole (cluster and point None), one cluster or one
    point; `period` is the cycle or year of a trend's row (None in one period's figures)."""

    cluster_id: str | None
    compliance_point_id: str | None
    period: int | None
    factories: int
    assessments: int
    assessed: int
    non_compliant: int

    @property
    def rate(self) -> float:
        return self.non_compliant / self.assessed


def _non_compliance_columns(rows: sa.Subquery) -> list[sa.ColumnElement[Any]]:
    c = rows.c
    return [
        sa.func.count(sa.distinct(c.factory_id)).label("factories"),
        sa.func.count(sa.distinct(c.report_id)).label("assessments"),
        sa.func.count().label("assessed"),
        sa.func.count().filter(c.non_compliant).label("non_compliant"),
    ]


async def non_compliance(
    engine: Reader, reports: sa.ColumnElement[bool], period: Period, trend: str | None = None
) -> list[NonCompliance]:
    """Over the reports of `period` that satisfy `reports`: the whole, per cluster and per compliance
    point, in one query. With `trend` ("cycle" or "year") instead: the same per cycle or year."""
    rows = report_points(reports)
    c = rows.c
    if trend is None:
        key: sa.ColumnElement[Any] = sa.null()
        where = _in_period(rows, period)
        sets: list[tuple[sa.ColumnElement[Any], ...]] = [(), (c.cluster_id,), (c.cluster_id, c.compliance_point_id)]
    else:
        key = c.cycle if trend == "cycle" else sa.cast(sa.extract("year", c.published_on), sa.Integer)
        where = sa.true()
        sets = [(key,), (key, c.cluster_id), (key, c.cluster_id, c.compliance_point_id)]
    query = (
        sa.select(
            c.cluster_id,
            c.compliance_point_id,
            (key if trend else sa.null()).label("period"),
            sa.func.grouping(c.cluster_id).label("all_clusters"),
            sa.func.grouping(c.compliance_point_id).label("all_points"),
            *_non_compliance_columns(rows),
        )
        .where(where)
        .group_by(sa.func.grouping_sets(*(sa.tuple_(*s) for s in sets)))
        .having(sa.func.count() > 0)  # the whole of no rows is no figure
        .order_by(sa.text("period"), c.cluster_id.nulls_first(), c.compliance_point_id.nulls_first())
    )
    async with engine.connect() as conn:
        found = await conn.execute(query)
    return [
        NonCompliance(
            None if row.all_clusters else row.cluster_id,
            None if row.all_points else row.compliance_point_id,
            row.period,
            row.factories,
            row.assessments,
            row.assessed,
            row.non_compliant,
        )
        for row in found
    ]


@dataclass(frozen=True)
class Recurrence:
    """Of the compliance points found non-compliant in a factory's report and assessed again in its
    next, how many were non-compliant again; `factories` and `assessments` are those next reports'."""

    cluster_id: str | None
    compliance_point_id: str | None
    factories: int
    assessments: int
    non_compliant_before: int
    recurred: int


async def recurrence(engine: Reader, reports: sa.ColumnElement[bool], period: Period) -> list[Recurrence]:
    """Per cluster and point (and overall), the reports of `period` against each factory's previous one."""
    now, before = report_points(reports), report_points(reports).alias("before")
    n, b = now.c, before.c
    pairs = now.join(
        before,
        sa.and_(
            b.factory_id == n.factory_id,
            b.compliance_point_id == n.compliance_point_id,
            b.cycle == n.cycle - 1,
            b.non_compliant,
        ),
    )
    sets = [(), (n.cluster_id,), (n.cluster_id, n.compliance_point_id)]
    query = (
        sa.select(
            n.cluster_id,
            n.compliance_point_id,
            sa.func.grouping(n.cluster_id).label("all_clusters"),
            sa.func.grouping(n.compliance_point_id).label("all_points"),
            sa.func.count(sa.distinct(n.factory_id)).label("factories"),
            sa.func.count(sa.distinct(n.report_id)).label("assessments"),
            sa.func.count().label("non_compliant_before"),
            sa.func.count().filter(n.non_compliant).label("recurred"),
        )
        .select_from(pairs)
        .where(_in_period(now, period))
        .group_by(sa.func.grouping_sets(*(sa.tuple_(*s) for s in sets)))
        .having(sa.func.count() > 0)  # the whole of no rows is no figure
        .order_by(n.cluster_id.nulls_first(), n.compliance_point_id.nulls_first())
    )
    async with engine.connect() as conn:
        found = await conn.execute(query)
    return [
        Recurrence(
            None if row.all_clusters else row.cluster_id,
            None if row.all_points else row.compliance_point_id,
            row.factories,
            row.assessments,
            row.non_compliant_before,
            row.recurred,
        )
        for row in found
    ]


@dataclass(frozen=True)
class Remediation:
    """The non-compliant findings (questions) of the reports of a period in one cluster (or all), and
    how many the programme verified as put right, with the median of the days from the report's
    publication to the factory's remediation of those verified."""

    cluster_id: str | None
    factories: int
    assessments: int
    findings: int
    verified: int
    median_days: float | None


async def remediation(engine: Reader, reports: sa.ColumnElement[bool], period: Period) -> list[Remediation]:
    """Per cluster and overall, from the improvement plans of the reports of `period`."""
    rows = report_points(reports)
    c = rows.c
    of_period = sa.select(c.report_id, c.factory_id).where(_in_period(rows, period)).distinct().subquery("of_period")
    f = improvement_plans.plan_findings.c
    verified = f.status == improvement_plans.VERIFIED
    days = sa.cast(sa.func.timezone("UTC", f.remediated_at), sa.Date) - f.published_on  # the day, in UTC
    query = (
        sa.select(
            f.cluster_id,
            sa.func.grouping(f.cluster_id).label("all_clusters"),
            sa.func.count(sa.distinct(f.factory_id)).label("factories"),
            sa.func.count(sa.distinct(f.assessment_id)).label("assessments"),
            sa.func.count().label("findings"),
            sa.func.count().filter(verified).label("verified"),
            sa.func.percentile_cont(0.5).within_group(days).filter(verified).label("median_days"),
        )
        .select_from(improvement_plans.plan_findings.join(of_period, of_period.c.report_id == f.assessment_id))
        .group_by(sa.func.grouping_sets(sa.tuple_(), sa.tuple_(f.cluster_id)))
        .having(sa.func.count() > 0)
        .order_by(f.cluster_id.nulls_first())
    )
    async with engine.connect() as conn:
        found = await conn.execute(query)
    return [
        Remediation(
            None if row.all_clusters else row.cluster_id,
            row.factories,
            row.assessments,
            row.findings,
            row.verified,
            None if row.median_days is None else float(row.median_days),
        )
        for row in found
    ]
