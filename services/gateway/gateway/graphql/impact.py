"""Impact analytics: the programme's headline claims as queries, for any country, cluster or
compliance point and any length of participation. "50% improvement in OSH" is `improvement`;
"100% compliance in paying minimum wages among factories participating more than two years" and
"91% of factories have contracts in line with the law" are `complianceShare`; compliance by
years in the programme is `complianceByYearsInProgramme`.

Each answer says how many factories it stands on and which were left out, and why. Programme
staff and the country's government read them (`Scope.impact`); for a government shares are rounded
to the hundredth, left-out factories are counted, not named, and a figure is withheld unless
`policy.thresholds_shown` allows its participation length, so that no two lengths can be
differenced to give a few factories away.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Annotated

import strawberry

from gateway import policy
from gateway.graphql.context import Context
from gateway.read_models import compliance, impact
from gateway.read_models.assessments import cluster_of
from gateway.read_models.compliance import Period
from gateway.read_models.impact import ChangeByYears, ComplianceByYears, Measure

Info = strawberry.Info[Context, None]


@strawberry.enum(description="Why a factory is left out of an impact figure")
class ExclusionReason(Enum):
    ONLY_ONE_ASSESSMENT = impact.ONLY_ONE_ASSESSMENT
    NOT_ASSESSED_IN_FIRST_AND_LATEST = impact.NOT_ASSESSED_FIRST_AND_LATEST
    NOT_ASSESSED_IN_LATEST = impact.NOT_ASSESSED_LATEST
    SHORTER_PARTICIPATION = "shorter-participation"


@strawberry.type(description="Factories of the country left out of a figure, for one reason")
class LeftOut:
    reason: ExclusionReason
    factories: int
    factory_ids: list[strawberry.ID] | None = strawberry.field(description="Which: for programme staff only")


@strawberry.type(
    description="Non-compliance in each factory's first and latest published reports, over the factories with both "
    "that assessed the measure in both and took part at least minYears whole years (first to latest report)"
)
class Improvement:
    country: str
    cluster_id: str | None
    compliance_point_id: str | None
    min_years: int
    factories: int | None
    first_non_compliance_rate: float | None = strawberry.field(
        description="Over their first reports, 0 to 1 (programme staff only)"
    )
    latest_non_compliance_rate: float | None = strawberry.field(
        description="Over their latest reports, 0 to 1 (programme staff only)"
    )
    improvement: float | None = strawberry.field(
        description="The fall in non-compliance relative to the first reports (0.5: halved); null if none at first"
    )
    suppressed: bool
    left_out: list[LeftOut]


@strawberry.type(
    description="Factories compliant on the measure (no point of it non-compliant) in their latest published report, "
    "among those whose latest report assessed it and that took part at least minYears whole years"
)
class ComplianceShare:
    country: str
    cluster_id: str | None
    compliance_point_id: str | None
    min_years: int
    factories: int | None
    compliant_share: float | None = strawberry.field(description="0 to 1")
    suppressed: bool
    left_out: list[LeftOut]


@strawberry.type(
    description="Compliance in the reports of factories' n-th year in the programme (each factory's latest of that "
    "year, years counted from its first report)"
)
class YearsInProgramme:
    years: int
    factories: int | None
    compliant_share: float | None = strawberry.field(description="Factories with no point of the measure non-compliant")
    non_compliance_rate: float | None = strawberry.field(description="Of the measure's points assessed, 0 to 1")
    suppressed: bool


def _left_out(scope: policy.Scope, reasons: dict[ExclusionReason, list[str]]) -> list[LeftOut]:
    return [
        LeftOut(
            reason=reason,
            factories=len(ids),
            factory_ids=[strawberry.ID(i) for i in sorted(ids)] if scope.sees_small_cells else None,
        )
        for reason, ids in reasons.items()
        if ids
    ]


def _shown(
    scope: policy.Scope,
    min_years: int,
    bands: Sequence[ChangeByYears | ComplianceByYears],
    whole_withheld: bool = False,
) -> bool:
    counted = sum(b.factories for b in bands if b.years >= min_years)
    if scope.sees_small_cells:
        return counted > 0
    return min_years in policy.thresholds_shown({b.years: b.factories for b in bands}, whole_withheld)


async def _withheld_on_dashboard(info: Info, country: str, measure: Measure) -> bool:
    """Does a government's compliance dashboard withhold the measure's cell (each factory's latest
    report)? A compliance share over the same factories must not give it back (for a compliance
    point, the share compliant is one less its non-compliance rate)."""
    if info.context.scope.sees_small_cells:
        return False
    figures = await compliance.non_compliance(info.context.reads, compliance.of_country(country), Period())
    hidden = policy.withheld_breakdown({(f.cluster_id, f.compliance_point_id): f.factories for f in figures})
    point = measure.compliance_point_id
    return (cluster_of(point) if point else measure.cluster_id, point) in hidden


def _share(scope: policy.Scope, share: float) -> float:
    return share if scope.sees_small_cells else policy.rounded_share(share)


def _measure(cluster: str | None, compliance_point: str | None) -> Measure:
    return Measure(cluster_id=cluster if compliance_point is None else None, compliance_point_id=compliance_point)


COUNTRY = strawberry.argument(description="A country code, e.g. JO")
CLUSTER = strawberry.argument(description="One cluster, e.g. osh (default: every compliance point)")
POINT = strawberry.argument(description="One compliance point, e.g. compensation.minimum-wages")
MIN_YEARS = strawberry.argument(description="Only factories that took part at least this many whole years")


@strawberry.type
class Query:
    @strawberry.field(
        description="How much non-compliance fell between each factory's first and latest report: programme staff "
        "and the country's government"
    )
    async def improvement(
        self,
        info: Info,
        country: Annotated[str, COUNTRY],
        cluster: Annotated[str | None, CLUSTER] = None,
        compliance_point: Annotated[str | None, POINT] = None,
        min_years: Annotated[int, MIN_YEARS] = 0,
    ) -> Improvement:
        scope = info.context.scope
        scope.impact(country)
        measure = _measure(cluster, compliance_point)
        bands = await impact.change_by_years(info.context.reads, compliance.of_country(country), measure)
        counted = [b for b in bands if b.years >= min_years]
        shown = _shown(scope, min_years, bands)
        first = sum(b.first_non_compliant for b in counted), sum(b.first_assessed for b in counted)
        latest = sum(b.latest_non_compliant for b in counted), sum(b.latest_assessed for b in counted)
        first_rate = first[0] / first[1] if shown else None
        latest_rate = latest[0] / latest[1] if shown else None
        relative = (first_rate - latest_rate) / first_rate if first_rate and latest_rate is not None else None
        if not scope.sees_small_cells:
            # A government reads the change only: the latest reports' rate, over nearly the same
            # factories as the dashboard's and the compliance share's, could be differenced with them.
            first_rate = latest_rate = None
        reasons = {
            ExclusionReason.ONLY_ONE_ASSESSMENT: [i for b in bands for i in b.left_out[impact.ONLY_ONE_ASSESSMENT]],
            ExclusionReason.NOT_ASSESSED_IN_FIRST_AND_LATEST: [
                i for b in bands for i in b.left_out[impact.NOT_ASSESSED_FIRST_AND_LATEST]
            ],
            ExclusionReason.SHORTER_PARTICIPATION: [i for b in bands if b.years < min_years for i in b.factory_ids],
        }
        return Improvement(
            country=country,
            cluster_id=measure.cluster_id,
            compliance_point_id=measure.compliance_point_id,
            min_years=min_years,
            factories=sum(b.factories for b in counted) if shown else None,
            first_non_compliance_rate=None if first_rate is None else _share(scope, first_rate),
            latest_non_compliance_rate=None if latest_rate is None else _share(scope, latest_rate),
            improvement=None if relative is None else _share(scope, relative),
            suppressed=not shown and bool(counted),
            left_out=_left_out(scope, reasons),
        )

    @strawberry.field(
        description="The share of factories compliant on a compliance point or cluster in their latest report: "
        "programme staff and the country's government"
    )
    async def compliance_share(
        self,
        info: Info,
        country: Annotated[str, COUNTRY],
        cluster: Annotated[str | None, CLUSTER] = None,
        compliance_point: Annotated[str | None, POINT] = None,
        min_years: Annotated[int, MIN_YEARS] = 0,
    ) -> ComplianceShare:
        scope = info.context.scope
        scope.impact(country)
        measure = _measure(cluster, compliance_point)
        bands = await impact.compliance_at_latest(info.context.reads, compliance.of_country(country), measure)
        counted = [b for b in bands if b.years >= min_years]
        shown = _shown(scope, min_years, bands, await _withheld_on_dashboard(info, country, measure))
        factories = sum(b.factories for b in counted)
        reasons = {
            ExclusionReason.NOT_ASSESSED_IN_LATEST: [i for b in bands for i in b.left_out[impact.NOT_ASSESSED_LATEST]],
            ExclusionReason.SHORTER_PARTICIPATION: [i for b in bands if b.years < min_years for i in b.factory_ids],
        }
        return ComplianceShare(
            country=country,
            cluster_id=measure.cluster_id,
            compliance_point_id=measure.compliance_point_id,
            min_years=min_years,
            factories=factories if shown else None,
            compliant_share=_share(scope, sum(b.compliant for b in counted) / factories) if shown else None,
            suppressed=not shown and bool(counted),
            left_out=_left_out(scope, reasons),
        )

    @strawberry.field(
        description="Compliance by whole years in the programme: programme staff and the country's government"
    )
    async def compliance_by_years_in_programme(
        self,
        info: Info,
        country: Annotated[str, COUNTRY],
        cluster: Annotated[str | None, CLUSTER] = None,
        compliance_point: Annotated[str | None, POINT] = None,
    ) -> list[YearsInProgramme]:
        scope = info.context.scope
        scope.impact(country)
        measure = _measure(cluster, compliance_point)
        engine = info.context.reads
        bands = await impact.compliance_by_year_of_participation(engine, compliance.of_country(country), measure)
        found = [b for b in bands if b.factories]
        hidden = set() if scope.sees_small_cells else {b.years for b in found if policy.withheld(b.factories)}
        return [
            YearsInProgramme(
                years=b.years, factories=None, compliant_share=None, non_compliance_rate=None, suppressed=True
            )
            if b.years in hidden
            else YearsInProgramme(
                years=b.years,
                factories=b.factories,
                compliant_share=_share(scope, b.compliant / b.factories),
                non_compliance_rate=_share(scope, b.non_compliant / b.assessed),
                suppressed=False,
            )
            for b in found
        ]
