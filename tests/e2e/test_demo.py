"""The demo data `make run` loads: a small programme, loaded through the services' REST commands,
checked the way a user of each service would check it."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from assessment.app import create_app as create_assessment
from assessment.settings import Settings as AssessmentSettings
from assessment.tool import tool
from betterwork_events.auth import Audience
from committee.app import create_app as create_committee
from committee.settings import Settings as CommitteeSettings
from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings
from gateway.app import create_app as create_gateway
from gateway.settings import Settings as GatewaySettings
from training.app import create_app as create_training
from training.settings import Settings as TrainingSettings

from deploy.local import demo
from tests import conftest as fixtures
from tests.e2e.conftest import PROGRAMME, bearer
from tests.support import eventually, serve

SIZE = demo.Size(factories=8, cycles=2)
SEED = 7
TODAY = dt.datetime.now(dt.UTC).date()


@dataclass
class Demo:
    urls: demo.Urls
    loaded: demo.Loaded
    planned: int  # commands
    http: httpx.AsyncClient

    async def get(self, url: str, headers: dict[str, str] = PROGRAMME) -> Any:
        response = await self.http.get(url, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()


class Bar:
    """A progress bar that remembers what it was told."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.n = 0

    def reset(self, total: int | None = None) -> None:
        self.total, self.n = total, 0

    def update(self, n: float | None = 1) -> None:
        self.n += int(n or 0)


@pytest.fixture(scope="module")
async def loaded(create_database, kafka: str) -> AsyncIterator[Demo]:
    common = {"kafka_bootstrap": kafka, "topic_prefix": f"t{fixtures.RUN}-demo-{uuid.uuid4().hex[:6]}."}
    registry = create_registry(RegistrySettings(database_url=await create_database("factory-registry"), **common))
    assessment = create_assessment(AssessmentSettings(database_url=await create_database("assessment"), **common))
    committee = create_committee(CommitteeSettings(database_url=await create_database("committee"), **common))
    training = create_training(TrainingSettings(database_url=await create_database("training"), **common))
    gateway_db = await create_database("gateway")
    async with serve(registry) as registry_url:
        gateway = create_gateway(GatewaySettings(database_url=gateway_db, registry_url=registry_url, **common))
        async with (
            serve(assessment) as assessment_url,
            serve(committee) as committee_url,
            serve(training) as training_url,
            serve(gateway) as gateway_url,
            httpx.AsyncClient(timeout=30) as http,
        ):
            urls = demo.Urls(registry_url, assessment_url, committee_url, training_url, gateway_url)
            bar = Bar()
            result = await demo.load(urls, SIZE, SEED, bar)
            assert bar.n == bar.total == result.commands  # the bar's total is what a fresh load sends
            yield Demo(urls, result, bar.total, http)


def test_the_same_seed_plans_the_same_programme() -> None:
    first, again = demo.plan(SIZE, SEED, TODAY), demo.plan(SIZE, SEED, TODAY)
    assert first == again
    assert demo.plan(SIZE, SEED + 1, TODAY) != first


async def test_factories_are_enrolled_in_each_country_with_their_workforce(loaded: Demo) -> None:
    records = [await loaded.get(f"{loaded.urls.registry}/factories/{f}") for f in loaded.loaded.factories]
    assert Counter(r["profile"]["country"] for r in records) == demo.country_counts(SIZE.factories)
    assert {"KH", "VN", "BD", "JO"} <= {r["profile"]["country"] for r in records}
    assert len({r["profile"]["name"] for r in records}) == SIZE.factories
    for record in records:
        workforce = record["profile"]["workforce"]
        assert record["enrollment"] == "enrolled"
        assert workforce["women"] + workforce["men"] == workforce["total"] > 0
        assert 0.4 < workforce["women"] / workforce["total"] < 0.95  # garment workforces are mostly women


async def test_brands_have_suppliers_some_of_which_share_their_reports(loaded: Demo) -> None:
    records = [await loaded.get(f"{loaded.urls.registry}/factories/{f}") for f in loaded.loaded.factories]
    links = [(r["id"], brand) for r in records for brand in r["brand_links"]]
    consenting = {(r["id"], brand) for r in records for brand in r["consenting_brands"]}
    assert links and consenting and set(links) - consenting  # linked and consenting, linked and not
    featured = loaded.loaded.featured_brand
    sharing = await loaded.get(f"{loaded.urls.registry}/brands/{featured}/report-sharing")
    assert loaded.loaded.featured_factory in sharing["factory_ids"]
    suppliers = {f for f, brand in links if brand == featured}
    assert set(sharing["factory_ids"]) < suppliers  # some of its suppliers share with it, not all
    assert loaded.loaded.featured_suppliers == len(suppliers)


