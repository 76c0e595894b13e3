"""Non-compliance in aggregate: a country's for its government and the programme, a brand's
suppliers' against their countries' for the brand and the programme. Never a factory's id or name."""

from __future__ import annotations

import strawberry

from gateway import policy
from gateway.graphql.context import Context
from gateway.read_models import compliance
from gateway.read_models.compliance import ClusterTotal

Info = strawberry.Info[Context, None]


@strawberry.type(
    description="Non-compliance in one cluster over the latest published report of each factory behind it. "
    "Shares are rounded to the hundredth and compliance points to the ten; where a cell is withheld "
    "(fewer than 5 factories) every figure is null"
)
class ClusterCompliance:
    cluster_id: str
    factories: int | None = strawberry.field(description="Factories whose latest report assessed the cluster")
    compliance_points_assessed: int | None = strawberry.field(description="Over those reports, rounded to the ten")
    non_compliance_rate: float | None = strawberry.field(
        description="Share of the assessed compliance points found non-compliant, from 0 to 1"
    )
    suppressed: bool = strawberry.field(description="True when the figures are withheld because the cell is small")

    @classmethod
    def of(cls, total: ClusterTotal, withheld: bool = False) -> ClusterCompliance:
        if withheld:
            return cls(
                cluster_id=total.cluster_id,
                factories=None,
                compliance_points_assessed=None,
                non_compliance_rate=None,
                suppressed=True,
            )
        return cls(
            cluster_id=total.cluster_id,
            factories=total.factories,
            compliance_points_assessed=policy.rounded_compliance_points(total.assessed),
            non_compliance_rate=policy.rounded_share(total.non_compliant / total.assessed),
            suppressed=False,
        )


@strawberry.type(description="A country's non-compliance by cluster, from each factory's latest published report")
class CountryCompliance:
    country: str
    clusters: list[ClusterCompliance]


@strawberry.type(description="A brand's consenting suppliers in one cluster, against their country")
class BrandClusterComparison:
    cluster_id: str
    suppliers: ClusterCompliance = strawberry.field(description="The brand's consenting suppliers of the country")
    country: ClusterCompliance = strawberry.field(description="Every factory of the country with a published report")


@strawberry.type(description="A brand's consenting suppliers in one country")
class BrandCountryComparison:
    country: str
    clusters: list[BrandClusterComparison]


@strawberry.type(description="A brand's consenting suppliers' non-compliance against their countries' averages")
class BrandDashboard:
    brand_id: strawberry.ID
    countries: list[BrandCountryComparison]


@strawberry.type
class Query:
    @strawberry.field(
        description="A country's non-compliance by cluster: for the programme and the country's own government"
    )
    async def country_compliance(self, info: Info, country: str) -> CountryCompliance:
        info.context.scope.country_aggregates(country)
        totals = await compliance.cluster_totals(info.context.reads, compliance.of_country(country))
        # As the compliance dashboard withholds them, which shows the whole beside its clusters.
        hidden = policy.withheld_breakdown(_counts(totals))
        return CountryCompliance(
            country=country, clusters=[ClusterCompliance.of(t, (t.cluster_id, None) in hidden) for t in totals]
        )

    @strawberry.field(
        description="Your consenting suppliers' non-compliance by cluster against their countries' averages: for a "
        "brand (its own) and the programme (brandId required)"
    )
    async def brand_dashboard(self, info: Info, brand_id: strawberry.ID | None = None) -> BrandDashboard:
        context = info.context
        brand, suppliers = context.scope.brand_suppliers(brand_id, compliance.FACTORY_OF_REPORT)
        # The brand reads each of its consenting suppliers' reports: their figures are not withheld.
        own = await compliance.cluster_totals(context.reads, suppliers)
        countries = {t.country for t in own}
        everyone = await compliance.cluster_totals(context.reads, compliance.of_countries(countries))
        baseline = {(t.country, t.cluster_id): t for t in everyone}
        # A country's cells withheld as for its government, and where the country less the brand's
        # own suppliers (which it reads one by one) would give a few other factories away.
        hidden = {
            (country, cell[0])
            for country in countries
            for cell in policy.withheld_beside(
                _counts([t for t in everyone if t.country == country]),
                _counts([t for t in own if t.country == country]),
            )
        }
        comparisons: dict[str, list[BrandClusterComparison]] = {}
        for total in own:
            key = (total.country, total.cluster_id)
            comparisons.setdefault(total.country, []).append(
                BrandClusterComparison(
                    cluster_id=total.cluster_id,
                    suppliers=ClusterCompliance.of(total),
                    country=ClusterCompliance.of(baseline[key], key in hidden),
                )
            )
        return BrandDashboard(
            brand_id=strawberry.ID(brand),
            countries=[BrandCountryComparison(country=c, clusters=clusters) for c, clusters in comparisons.items()],
        )


def _counts(totals: list[ClusterTotal]) -> dict[policy.BreakdownCell, int]:
    """Factories per cluster, and in the whole (any cluster): the counts the suppression rule reads."""
    whole = max((t.factories for t in totals), default=0)
    return {(None, None): whole} | {(t.cluster_id, None): t.factories for t in totals}
