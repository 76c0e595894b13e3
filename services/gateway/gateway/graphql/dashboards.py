"""Compliance dashboards: a country's non-compliance per cluster and compliance point for a period
(each factory's latest report, one cycle, or one calendar year), its trend across cycles or years,
a brand's supply base beside it, the most frequent non-compliances, recurrence and remediation.

Every figure says the factories and assessments behind it. Who reads what is `Scope.compliance_dashboard`;
for everyone but programme staff the country's cells are withheld as `policy.withheld_breakdown`
(and `withheld_beside` for a brand) says, shares rounded to the hundredth and compliance points to
the ten (policy's rounding). Never a factory's id or name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from typing import Annotated

import strawberry

from gateway import policy
from gateway.graphql.arguments import BadArgument, calendar_year
from gateway.graphql.context import Context
from gateway.read_models import compliance
from gateway.read_models.assessments import cluster_of
from gateway.read_models.compliance import NonCompliance, Period

Info = strawberry.Info[Context, None]


Cell = policy.BreakdownCell
MOST_FREQUENT = 10


@strawberry.type(
    description="Non-compliance over a set of reports, with the factories and assessments behind it. For all but "
    "programme staff compliance points are rounded to the ten and shares to the hundredth, and a withheld cell "
    "(too few factories, or giving a small one away by difference) has every figure null"
)
class ComplianceFigure:
    factories: int | None
    assessments: int | None = strawberry.field(description="Published reports behind the figure")
    compliance_points_assessed: int | None
    non_compliance_rate: float | None = strawberry.field(description="Non-compliant among those assessed, 0 to 1")
    suppressed: bool

    @classmethod
    def of(cls, figure: NonCompliance | None, withheld: bool, exact: bool) -> ComplianceFigure:
        if figure is None or withheld:
            return cls(
                factories=None,
                assessments=None,
                compliance_points_assessed=None,
                non_compliance_rate=None,
                suppressed=figure is not None,
            )
        return cls(
            factories=figure.factories,
            assessments=figure.assessments,
            compliance_points_assessed=figure.assessed if exact else policy.rounded_compliance_points(figure.assessed),
            non_compliance_rate=figure.rate if exact else policy.rounded_share(figure.rate),
            suppressed=False,
        )


@strawberry.type(description="One cell of the dashboard: the whole, a cluster or a compliance point")
class NonComplianceCell:
    cluster_id: str | None = strawberry.field(description="Null for every cluster together")
    compliance_point_id: str | None = strawberry.field(description="Null for a whole cluster (or every one)")
    country: ComplianceFigure = strawberry.field(description="Every factory of the country with a report in the period")
    supply_base: ComplianceFigure | None = strawberry.field(
        description="The brand's consenting suppliers of the country (null without a brand, or if none assessed it)"
    )


@strawberry.type(
    description="Of the compliance points non-compliant in a factory's previous report and assessed again in its "
    "report of the period, the share non-compliant again; factories and assessments are those of the period"
)
class RecurrenceCell:
    cluster_id: str | None
    compliance_point_id: str | None
    factories: int | None
    assessments: int | None
    non_compliant_before: int | None = strawberry.field(description="Rounded to the ten for all but programme staff")
    recurrence_rate: float | None
    suppressed: bool


@strawberry.type(
    description="The non-compliant findings (questions) of the period's reports, the share verified as put right, "
    "and the median days from a report's publication to the factory's remediation of those verified"
)
class RemediationCell:
    cluster_id: str | None = strawberry.field(description="Null for every cluster together")
    factories: int | None
    assessments: int | None
    findings: int | None = strawberry.field(description="Rounded to the ten for all but programme staff")
    remediation_rate: float | None
    median_days_to_remediate: float | None
    suppressed: bool


@strawberry.type(description="A country's compliance dashboard for one period")
class ComplianceDashboard:
    country: str
    cycle: int | None = strawberry.field(description="The cycle covered; null with year for each factory's latest")
    year: int | None = strawberry.field(description="The calendar year of publication covered")
    brand_id: strawberry.ID | None = strawberry.field(description="Whose supply base is compared, if any")
    total: NonComplianceCell
    clusters: list[NonComplianceCell]
    compliance_points: list[NonComplianceCell]
    most_frequent_non_compliances: list[NonComplianceCell] = strawberry.field(
        description=f"The {MOST_FREQUENT} compliance points most often non-compliant (the supply base's with a "
        "brand), withheld ones left out"
    )
    recurrence: list[RecurrenceCell] = strawberry.field(
        description="Of the supply base with a brand, of the country without; the whole first, then by cluster "
        "and compliance point"
    )
    remediation: list[RemediationCell] = strawberry.field(
        description="Of the supply base with a brand, of the country without; the whole first, then by cluster"
    )


@strawberry.enum(description="What a trend runs across")
class TrendPeriod(Enum):
    CYCLE = "cycle"
    YEAR = "year"


@strawberry.type(description="One cycle's or year's figure of a trend")
class TrendPoint:
    cycle: int | None
    year: int | None
    country: ComplianceFigure
    supply_base: ComplianceFigure | None


def _keyed(figures: Iterable[NonCompliance]) -> dict[Cell, NonCompliance]:
    return {(f.cluster_id, f.compliance_point_id): f for f in figures}


def _hidden(
    scope: policy.Scope, country: Mapping[Cell, NonCompliance], own: Mapping[Cell, NonCompliance] | None
) -> set[Cell]:
    if scope.sees_small_cells:
        return set()
    counts = {cell: f.factories for cell, f in country.items()}
    if own is None:
        return policy.withheld_breakdown(counts)
    return policy.withheld_beside(counts, {cell: f.factories for cell, f in own.items()})


def _recurrence(rows: Sequence[compliance.Recurrence], exact: bool) -> list[RecurrenceCell]:
    hidden = (
        set()
        if exact
        else policy.withheld_breakdown({(r.cluster_id, r.compliance_point_id): r.factories for r in rows})
    )
    cells = []
    for r in rows:
        if (r.cluster_id, r.compliance_point_id) in hidden:
            cells.append(RecurrenceCell(cluster_id=r.cluster_id, compliance_point_id=r.compliance_point_id,
                                        factories=None, assessments=None, non_compliant_before=None,
                                        recurrence_rate=None, suppressed=True))  # fmt: skip
            continue
        rate = r.recurred / r.non_compliant_before
        cells.append(
            RecurrenceCell(
                cluster_id=r.cluster_id,
                compliance_point_id=r.compliance_point_id,
                factories=r.factories,
                assessments=r.assessments,
                non_compliant_before=r.non_compliant_before
                if exact
                else policy.rounded_compliance_points(r.non_compliant_before),
                recurrence_rate=rate if exact else policy.rounded_share(rate),
                suppressed=False,
            )
        )
    return cells


def _remediation(rows: Sequence[compliance.Remediation], exact: bool) -> list[RemediationCell]:
    hidden = set() if exact else policy.withheld_breakdown({(r.cluster_id, None): r.factories for r in rows})
    cells = []
    for r in rows:
        if (r.cluster_id, None) in hidden:
            cells.append(RemediationCell(cluster_id=r.cluster_id, factories=None, assessments=None, findings=None,
                                         remediation_rate=None, median_days_to_remediate=None, suppressed=True))  # fmt: skip
            continue
        rate = r.verified / r.findings
        cells.append(
            RemediationCell(
                cluster_id=r.cluster_id,
                factories=r.factories,
                assessments=r.assessments,
                findings=r.findings if exact else policy.rounded_compliance_points(r.findings),
                remediation_rate=rate if exact else policy.rounded_share(rate),
                median_days_to_remediate=r.median_days,
                suppressed=False,
            )
        )
    return cells


async def dashboard(info: Info, country: str, brand_id: str | None, period: Period) -> ComplianceDashboard:
    context = info.context
    scope = context.scope
    supply = scope.compliance_dashboard(country, brand_id, compliance.FACTORY_OF_REPORT, not period.is_current)
    engine, in_country = context.reads, compliance.of_country(country)
    exact = scope.sees_small_cells
    own: dict[Cell, NonCompliance] | None = None
    if supply is not None:
        own = _keyed(await compliance.non_compliance(engine, in_country & supply[1], period))
    # Beside a supply base, the country of its suppliers only: a brand is not a government.
    shows_country = supply is None or (bool(own) and (period.is_current or scope.sees_country_over_periods))
    everyone = _keyed(await compliance.non_compliance(engine, in_country, period)) if shows_country else {}
    hidden = _hidden(scope, everyone, own)

    def cell(key: Cell) -> NonComplianceCell:
        return NonComplianceCell(
            cluster_id=key[0],
            compliance_point_id=key[1],
            country=ComplianceFigure.of(everyone.get(key), key in hidden, exact),
            supply_base=ComplianceFigure.of(own[key], False, True) if own and key in own else None,
        )

    keys = sorted(set(everyone) | set(own or {}), key=lambda k: (k[0] or "", k[1] or ""))
    points = [k for k in keys if k[1] is not None]
    ranked_by = own if own is not None else everyone
    frequent = sorted(
        (k for k in points if k in ranked_by and (own is not None or k not in hidden)),
        key=lambda k: (-ranked_by[k].rate, k[1] or ""),
    )[:MOST_FREQUENT]
    about = in_country & supply[1] if supply is not None else in_country
    about_exact = exact or supply is not None  # a brand reads its suppliers' reports one by one
    return ComplianceDashboard(
        country=country,
        cycle=period.cycle,
        year=period.year,
        brand_id=strawberry.ID(supply[0]) if supply is not None else None,
        total=cell((None, None)),
        clusters=[cell(k) for k in keys if k[0] is not None and k[1] is None],
        compliance_points=[cell(k) for k in points],
        most_frequent_non_compliances=[cell(k) for k in frequent],
        recurrence=_recurrence(await compliance.recurrence(engine, about, period), about_exact),
        remediation=_remediation(await compliance.remediation(engine, about, period), about_exact),
    )


async def trend(info: Info, country: str, brand_id: str | None, by: TrendPeriod, measure: Cell) -> list[TrendPoint]:
    context = info.context
    scope = context.scope
    supply = scope.compliance_dashboard(country, brand_id, compliance.FACTORY_OF_REPORT, over_periods=True)
    engine, in_country = context.reads, compliance.of_country(country)

    def of_measure(figures: list[NonCompliance]) -> dict[int, NonCompliance]:
        return {f.period: f for f in figures if (f.cluster_id, f.compliance_point_id) == measure and f.period}

    own = (
        of_measure(await compliance.non_compliance(engine, in_country & supply[1], Period(), by.value))
        if supply
        else None
    )
    shows_country = supply is None or scope.sees_country_over_periods
    everyone = (
        of_measure(await compliance.non_compliance(engine, in_country, Period(), by.value)) if shows_country else {}
    )
    return [
        TrendPoint(
            cycle=p if by is TrendPeriod.CYCLE else None,
            year=p if by is TrendPeriod.YEAR else None,
            country=ComplianceFigure.of(everyone.get(p), False, True),
            supply_base=ComplianceFigure.of(own[p], False, True) if own and p in own else None,
        )
        for p in sorted(set(everyone) | set(own or {}))
    ]


COUNTRY = strawberry.argument(description="A country code, e.g. KH")
BRAND = strawberry.argument(description="Compare a brand's consenting suppliers (a brand: its own, the default)")
CLUSTER = strawberry.argument(description="One cluster, e.g. osh")
POINT = strawberry.argument(description="One compliance point, e.g. compensation.minimum-wages")


@strawberry.type
class Query:
    @strawberry.field(
        description="A country's compliance dashboard: programme staff any country and period; a government its own "
        "country, each factory's latest report; a brand its consenting suppliers against their country (a country "
        "where it has none: no figures)"
    )
    async def compliance_dashboard(
        self,
        info: Info,
        country: Annotated[str, COUNTRY],
        brand_id: Annotated[strawberry.ID | None, BRAND] = None,
        cycle: Annotated[int | None, strawberry.argument(description="The factories' reports of this cycle")] = None,
        year: Annotated[int | None, strawberry.argument(description="The reports published this year")] = None,
    ) -> ComplianceDashboard:
        if cycle is not None and year is not None:
            raise BadArgument("a dashboard covers one period: a cycle or a year, not both")
        return await dashboard(info, country, brand_id, Period(cycle=cycle, year=calendar_year(year)))

    @strawberry.field(
        description="A country's non-compliance across cycles or years, for the whole, a cluster or a compliance "
        "point: programme staff; a brand its consenting suppliers' only"
    )
    async def compliance_trend(
        self,
        info: Info,
        country: Annotated[str, COUNTRY],
        by: TrendPeriod = TrendPeriod.CYCLE,
        brand_id: Annotated[strawberry.ID | None, BRAND] = None,
        cluster: Annotated[str | None, CLUSTER] = None,
        compliance_point: Annotated[str | None, POINT] = None,
    ) -> list[TrendPoint]:
        measure = (cluster_of(compliance_point) if compliance_point else cluster, compliance_point)
        return await trend(info, country, brand_id, by, measure)