async def published_reports(loaded: Demo) -> list[dict[str, Any]]:
    rows = await loaded.get(f"{loaded.urls.assessment}/assessments")
    return [
        await loaded.get(f"{loaded.urls.assessment}/assessments/{row['id']}")
        for row in rows
        if row["status"] == "published"
    ]


async def test_findings_are_at_the_aimed_non_compliance_rates(loaded: Demo) -> None:
    reports = await published_reports(loaded)
    assert sorted(r["id"] for r in reports) == sorted(loaded.loaded.assessments)
    by_factory: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for report in reports:
        by_factory[report["factory_id"]].append(report)
    assert {len(r) for r in by_factory.values()} <= {SIZE.cycles - 1, SIZE.cycles}
    # For each country, each assessment's ordinal and each compliance point: how many assessments
    # assessed it (a question answered other than not-applicable), how many found it non-compliant.
    assessed: Counter[tuple[str, int, str]] = Counter()
    failing: Counter[tuple[str, int, str]] = Counter()
    by_cluster: dict[str, list[bool]] = defaultdict(list)
    for factory_reports in by_factory.values():
        factory_reports.sort(key=lambda r: r["published_on"])
        for ordinal, report in enumerate(factory_reports):
            assert report["started_on"] < report["published_on"] < str(TODAY) <= report["planned_date"]
            results: dict[str, set[str]] = defaultdict(set)
            for finding in report["findings"]:
                results[finding["compliance_point_id"]].add(finding["result"])
            assert len(report["findings"]) == len(tool(report["tool_version"]).questions)
            for point, answers in results.items():
                if answers != {"not-applicable"}:
                    assessed[(report["country"], ordinal, point)] += 1
                    failing[(report["country"], ordinal, point)] += "non-compliant" in answers
                    by_cluster[point.split(".")[0]].append("non-compliant" in answers)
    for (country, ordinal, point), n in assessed.items():
        aimed = demo.aimed_non_compliance(country, point, ordinal) * n
        assert math.floor(aimed) <= failing[(country, ordinal, point)] <= math.ceil(aimed), (country, ordinal, point)
    rate = {cluster: sum(found) / len(found) for cluster, found in by_cluster.items()}
    # The programme's shape: OSH and working time fail most, child labour almost never.
    assert min(rate["osh"], rate["working-time"]) > 0.25
    assert min(rate["osh"], rate["working-time"]) > max(
        rate["child-labour"], rate["forced-labour"], rate["discrimination"]
    )
    assert rate["child-labour"] < 0.03


async def test_improvement_plans_are_in_every_state(loaded: Demo) -> None:
    states: Counter[str] = Counter()
    for report in await published_reports(loaded):
        actions = {a["question_id"]: a for a in report["improvement_actions"]}
        for finding in report["findings"]:
            if finding["result"] != "non-compliant":
                continue
            action = actions.get(finding["question_id"])
            states[finding["remediation"]] += 1
            states["rejected"] += finding["rejection"] is not None
            states["with an action"] += action is not None
            states["progress reported"] += bool(action and action["progress"] and not action["done"])
            states["overdue"] += bool(action and action["overdue"])
            states["action done"] += bool(action and action["done"])
    assert all(states[s] for s in ("open", "remediated", "verified", "rejected", "with an action")), states
    assert all(states[s] for s in ("progress reported", "overdue", "action done")), states


async def test_visits_still_to_come_are_never_shown_to_the_factory(loaded: Demo) -> None:
    for visit in loaded.loaded.visits:
        planned = await loaded.get(f"{loaded.urls.assessment}/assessments/{visit}")
        assert planned["status"] in ("scheduled", "cancelled") and planned["planned_date"] >= str(TODAY)
        own = bearer(Audience.FACTORY, planned["factory_id"])
        hidden = await loaded.http.get(f"{loaded.urls.assessment}/assessments/{visit}", headers=own)
        assert hidden.status_code == 404


async def test_committees_are_elected_meet_and_follow_up_their_action_items(loaded: Demo) -> None:
    assert loaded.loaded.committees
    statuses: Counter[str] = Counter()
    health: Counter[str] = Counter()
    for committee_id in loaded.loaded.committees:
        committee = await loaded.get(f"{loaded.urls.committee}/committees/{committee_id}")
        assert committee["elections"] and {m["side"] for m in committee["members"]} == {"workers", "management"}
        statuses.update(i["status"] for m in committee["meetings"] for i in m["action_items"])
        health.update((c["name"], c["status"]) for c in committee["health"])
    assert set(statuses) == {"open", "in-progress", "done"}, statuses
    assert {name for name, _ in health} == {
        "worker-representatives-elected",
        "workers-at-least-half",
        "women-represented",
        "meeting-cadence",
    }
    assert len({status for _, status in health}) > 1, health  # not every committee is doing well


