"""Compliance dashboards and impact figures in GraphQL, over hand-made published reports with known
answers: every figure is worked out here from the events the test publishes (the reports and their
remediation), never from the read model, and compared with what the gateway answers to programme
staff (exact), a government (its own country, small cells withheld, rounded) and a brand (its
consenting suppliers beside their country)."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from betterwork_events.auth import Audience
from betterwork_events.contracts import assessment as ae
from gateway import policy

from tests.e2e.read_side import PROGRAMME, ReadSide, bearer
from tests.support import eventually

POINTS = {
    "compensation": ("compensation.minimum-wages", "compensation.paid-leave", "compensation.social-security"),
    "contracts-and-hr": ("contracts-and-hr.employment-contracts",),
    "osh": ("osh.worker-protection", "osh.accommodation"),
}
CLUSTER_OF = {point: cluster for cluster, points in POINTS.items() for point in points}
DORMITORIES = {1, 4, 7}  # the factories whose reports assess osh.accommodation: too few to show


@dataclass
class Report:
    """One published report as the test made it: its compliance points and whether each failed."""

    factory_id: str
    published_on: dt.date
    points: dict[str, bool]
    country: str = "KH"
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    cycle: int = 0
    years: int = 0  # whole years since the factory's first report
    remediated_on: dict[str, dt.date] = field(default_factory=dict)  # point: the day the factory said so
    verified: set[str] = field(default_factory=set)

    def event(self) -> ae.AssessmentCompleted:
        clusters = {}
        for point, failed in self.points.items():
            assessed, found = clusters.get(CLUSTER_OF[point], (0, 0))
            clusters[CLUSTER_OF[point]] = (assessed + 1, found + failed)
        return ae.AssessmentCompleted(
            assessment_id=self.id,
            factory_id=self.factory_id,
            country=self.country,
            tool_version=f"{self.country}-global-1",
            published_on=self.published_on,
            compliance_points=tuple(
                ae.CompliancePointSummary(
                    compliance_point_id=point,
                    cluster_id=CLUSTER_OF[point],
                    non_compliant=failed,
                    non_compliant_questions=(f"{point}.q1",) if failed else (),
                )
                for point, failed in self.points.items()
            ),
            clusters=tuple(
                ae.ClusterSummary(
                    cluster_id=c,
                    compliance_points_assessed=a,
                    compliance_points_non_compliant=f,
                    non_compliance_rate=f / a,
                )
                for c, (a, f) in clusters.items()
            ),
        )


def whole_years(since: dt.date, until: dt.date) -> int:
    return until.year - since.year - ((until.month, until.day) < (since.month, since.day))


def plan(factory_ids: list[str]) -> list[Report]:
    """Reports of each factory, about a year apart, complying better with each cycle (fixed seed)."""
    rng = random.Random(13)
    reports: list[Report] = []
    for n, factory_id in enumerate(factory_ids):
        day = dt.date(2022, 6, 1) + dt.timedelta(days=rng.randint(0, 300))
        own: list[Report] = []
        for cycle in range(1, rng.choice((1, 2, 3, 3, 4)) + 1):
            points = {
                point: rng.random() < 0.6 / cycle
                for point in CLUSTER_OF
                if point != "osh.accommodation" or n in DORMITORIES
            }
            own.append(Report(factory_id, day, points, cycle=cycle))
            day += dt.timedelta(days=rng.randint(330, 430))
        for report in own:
            report.years = whole_years(own[0].published_on, report.published_on)
        reports += own
    return reports


# --- what the gateway must answer, worked out from the reports ---------------------------------


Cell = tuple[str | None, str | None]


def cells_of(point: str) -> list[Cell]:
    return [(None, None), (CLUSTER_OF[point], None), (CLUSTER_OF[point], point)]


def latest(reports: list[Report]) -> list[Report]:
    last: dict[str, Report] = {}
    for r in sorted(reports, key=lambda r: r.published_on):
        last[r.factory_id] = r
    return list(last.values())


def figures(reports: Iterable[Report]) -> dict[Cell, dict[str, Any]]:
    found: dict[Cell, dict[str, Any]] = {}
    for r in reports:
        for point, failed in r.points.items():
            for cell in cells_of(point):
                f = found.setdefault(cell, {"factories": set(), "assessments": set(), "assessed": 0, "failed": 0})
                f["factories"].add(r.factory_id)
                f["assessments"].add(r.id)
                f["assessed"] += 1
                f["failed"] += failed
    return found


def figure(f: dict[str, Any] | None, hidden: bool = False, exact: bool = True) -> dict[str, Any] | None:
    if f is None:
        return None
    if hidden:
        return {"factories": None, "assessments": None, "compliancePointsAssessed": None,
                "nonComplianceRate": None, "suppressed": True}  # fmt: skip
    rate = f["failed"] / f["assessed"]
    return {
        "factories": len(f["factories"]),
        "assessments": len(f["assessments"]),
        "compliancePointsAssessed": f["assessed"] if exact else round(f["assessed"], -1),
        "nonComplianceRate": rate if exact else round(rate, 2),
        "suppressed": False,
    }


def by_cell(cells: list[dict[str, Any]]) -> dict[Cell, dict[str, Any]]:
    return {(c["clusterId"], c["compliancePointId"]): c for c in cells}


def recurrence(reports: list[Report], of_period: Callable[[Report], bool]) -> dict[Cell, tuple[int, int, int, int]]:
    """(factories, assessments, non-compliant before, again) per cell."""
    previous = {(r.factory_id, r.cycle): r for r in reports}
    found: dict[Cell, list[Any]] = {}
    for r in filter(of_period, reports):
        before = previous.get((r.factory_id, r.cycle - 1))
        for point, failed in r.points.items():
            if before is None or not before.points.get(point):
                continue
            for cell in cells_of(point):
                f = found.setdefault(cell, [set(), set(), 0, 0])
                f[0].add(r.factory_id)
                f[1].add(r.id)
                f[2] += 1
                f[3] += failed
    return {cell: (len(f[0]), len(f[1]), f[2], f[3]) for cell, f in found.items()}


def remediation(reports: Iterable[Report]) -> dict[str | None, dict[str, Any]]:
    found: dict[str | None, dict[str, Any]] = {}
    for r in reports:
        for point, failed in r.points.items():
            if not failed:
                continue
            for cluster in (None, CLUSTER_OF[point]):
                f = found.setdefault(cluster, {"factories": set(), "assessments": set(), "findings": 0, "days": []})
                f["factories"].add(r.factory_id)
                f["assessments"].add(r.id)
                f["findings"] += 1
                if point in r.verified:
                    f["days"].append((r.remediated_on[point] - r.published_on).days)
    return found


# --- the world ----------------------------------------------------------------------------------

DASHBOARD = """query ($country: String!, $brandId: ID, $cycle: Int, $year: Int) {
  complianceDashboard(country: $country, brandId: $brandId, cycle: $cycle, year: $year) {
    country cycle year brandId
    total { ...cell } clusters { ...cell } compliancePoints { ...cell } mostFrequentNonCompliances { ...cell }
    recurrence { clusterId compliancePointId factories assessments nonCompliantBefore recurrenceRate suppressed }
    remediation { clusterId factories assessments findings remediationRate medianDaysToRemediate suppressed } } }
