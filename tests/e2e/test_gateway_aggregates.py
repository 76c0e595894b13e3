"""A government's and a brand's aggregates in GraphQL: non-compliance by cluster from each
factory's latest published report, checked against figures computed here from the reports
published; small cells withheld; each caller only its own."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from typing import Any

from betterwork_events.auth import Audience
from betterwork_events.contracts import assessment as ae
from gateway import policy

from tests.e2e.read_side import PROGRAMME, ReadSide, bearer
from tests.support import eventually

COUNTRY = """query ($country: String!) { countryCompliance(country: $country) {
  country clusters { clusterId factories compliancePointsAssessed nonComplianceRate suppressed } } }"""
DASHBOARD = """query ($brandId: ID) { brandDashboard(brandId: $brandId) { brandId countries { country clusters {
  clusterId
  suppliers { clusterId factories compliancePointsAssessed nonComplianceRate suppressed }
  country { clusterId factories compliancePointsAssessed nonComplianceRate suppressed } } } } }"""

# (assessed, non-compliant) per cluster of each factory's report. Child labour is assessed in
# three Cambodian factories only: a cell too small to show.
KH_REPORTS = [
    {"compensation": (12, 3), "osh": (20, 7), "contracts": (8, 0), "child-labour": (4, 1)},
    {"compensation": (12, 5), "osh": (19, 2), "contracts": (8, 2)},
    {"compensation": (11, 0), "osh": (20, 11), "contracts": (7, 1), "child-labour": (4, 0)},
    {"compensation": (12, 2), "osh": (18, 4), "contracts": (8, 3)},
    {"compensation": (12, 6), "osh": (20, 9), "contracts": (8, 1), "child-labour": (4, 2)},
    {"compensation": (12, 4), "osh": (20, 5), "contracts": (8, 2)},
]
SUPERSEDED = {"compensation": (12, 12), "osh": (20, 20), "contracts": (8, 8)}  # Angkor's older report
VN_REPORT = {"compensation": (13, 4), "osh": (21, 6)}


def report(factory_id: str, country: str, clusters: dict[str, tuple[int, int]], on: dt.date) -> ae.AssessmentCompleted:
    return ae.AssessmentCompleted(
        assessment_id=str(uuid.uuid4()),
        factory_id=factory_id,
        country=country,
        tool_version=f"{country}-global-1",
        published_on=on,
        compliance_points=(),
        clusters=tuple(
            ae.ClusterSummary(
                cluster_id=cluster,
                compliance_points_assessed=assessed,
                compliance_points_non_compliant=found,
                non_compliance_rate=found / assessed,
            )
            for cluster, (assessed, found) in clusters.items()
        ),
    )


async def publish(read_side: ReadSide, event: ae.AssessmentCompleted) -> None:
    await read_side.publish(event, f"assessment-{event.assessment_id}")


def counts(reports: list[dict[str, tuple[int, int]]]) -> dict[tuple[str | None, None], int]:
    """Factories behind each cluster, and the whole (any cluster), as the suppression rule reads them."""
    per_cluster = Counter(cluster for one in reports for cluster in one)
    return {(None, None): len(reports)} | {(cluster, None): n for cluster, n in per_cluster.items()}


def expected(reports: list[dict[str, tuple[int, int]]], hidden: set[Any] | None = None) -> dict[str, dict[str, Any]]:
    """What the gateway must answer, worked out here: pooled over the factories, rounded, the
    clusters `hidden` withheld (by default, as a government reads them: policy.withheld_breakdown)."""
    if hidden is None:
        hidden = policy.withheld_breakdown(counts(reports))
    clusters: dict[str, list[tuple[int, int]]] = {}
    for one in reports:
        for cluster, figures in one.items():
            clusters.setdefault(cluster, []).append(figures)
    answer = {}
    for cluster, figures in clusters.items():
        assessed, found = sum(a for a, _ in figures), sum(f for _, f in figures)
        small = (cluster, None) in hidden
        answer[cluster] = {
            "clusterId": cluster,
            "factories": None if small else len(figures),
            "compliancePointsAssessed": None if small else round(assessed, -1),
            "nonComplianceRate": None if small else round(found / assessed, 2),
            "suppressed": small,
        }
    return answer


def by_cluster(clusters: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["clusterId"]: c for c in clusters}


async def world(read_side: ReadSide) -> dict[str, str]:
    ids = {"northwind": await read_side.brand("Northwind Outfitters"), "lotus": await read_side.brand("Lotus Retail")}
    kh = [await read_side.factory(f"Phnom Penh Garment No. {i}") for i in range(len(KH_REPORTS))]
    ids |= {"angkor": kh[0], "bayon": kh[1], "saigon": await read_side.factory("Saigon Stitch", country="VN")}
    await read_side.supplies(ids["angkor"], ids["northwind"], consents=True)
    await read_side.supplies(ids["saigon"], ids["northwind"], consents=True)
    await read_side.supplies(ids["bayon"], ids["northwind"], consents=False)  # linked, not consenting
    await read_side.supplies(ids["bayon"], ids["lotus"], consents=True)
    await publish(read_side, report(ids["angkor"], "KH", SUPERSEDED, dt.date(2025, 4, 1)))
    for factory_id, clusters in zip(kh, KH_REPORTS, strict=True):
        await publish(read_side, report(factory_id, "KH", clusters, dt.date(2026, 4, 1)))
    await publish(read_side, report(ids["saigon"], "VN", VN_REPORT, dt.date(2026, 3, 2)))

    async def projected() -> bool:
        answer = await read_side.graphql(COUNTRY, PROGRAMME, {"country": "KH"})
        if by_cluster(answer["data"]["countryCompliance"]["clusters"]) != expected(KH_REPORTS):
            return False
        # The directory too: the links and consents, which the brands' dashboards read.
        dashboard = await read_side.graphql(DASHBOARD, PROGRAMME, {"brandId": ids["northwind"]})
        return len(dashboard["data"]["brandDashboard"]["countries"]) == 2

    await eventually(projected, what="every report projected")
    return ids


async def test_a_countrys_compliance_from_each_factorys_latest_report(read_side: ReadSide) -> None:
    await world(read_side)
    for headers in (PROGRAMME, bearer(Audience.GOVERNMENT, "KH")):
        answer = (await read_side.graphql(COUNTRY, headers, {"country": "KH"}))["data"]["countryCompliance"]
        assert answer["country"] == "KH"
        assert by_cluster(answer["clusters"]) == expected(KH_REPORTS)
    # The older report of Angkor (everything non-compliant) counts for nothing.
    assert expected(KH_REPORTS)["osh"]["nonComplianceRate"] == round(38 / 117, 2)
    # Child labour is assessed in three factories: withheld, and with it the next smallest
    # cluster, or the whole (on the compliance dashboard) less the others would give it away.
    assert {c for c, cell in expected(KH_REPORTS).items() if cell["suppressed"]} == {"child-labour", "compensation"}
    # One Vietnamese factory: every cell withheld.
    vietnam = await read_side.graphql(COUNTRY, bearer(Audience.GOVERNMENT, "VN"), {"country": "VN"})
    assert by_cluster(vietnam["data"]["countryCompliance"]["clusters"]) == expected([VN_REPORT])
    assert all(c["suppressed"] for c in vietnam["data"]["countryCompliance"]["clusters"])


async def test_country_compliance_is_refused_to_all_but_the_programme_and_the_countrys_government(
    read_side: ReadSide,
) -> None:
    ids = await world(read_side)
    for headers, country in [
        (bearer(Audience.GOVERNMENT, "VN"), "KH"),
        (bearer(Audience.GOVERNMENT, "KH"), "VN"),
        (bearer(Audience.GOVERNMENT, "KH"), "kh"),
        (bearer(Audience.BRAND, ids["northwind"]), "KH"),
        (bearer(Audience.FACTORY, ids["angkor"]), "KH"),
    ]:
        refused = await read_side.graphql(COUNTRY, headers, {"country": country})
        assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", headers


async def test_a_brands_dashboard_sets_its_consenting_suppliers_against_their_countries(read_side: ReadSide) -> None:
    ids = await world(read_side)
    brand = bearer(Audience.BRAND, ids["northwind"])
    dashboard = (await read_side.graphql(DASHBOARD, brand))["data"]["brandDashboard"]
    assert dashboard["brandId"] == ids["northwind"]
    countries = {c["country"]: by_cluster(c["clusters"]) for c in dashboard["countries"]}
    assert set(countries) == {"KH", "VN"}

    # Cambodia: Angkor alone among the brand's suppliers (Bayon is linked but does not consent).
    # The country's cells are withheld as for its government, and where Cambodia less Angkor is too
    # few factories (child labour), with the next smallest beside it.
    angkor = expected([KH_REPORTS[0]], hidden=set())
    beside = policy.withheld_beside(counts(KH_REPORTS), counts([KH_REPORTS[0]]))
    assert beside == {("child-labour", None), ("compensation", None)}
    cambodia = expected(KH_REPORTS, beside)
    assert countries["KH"] == {
        cluster: {"clusterId": cluster, "suppliers": angkor[cluster], "country": cambodia[cluster]}
        for cluster in KH_REPORTS[0]
    }
    # Vietnam: the country's average over one factory is withheld; the supplier's own figures are not.
    assert countries["VN"] == {
        cluster: {
            "clusterId": cluster,
            "suppliers": expected([VN_REPORT], hidden=set())[cluster],
            "country": expected([VN_REPORT])[cluster],
        }
        for cluster in VN_REPORT
    }

    # The programme reads any brand's, saying which.
    as_programme = await read_side.graphql(DASHBOARD, PROGRAMME, {"brandId": ids["northwind"]})
    assert as_programme["data"]["brandDashboard"] == dashboard
    lotus = (await read_side.graphql(DASHBOARD, bearer(Audience.BRAND, ids["lotus"])))["data"]["brandDashboard"]
    assert [c["country"] for c in lotus["countries"]] == ["KH"]
    assert (
        by_cluster(lotus["countries"][0]["clusters"])["osh"]["suppliers"]
        == expected([KH_REPORTS[1]], hidden=set())["osh"]
    )


async def test_a_brands_dashboard_is_the_brands_and_the_programmes_only(read_side: ReadSide) -> None:
    ids = await world(read_side)
    for headers, brand_id in [
        (bearer(Audience.BRAND, ids["lotus"]), ids["northwind"]),  # another brand's
        (PROGRAMME, None),  # the programme must say which brand
        (bearer(Audience.FACTORY, ids["angkor"]), ids["northwind"]),
        (bearer(Audience.FACTORY, ids["angkor"]), None),
        (bearer(Audience.GOVERNMENT, "KH"), ids["northwind"]),
        (bearer(Audience.GOVERNMENT, "KH"), None),
    ]:
        refused = await read_side.graphql(DASHBOARD, headers, {"brandId": brand_id} if brand_id else None)
        assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", headers