async def test_advisory_plans_have_visits_held_and_to_come_with_commitments_followed_up(loaded: Demo) -> None:
    assert loaded.loaded.advisory_plans
    for plan_id in loaded.loaded.advisory_plans:
        plan = await loaded.get(f"{loaded.urls.committee}/advisory-plans/{plan_id}")
        assert plan["visits_promised"] <= plan["visits_included"] and len(plan["priorities"]) == 2
        assert Counter(v["status"] for v in plan["visits"]) == {"held": 2, "planned": 1}, plan["visits"]
        held = sorted((v for v in plan["visits"] if v["status"] == "held"), key=lambda v: v["held_on"])
        assert held[0]["confirmation"] is not None and held[0]["commitments_made"] == ["CM-1"]
        assert held[1]["follow_ups"] == ["CM-1"]
        [commitment] = plan["commitments"]
        assert commitment["status"] == "done"


async def test_training_sessions_are_delivered_cancelled_and_still_to_come(loaded: Demo) -> None:
    sessions = await loaded.get(f"{loaded.urls.training}/sessions")
    assert sorted(s["id"] for s in sessions) == sorted(loaded.loaded.sessions)
    assert {s["status"] for s in sessions} == {"delivered", "cancelled", "scheduled"}
    delivered = [
        await loaded.get(f"{loaded.urls.training}/sessions/{s['id']}") for s in sessions if s["status"] == "delivered"
    ]
    people = [p for s in delivered for p in s["participants"]]
    assert {p["sex"] for p in people} >= {"female", "male"} and len({p["role"] for p in people}) >= 2
    assert all(s["delivery"]["attended"]["total"] > 0 for s in delivered)
    tested = [p for p in people if p["post_test"] is not None]
    assert tested and sum(p["post_test"] - p["pre_test"] for p in tested) > 0  # they learnt something
    assert any(p["feedback"] for p in people)


async def test_what_make_run_prints_answers_in_the_gateway(loaded: Demo) -> None:
    featured, factories = loaded.loaded.featured_brand, loaded.loaded.factories
    sharing = set((await loaded.get(f"{loaded.urls.registry}/brands/{featured}/report-sharing"))["factory_ids"])
    callers = {
        "programme": PROGRAMME,
        "brand": bearer(Audience.BRAND, featured),
        "government": bearer(Audience.GOVERNMENT, demo.GOVERNMENT_COUNTRY),
    }

    async def answered(audience: str) -> dict[str, Any]:
        response = await loaded.http.post(
            f"{loaded.urls.gateway}/graphql", json={"query": demo.TRY_IT[audience]}, headers=callers[audience]
        )
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        return dict(response.json()["data"])

    async def projected() -> bool:
        return (await answered("brand"))["factories"]["totalCount"] == len(sharing)

    await eventually(projected, within=60, what="the gateway projecting the demo")
    brand_sees = {f["factoryId"] for f in (await answered("brand"))["factories"]["nodes"]}
    assert brand_sees and brand_sees <= sharing
    overdue = (await answered("programme"))["improvementActions"]["nodes"]
    assert {a["factory"]["factoryId"] for a in overdue} <= set(factories)
    await answered("government")
    assert f'"{demo.GOVERNMENT_COUNTRY}"' in demo.TRY_IT["government"]  # the token's country is the query's
    marker = await demo.describe(loaded.urls, loaded.loaded, SEED, 1.0)
    guide = demo.guide(marker, loaded.urls)
    assert f"ID={featured}" in guide and f"ID={loaded.loaded.featured_factory}" in guide
    assert all(query in guide for query in demo.TRY_IT.values())


# The compliance points of the programme's headline claims ("100% compliance in paying correct minimum
# wages, paid leave and social security among factories participating more than two years", "91% of
# factories have contracts in line with the law").
HEADLINE_POINTS = (
    "compensation.minimum-wages",
    "compensation.paid-leave",
    "compensation.social-security",
    "contracts-and-hr.employment-contracts",
)
CLAIMS = """query ($country: String!, $point: String!, $minYears: Int!) {
  complianceShare(country: $country, compliancePoint: $point, minYears: $minYears) {
    factories compliantShare leftOut { reason factories } }
  improvement(country: $country, cluster: "osh") { factories improvement leftOut { reason factories } } }"""


def test_the_demo_of_make_run_has_what_each_headline_claim_asks_in_every_country() -> None:
    programme = demo.plan(demo.Size(), 2026, TODAY)  # make run's: the default size and seed
    shorter = 0
    for country in {f.country for f in programme.factories}:
        assert set(HEADLINE_POINTS) <= {p.id for p in demo.tool("global-1").for_country(country).compliance_points}
        reports = [[a.published_on for a in f.assessments] for f in programme.factories if f.country == country]
        # More than two years between the first and latest report: what "participating more than
        # two years" asks.
        longer = [r for r in reports if r[-1] >= r[0].replace(year=r[0].year + 2)]
        assert longer, country
        shorter += len(reports) - len(longer)
    assert shorter  # and factories that took part less, which the claims leave out


