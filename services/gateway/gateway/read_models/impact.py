"""The programme's impact claims as queries: how each factory's compliance changed between its first
and latest published reports, how many factories comply on a compliance point, and compliance by
years in the programme. No tables of its own: it reads the compliance points of published reports
(`compliance.report_points`), the same rows the dashboards read.

A measure is one compliance point, one cluster or every point. A factory complies on a measure in
a report when none of the measure's points it assessed is non-compliant. Each query answers per
whole year in the programme (first to latest report, or first to this report), so that the caller
sums the years it wants ("more than two years") and the policy can judge, from the same rows,
which of those sums a government may read. Which factories were left out, and why, comes with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from gateway.read_models.compliance import report_points
from gateway.read_models.snapshot import Reader

# Why a factory is left out of a figure.
ONLY_ONE_ASSESSMENT = "only-one-assessment"
NOT_ASSESSED_FIRST_AND_LATEST = "not-assessed-in-first-and-latest"
NOT_ASSESSED_LATEST = "not-assessed-in-latest"


@dataclass(frozen=True)
class Measure:
    cluster_id: str | None = None
    compliance_point_id: str | None = None

    def condition(self, rows: sa.Subquery) -> sa.ColumnElement[bool]:
        c = rows.c
        if self.compliance_point_id is not None:
            return c.compliance_point_id == self.compliance_point_id
        if self.cluster_id is not None:
            return c.cluster_id == self.cluster_id
        return sa.true()


@dataclass(frozen=True)
class ChangeByYears:
    """The factories that took part `years` whole years (first to latest report): the compliance
    points of the measure in their first and latest reports, over those with both; the others by
    why they are left out."""

    years: int
    factories: int
    first_assessed: int
    first_non_compliant: int
    latest_assessed: int
    latest_non_compliant: int
    factory_ids: list[str]
    left_out: dict[str, list[str]]


async def change_by_years(engine: Reader, reports: sa.ColumnElement[bool], measure: Measure) -> list[ChangeByYears]:
    """First against latest report, per whole years in the programme, in one query."""
    rows = report_points(reports)
    c = rows.c
    first, latest = c.cycle == 1, c.latest
    per_factory = (
        sa.select(
            c.factory_id,
            sa.func.max(c.reports).label("reports"),
            sa.func.max(c.programme_years).label("years"),
            sa.func.count().filter(first).label("first_assessed"),
            sa.func.count().filter(first, c.non_compliant).label("first_non_compliant"),
            sa.func.count().filter(latest).label("latest_assessed"),
            sa.func.count().filter(latest, c.non_compliant).label("latest_non_compliant"),
        )
        .where(measure.condition(rows))
        .group_by(c.factory_id)
        .subquery("per_factory")
    )
    p = per_factory.c
    only_one = p.reports < 2
    counted = sa.and_(~only_one, p.first_assessed > 0, p.latest_assessed > 0)
    not_both = sa.and_(~only_one, ~counted)
    query = (
        sa.select(
            p.years,
            sa.func.count().filter(counted).label("factories"),
            *(
                _summed(p[name], counted).label(name)
                for name in ("first_assessed", "first_non_compliant", "latest_assessed", "latest_non_compliant")
            ),
            _ids(p.factory_id, counted).label("factory_ids"),
            _ids(p.factory_id, only_one).label("only_one"),
            _ids(p.factory_id, not_both).label("not_both"),
        )
        .group_by(p.years)
        .order_by(p.years)
    )
    async with engine.connect() as conn:
        found = await conn.execute(query)
    return [
        ChangeByYears(
            row.years,
            row.factories,
            row.first_assessed,
            row.first_non_compliant,
            row.latest_assessed,
            row.latest_non_compliant,
            row.factory_ids,
            {ONLY_ONE_ASSESSMENT: row.only_one, NOT_ASSESSED_FIRST_AND_LATEST: row.not_both},
        )
        for row in found
    ]


@dataclass(frozen=True)
class ComplianceByYears:
    """Factories complying on the measure in one report each: over `years` whole years in the
    programme, either their latest report (`compliance_at_latest`) or their latest report of that
    year in the programme (`compliance_by_year_of_participation`)."""

    years: int
    factories: int
    compliant: int
    assessed: int
    non_compliant: int
    factory_ids: list[str]
    left_out: dict[str, list[str]]


async def compliance_at_latest(
    engine: Reader, reports: sa.ColumnElement[bool], measure: Measure
) -> list[ComplianceByYears]:
    """Each factory's latest report, per whole years in the programme at it, in one query."""
    rows = report_points(reports)
    c = rows.c
    return await _compliance(engine, rows, c.programme_years, c.latest, measure, left_out_if_not_latest=True)


async def compliance_by_year_of_participation(
    engine: Reader, reports: sa.ColumnElement[bool], measure: Measure
) -> list[ComplianceByYears]:
    """For each whole year in the programme, each factory's latest report of that year, in one query."""
    rows = report_points(reports)
    c = rows.c
    return await _compliance(engine, rows, c.years, c.latest_of_year, measure, left_out_if_not_latest=False)


async def _compliance(
    engine: Reader,
    rows: sa.Subquery,
    years: sa.ColumnElement[int],
    which: sa.ColumnElement[bool],
    measure: Measure,
    left_out_if_not_latest: bool,
) -> list[ComplianceByYears]:
    c = rows.c
    per_factory = (
        sa.select(
            c.factory_id,
            years.label("years"),
            sa.func.count().filter(which).label("assessed"),
            sa.func.count().filter(which, c.non_compliant).label("non_compliant"),
        )
        .where(measure.condition(rows))
        .group_by(c.factory_id, years)
        .subquery("per_factory")
    )
    p = per_factory.c
    counted = p.assessed > 0
    left_out = _ids(p.factory_id, ~counted) if left_out_if_not_latest else sa.cast(sa.text("'{}'"), _IDS)
    query = (
        sa.select(
            p.years,
            sa.func.count().filter(counted).label("factories"),
            sa.func.count().filter(counted, p.non_compliant == 0).label("compliant"),
            _summed(p.assessed, counted).label("assessed"),
            _summed(p.non_compliant, counted).label("non_compliant"),
            _ids(p.factory_id, counted).label("factory_ids"),
            left_out.label("left_out"),
        )
        .group_by(p.years)
        .order_by(p.years)
    )
    async with engine.connect() as conn:
        found = await conn.execute(query)
    return [
        ComplianceByYears(
            row.years,
            row.factories,
            row.compliant,
            row.assessed,
            row.non_compliant,
            row.factory_ids,
            {NOT_ASSESSED_LATEST: row.left_out} if left_out_if_not_latest else {},
        )
        for row in found
    ]


_IDS = sa.ARRAY(sa.Text)


def _ids(factory_id: sa.ColumnElement[str], where: sa.ColumnElement[bool]) -> sa.ColumnElement[list[str]]:
    """The factories' ids where `where` holds, in order (an empty list if none)."""
    ordered = sa.func.array_agg(aggregate_order_by(factory_id, factory_id)).filter(where)
    return sa.func.coalesce(ordered, sa.cast(sa.text("'{}'"), _IDS))


def _summed(counts: sa.ColumnElement[int], where: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    """A sum of counts as an integer (PostgreSQL sums bigints as numeric), 0 over no rows."""
    return sa.cast(sa.func.coalesce(sa.func.sum(counts).filter(where), 0), sa.Integer)