fragment figure on ComplianceFigure { factories assessments compliancePointsAssessed nonComplianceRate suppressed }
fragment cell on NonComplianceCell { clusterId compliancePointId country { ...figure } supplyBase { ...figure } }"""
TREND = """query ($by: TrendPeriod!, $brandId: ID, $cluster: String, $point: String) {
  complianceTrend(country: "KH", by: $by, brandId: $brandId, cluster: $cluster, compliancePoint: $point) {
    cycle year country { ...figure } supplyBase { ...figure } } }
fragment figure on ComplianceFigure { factories assessments compliancePointsAssessed nonComplianceRate suppressed }"""
LEFT_OUT = "leftOut { reason factories factoryIds }"
IMPACT = f"""query ($cluster: String, $point: String, $minYears: Int!) {{
  improvement(country: "KH", cluster: $cluster, compliancePoint: $point, minYears: $minYears) {{
    country clusterId compliancePointId minYears factories firstNonComplianceRate latestNonComplianceRate
    improvement suppressed {LEFT_OUT} }}
  complianceShare(country: "KH", cluster: $cluster, compliancePoint: $point, minYears: $minYears) {{
    country clusterId compliancePointId minYears factories compliantShare suppressed {LEFT_OUT} }}
  complianceByYearsInProgramme(country: "KH", cluster: $cluster, compliancePoint: $point) {{
    years factories compliantShare nonComplianceRate suppressed }} }}"""


@dataclass
class World:
    reports: list[Report]
    northwind: str
    suppliers: set[str]  # Northwind's consenting suppliers


async def world(read_side: ReadSide) -> World:
    northwind = await read_side.brand("Northwind Outfitters")
    linked = [await read_side.factory(name) for name in ("Angkor Apparel", "Bayon Knitwear", "Mekong Denim")]
    for factory_id, consents in zip(linked, (True, False, True), strict=True):
        await read_side.supplies(factory_id, northwind, consents=consents)
    factory_ids = linked + [f"KH-F-{n}" for n in range(8)]
    reports = plan(factory_ids)
    rng = random.Random(7)
    for report in reports:
        stream = f"assessment-{report.id}"
        await read_side.publish(report.event(), stream)
        for point, failed in report.points.items():
            if not failed or rng.random() < 0.3:
                continue
            question = f"{point}.q1"
            common = {"assessment_id": report.id, "factory_id": report.factory_id, "question_id": question}
            said = await read_side.publish(ae.FindingRemediated(**common, note="Put right"), stream)
            report.remediated_on[point] = said.time.date()
            if rng.random() < 0.7:
                await read_side.publish(ae.RemediationVerified(**common, verified_by="assessor-dara"), stream)
                report.verified.add(point)
    # Another country's report: never in Cambodia's figures.
    await read_side.publish(Report("VN-F-1", dt.date(2025, 5, 1), {"osh.worker-protection": True}, "VN").event(), "vn")
    findings, verified = remediation(latest(reports))[None]["findings"], sum(len(r.verified) for r in latest(reports))

    async def projected() -> bool:
        answer = await read_side.graphql(DASHBOARD, PROGRAMME, {"country": "KH"})
        dashboard = (answer.get("data") or {}).get("complianceDashboard")
        if not dashboard or not dashboard["remediation"]:
            return False
        whole = dashboard["remediation"][0]
        done = dashboard["total"]["country"]["assessments"] == len(latest(reports)) and whole["findings"] == findings
        if not done or round(whole["remediationRate"] * findings) != verified:
            return False
        # The directory too: the brand's links and consents.
        brand = await read_side.graphql(DASHBOARD, bearer(Audience.BRAND, northwind), {"country": "KH"})
        supply_base = brand["data"]["complianceDashboard"]["total"]["supplyBase"]
        return supply_base is not None and supply_base["factories"] == 2

    await eventually(projected, what="every report and remediation projected")
    return World(reports, northwind, {linked[0], linked[2]})


# --- the tests ----------------------------------------------------------------------------------


def expected_cells(reports: list[Report], hidden: set[Cell] = frozenset(), exact: bool = True) -> dict[Cell, Any]:
    return {cell: figure(f, cell in hidden, exact) for cell, f in figures(reports).items()}


def answered_cells(dashboard: dict[str, Any], side: str = "country") -> dict[Cell, Any]:
    cells = [dashboard["total"], *dashboard["clusters"], *dashboard["compliancePoints"]]
    return {cell: c[side] for cell, c in by_cell(cells).items()}


async def test_the_programmes_dashboard_for_each_period_from_the_reports(read_side: ReadSide) -> None:
    w = await world(read_side)
    periods: list[tuple[dict[str, int], Callable[[Report], bool]]] = [
        ({}, lambda r: r in latest(w.reports)),
        ({"cycle": 1}, lambda r: r.cycle == 1),
        ({"cycle": 2}, lambda r: r.cycle == 2),
        ({"year": 2024}, lambda r: r.published_on.year == 2024),
    ]
    for period, of_period in periods:
        answer = await read_side.graphql(DASHBOARD, PROGRAMME, {"country": "KH", **period})
        dashboard = answer["data"]["complianceDashboard"]
        chosen = [r for r in w.reports if of_period(r)]
        assert (dashboard["cycle"], dashboard["year"]) == (period.get("cycle"), period.get("year"))
        assert answered_cells(dashboard) == expected_cells(chosen), period
        assert all(c["supplyBase"] is None for c in dashboard["compliancePoints"])

        points = {cell: f for cell, f in figures(chosen).items() if cell[1] is not None}
        ranked = sorted(points, key=lambda c: (-points[c]["failed"] / points[c]["assessed"], c[1]))[:10]
        assert [(c["clusterId"], c["compliancePointId"]) for c in dashboard["mostFrequentNonCompliances"]] == ranked

        again = recurrence(w.reports, of_period)
        assert {(c["clusterId"], c["compliancePointId"]): c for c in dashboard["recurrence"]} == {
            cell: {
                "clusterId": cell[0],
                "compliancePointId": cell[1],
                "factories": factories,
                "assessments": assessments,
                "nonCompliantBefore": before,
                "recurrenceRate": recurred / before,
                "suppressed": False,
            }
            for cell, (factories, assessments, before, recurred) in again.items()
        }, period
        assert {c["clusterId"]: c for c in dashboard["remediation"]} == {
            cluster: {
                "clusterId": cluster,
                "factories": len(f["factories"]),
                "assessments": len(f["assessments"]),
                "findings": f["findings"],
                "remediationRate": len(f["days"]) / f["findings"],
                "medianDaysToRemediate": float(statistics.median(f["days"])) if f["days"] else None,
                "suppressed": False,
            }
            for cluster, f in remediation(chosen).items()
        }, period
    # The whole of the latest reports, worked out once more by hand for one point.
    wages = [r.points["compensation.minimum-wages"] for r in latest(w.reports)]
    answer = await read_side.graphql(DASHBOARD, PROGRAMME, {"country": "KH"})
    cell = by_cell(answer["data"]["complianceDashboard"]["compliancePoints"])[
        ("compensation", "compensation.minimum-wages")
    ]
    assert cell["country"]["factories"] == 11 and cell["country"]["nonComplianceRate"] == sum(wages) / 11


async def test_the_trend_across_cycles_and_years(read_side: ReadSide) -> None:
    w = await world(read_side)
    for by, period_of in (("CYCLE", lambda r: r.cycle), ("YEAR", lambda r: r.published_on.year)):
        for cluster, point, cell in [(None, None, (None, None)), ("osh", None, ("osh", None)),
                                     (None, "compensation.paid-leave", ("compensation", "compensation.paid-leave"))]:  # fmt: skip
            answer = await read_side.graphql(TREND, PROGRAMME, {"by": by, "cluster": cluster, "point": point})
            periods = sorted({period_of(r) for r in w.reports})
            expected = []
            for p in periods:
                f = figures(r for r in w.reports if period_of(r) == p).get(cell)
                if f is not None:
                    expected.append({"cycle": p if by == "CYCLE" else None, "year": p if by == "YEAR" else None,
                                     "country": figure(f), "supplyBase": None})  # fmt: skip
            assert answer["data"]["complianceTrend"] == expected, (by, cell)


async def test_a_government_reads_its_countrys_latest_reports_with_small_cells_withheld(read_side: ReadSide) -> None:
    w = await world(read_side)
    government = bearer(Audience.GOVERNMENT, "KH")
    dashboard = (await read_side.graphql(DASHBOARD, government, {"country": "KH"}))["data"]["complianceDashboard"]
    now = latest(w.reports)
    counts = {cell: len(f["factories"]) for cell, f in figures(now).items()}
    hidden = policy.withheld_breakdown(counts)
    # Accommodation is assessed in three factories: withheld, and the next smallest osh point beside it.
    assert hidden == {("osh", "osh.accommodation"), ("osh", "osh.worker-protection")}
    assert answered_cells(dashboard) == expected_cells(now, hidden, exact=False)
    assert all(c["country"]["suppressed"] is False for c in dashboard["mostFrequentNonCompliances"])
    # The share compliant on worker protection is one less its rate: withheld as the dashboard's cell is.
    for headers, withheld in ((government, True), (PROGRAMME, False)):
        variables = {"cluster": None, "point": "osh.worker-protection", "minYears": 0}
        share = (await read_side.graphql(IMPACT, headers, variables))["data"]["complianceShare"]
        assert share["suppressed"] is withheld and (share["compliantShare"] is None) is withheld, headers
    assert not any(word in str(dashboard) for word in ["KH-F-", "Angkor"])
    # No period but the latest reports, no trend, no other country.
    for query, variables in [
        (DASHBOARD, {"country": "KH", "cycle": 2}),
        (DASHBOARD, {"country": "KH", "year": 2024}),
        (TREND, {"by": "CYCLE"}),
        (DASHBOARD, {"country": "VN"}),
        (IMPACT.replace('"KH"', '"VN"'), {"minYears": 0}),
    ]:
        refused = await read_side.graphql(query, government, variables)
        assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", variables
    both = await read_side.graphql(DASHBOARD, PROGRAMME, {"country": "KH", "cycle": 1, "year": 2024})
    assert both["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_brands_supply_base_beside_its_country(read_side: ReadSide) -> None:
    w = await world(read_side)
    brand = bearer(Audience.BRAND, w.northwind)
    dashboard = (await read_side.graphql(DASHBOARD, brand, {"country": "KH"}))["data"]["complianceDashboard"]
    assert dashboard["brandId"] == w.northwind
    now = latest(w.reports)
    ours = [r for r in now if r.factory_id in w.suppliers]
    hidden = policy.withheld_beside(
        {cell: len(f["factories"]) for cell, f in figures(now).items()},
        {cell: len(f["factories"]) for cell, f in figures(ours).items()},
    )
    assert answered_cells(dashboard, "supplyBase") == {cell: figure(figures(ours).get(cell)) for cell in figures(now)}
    assert answered_cells(dashboard) == expected_cells(now, hidden, exact=False)
    assert {c["clusterId"] for c in dashboard["remediation"]} == set(remediation(ours))
    assert dashboard["remediation"][0]["findings"] == remediation(ours)[None]["findings"]
    # The programme reads the same, saying which brand; a brand no other brand's; over cycles only its own.
    as_programme = await read_side.graphql(DASHBOARD, PROGRAMME, {"country": "KH", "brandId": w.northwind})
    assert answered_cells(as_programme["data"]["complianceDashboard"], "supplyBase") == answered_cells(
        dashboard, "supplyBase"
    )
    trend = (await read_side.graphql(TREND, brand, {"by": "CYCLE"}))["data"]["complianceTrend"]
    assert [t["supplyBase"] for t in trend] == [
        figure(figures(r for r in w.reports if r.factory_id in w.suppliers and r.cycle == c)[(None, None)])
        for c in sorted({r.cycle for r in w.reports if r.factory_id in w.suppliers})
    ]
    assert all(t["country"]["factories"] is None for t in trend)
    other = await read_side.brand("Lotus Retail")
    refused = await read_side.graphql(
        DASHBOARD, bearer(Audience.BRAND, other), {"country": "KH", "brandId": w.northwind}
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for headers in (bearer(Audience.FACTORY, sorted(w.suppliers)[0]),):
        refused = await read_side.graphql(DASHBOARD, headers, {"country": "KH"})
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def in_measure(point: str, cluster: str | None, compliance_point: str | None) -> bool:
    return point == compliance_point if compliance_point else cluster is None or CLUSTER_OF[point] == cluster


def expected_impact(reports: list[Report], cluster: str | None, point: str | None, min_years: int) -> dict[str, Any]:
    """The three impact figures, from the reports, exact (as programme staff read them)."""
    by_factory: dict[str, list[Report]] = {}
    for r in sorted(reports, key=lambda r: r.published_on):
        by_factory.setdefault(r.factory_id, []).append(r)

    def of(r: Report) -> list[bool]:
        return [failed for p, failed in r.points.items() if in_measure(p, cluster, point)]

    only_one, not_both, shorter, counted = [], [], [], []
    first_failed = first_assessed = latest_failed = latest_assessed = 0
    at_latest, not_at_latest, shorter_at_latest, compliant = [], [], [], 0
    for factory_id, own in sorted(by_factory.items()):
        first, last = own[0], own[-1]
        years = whole_years(first.published_on, last.published_on)
        if of(last):
            (at_latest if years >= min_years else shorter_at_latest).append(factory_id)
            compliant += years >= min_years and not any(of(last))
        elif any(of(r) for r in own):
            not_at_latest.append(factory_id)
        if not any(of(r) for r in own):
            continue
        if len(own) == 1:
            only_one.append(factory_id)
        elif not of(first) or not of(last):
            not_both.append(factory_id)
        elif years < min_years:
            shorter.append(factory_id)
        else:
            counted.append(factory_id)
            first_failed, first_assessed = first_failed + sum(of(first)), first_assessed + len(of(first))
            latest_failed, latest_assessed = latest_failed + sum(of(last)), latest_assessed + len(of(last))

    def left_out(reasons: dict[str, list[str]]) -> list[dict[str, Any]]:
        return [{"reason": k, "factories": len(v), "factoryIds": v} for k, v in reasons.items() if v]

    first_rate = first_failed / first_assessed if counted else None
    latest_rate = latest_failed / latest_assessed if counted else None
    measure = {"clusterId": None if point else cluster, "compliancePointId": point, "minYears": min_years}
    by_years: dict[int, list[list[bool]]] = {}
    for own in by_factory.values():
        last_of_year = {r.years: r for r in own}
        for years, r in last_of_year.items():
            if of(r):
                by_years.setdefault(years, []).append(of(r))
    return {
        "improvement": {"country": "KH", **measure, "factories": len(counted) if counted else None,
                        "firstNonComplianceRate": first_rate, "latestNonComplianceRate": latest_rate,
                        "improvement": (first_rate - latest_rate) / first_rate if first_rate else None,
                        "suppressed": False,
                        "leftOut": left_out({"ONLY_ONE_ASSESSMENT": only_one,
                                             "NOT_ASSESSED_IN_FIRST_AND_LATEST": not_both,
                                             "SHORTER_PARTICIPATION": shorter})},
        "complianceShare": {"country": "KH", **measure, "factories": len(at_latest) if at_latest else None,
                            "compliantShare": compliant / len(at_latest) if at_latest else None,
                            "suppressed": False,
                            "leftOut": left_out({"NOT_ASSESSED_IN_LATEST": not_at_latest,
                                                 "SHORTER_PARTICIPATION": shorter_at_latest})},
        "complianceByYearsInProgramme": [
            {"years": years, "factories": len(found), "compliantShare": sum(not any(f) for f in found) / len(found),
             "nonComplianceRate": sum(map(sum, found)) / sum(map(len, found)), "suppressed": False}
            for years, found in sorted(by_years.items())
        ],
    }  # fmt: skip


async def test_impact_figures_from_each_factorys_first_and_latest_reports(read_side: ReadSide) -> None:
    w = await world(read_side)
    for cluster, point, min_years in [
        (None, None, 0),
        ("osh", None, 0),
        ("osh", None, 2),
        (None, "compensation.minimum-wages", 2),
        (None, "contracts-and-hr.employment-contracts", 0),
        (None, "osh.accommodation", 1),
        ("compensation", None, 5),
    ]:
        variables = {"cluster": cluster, "point": point, "minYears": min_years}
        answer = await read_side.graphql(IMPACT, PROGRAMME, variables)
        for name, value in expected_impact(w.reports, cluster, point, min_years).items():
            assert answer["data"][name] == value, (variables, name)
    # The data make the claims' cases: factories with one report, and with more than two years.
    every = expected_impact(w.reports, None, None, 2)["improvement"]
    assert {o["reason"] for o in every["leftOut"]} == {"ONLY_ONE_ASSESSMENT", "SHORTER_PARTICIPATION"}
    assert every["factories"] >= 2


async def test_a_governments_impact_figures_withhold_participation_lengths_that_could_be_differenced(
    read_side: ReadSide,
) -> None:
    w = await world(read_side)
    government, point = bearer(Audience.GOVERNMENT, "KH"), "compensation.minimum-wages"
    counted = _counted(w.reports, point)
    assert len(counted) == expected_impact(w.reports, None, point, 0)["improvement"]["factories"]
    by_years = Counter(counted.values())
    shown = policy.thresholds_shown(by_years)
    assert shown and set(range(5)) - shown  # the data have lengths shown and lengths withheld
    for min_years in range(5):
        variables = {"cluster": None, "point": point, "minYears": min_years}
        exact = expected_impact(w.reports, None, point, min_years)
        answer = (await read_side.graphql(IMPACT, government, variables))["data"]
        improvement = answer["improvement"]
        if min_years in shown:
            assert improvement["factories"] == exact["improvement"]["factories"] >= 5
            assert improvement["improvement"] == round(exact["improvement"]["improvement"], 2)
            assert improvement["suppressed"] is False
        else:
            assert improvement["factories"] is None and improvement["improvement"] is None
            assert improvement["suppressed"] is (exact["improvement"]["factories"] is not None)
        # The rates themselves are programme staff's: with the dashboard's they could be differenced.
        assert improvement["firstNonComplianceRate"] is None and improvement["latestNonComplianceRate"] is None
        # Left out: counted, never named.
        for figure_name in ("improvement", "complianceShare"):
            left_out = answer[figure_name]["leftOut"]
            assert [o["factoryIds"] for o in left_out] == [None] * len(left_out)
            assert [(o["reason"], o["factories"]) for o in left_out] == [
                (o["reason"], o["factories"]) for o in exact[figure_name]["leftOut"]
            ]
        assert answer["complianceByYearsInProgramme"] == [
            row if row["factories"] >= 5 else {**dict.fromkeys(row), "years": row["years"], "suppressed": True}
            for row in (
                {
                    **r,
                    "compliantShare": round(r["compliantShare"], 2),
                    "nonComplianceRate": round(r["nonComplianceRate"], 2),
                }
                for r in exact["complianceByYearsInProgramme"]
            )
        ]


def _counted(reports: list[Report], point: str) -> dict[str, int]:
    """The factories counted in the improvement on `point` at any length, with their years."""
    by_factory: dict[str, list[Report]] = {}
    for r in sorted(reports, key=lambda r: r.published_on):
        by_factory.setdefault(r.factory_id, []).append(r)
    return {
        f: whole_years(own[0].published_on, own[-1].published_on)
        for f, own in by_factory.items()
        if len(own) > 1 and point in own[0].points and point in own[-1].points
    }