async def test_the_headline_claims_answer_for_each_country_with_every_factory_accounted_for(loaded: Demo) -> None:
    with_reports: dict[str, set[str]] = defaultdict(set)
    for report in await published_reports(loaded):
        with_reports[report["country"]].add(report["factory_id"])
    assert with_reports

    async def answered(country: str, point: str, min_years: int) -> dict[str, Any]:
        body = {"query": CLAIMS, "variables": {"country": country, "point": point, "minYears": min_years}}
        response = await loaded.http.post(f"{loaded.urls.gateway}/graphql", json=body, headers=PROGRAMME)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        return dict(response.json()["data"])

    def accounted(figure: dict[str, Any]) -> int:
        """The factories in the figure and those left out of it, with their reasons."""
        return int(figure["factories"] or 0) + sum(o["factories"] for o in figure["leftOut"])

    some_factories = False
    for country, factories in with_reports.items():

        async def all_projected(country: str = country, expected: int = len(factories)) -> bool:
            return accounted((await answered(country, HEADLINE_POINTS[0], 0))["complianceShare"]) == expected

        await eventually(all_projected, within=60, what=f"the gateway projecting {country}'s reports")
        for point in HEADLINE_POINTS:
            answer = await answered(country, point, 1)
            share = answer["complianceShare"]
            assert accounted(share) == len(factories), (country, point, share)
            assert share["compliantShare"] is None or 0 <= share["compliantShare"] <= 1
            some_factories |= bool(share["factories"])
            assert accounted(answer["improvement"]) == len(factories), (country, answer["improvement"])
    assert some_factories


async def test_loading_again_changes_nothing(loaded: Demo) -> None:
    before = await published_reports(loaded)
    sessions = await loaded.get(f"{loaded.urls.training}/sessions")
    again = await demo.load(loaded.urls, SIZE, SEED)
    assert again.factories == loaded.loaded.factories and again.brands == loaded.loaded.brands
    assert sorted(again.assessments) == sorted(loaded.loaded.assessments)
    assert sorted(again.committees) == sorted(loaded.loaded.committees)
    assert sorted(again.advisory_plans) == sorted(loaded.loaded.advisory_plans)
    assert await published_reports(loaded) == before
    assert await loaded.get(f"{loaded.urls.training}/sessions") == sessions
    assert again.commands < loaded.planned / 5  # only the creating commands, answered from their keys


async def test_the_surveys_answer_in_the_gateway(loaded: Demo) -> None:
    """The worker survey's rounds and the manager surveys' impact, as the plan made them."""
    programme = demo.plan(SIZE, SEED)
    country_of = {i: f.country for i, f in enumerate(programme.factories)}
    worker = [s for s in programme.surveys if s.questionnaire == "worker-wellbeing"]
    managed = Counter(country_of[s.factory] for s in programme.surveys if s.questionnaire == "business-performance")
    per_factory = Counter(s.factory for s in programme.surveys if s.questionnaire == "business-performance")
    assert any(len(s.responses) < 10 for s in worker) and any(len(s.responses) >= 10 for s in worker)

    async def answer(query: str) -> dict[str, Any]:
        response = await loaded.http.post(f"{loaded.urls.gateway}/graphql", json={"query": query}, headers=PROGRAMME)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        return dict(response.json()["data"])

    for country in sorted(set(country_of.values())):
        rounds = [s for s in worker if country_of[s.factory] == country]
        results = f"""{{ workerSurveyResults(questionnaireId: "worker-wellbeing", version: 1, country: "{country}") {{
          roundsCounted roundsWithTooFewRespondents respondents }} }}"""
        expected = {
            "roundsCounted": sum(len(s.responses) >= 10 for s in rounds),
            "roundsWithTooFewRespondents": sum(len(s.responses) < 10 for s in rounds),
            "respondents": sum(len(s.responses) for s in rounds if len(s.responses) >= 10),
        }

        async def projected(query: str = results, wanted: dict[str, int] = expected) -> bool:
            return (await answer(query))["workerSurveyResults"] == wanted

        await eventually(projected, within=60, what=f"the worker survey rounds of {country}")
        if managed[country]:
            impact = f'{{ managerSurveyImpact(country: "{country}") {{ employment {{ factories }} }} }}'
            several = sum(n >= 2 for f, n in per_factory.items() if country_of[f] == country)

            async def impact_projected(query: str = impact, wanted: int = several) -> bool:
                return (await answer(query))["managerSurveyImpact"]["employment"]["factories"] == wanted

            await eventually(impact_projected, within=60, what=f"the manager survey impact of {country}")
