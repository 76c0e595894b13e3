"""Attacking the services as every kind of caller there is.

One world is built once for the module: two brands, two Cambodian suppliers and a Vietnamese
one, a duplicate record merged away, a published report and two unannounced visits still to
come, a factory committee with its minutes, an advisory plan with a visit held and one to come, and a
training session two factories share. Then
every route of every service, and every field of the GraphQL schema, is tried with every caller
that has no right to it, and the answers are held to the rules:

- a brand sees only its own consenting suppliers (linked AND consenting);
- a government only aggregates of its own country, small cells suppressed;
- a factory never the date of an unannounced assessment, nor a hint that one is scheduled;
- programme staff register, enroll, assess and review; a factory's own users update its
  profile, manage consent, read their published reports and work their improvement plan,
  record their committee's meetings and action items, read their advisory plans and visits and
  confirm or comment on a visit's record (which programme staff cannot do for them); brands
  write nowhere;
- a missing or bad token is 401; a good token without the right is 403 (an assessment or a
  training session a factory may not see is 404: that it exists is itself the secret).

The route tables are exhaustive on purpose: a route added without a rule here fails the test.
Holes still open are strict xfails whose reason names the route, the caller and the impact.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
import websockets
from assessment.app import create_app as create_assessment
from assessment.settings import Settings as AssessmentSettings
from assessment.tool import tool
from betterwork_events.auth import Audience
from betterwork_events.countries import today_in
from betterwork_events.errors import NotFound
from betterwork_events.factories import known_factory
from committee.app import create_app as create_committee
from committee.settings import Settings as CommitteeSettings
from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings
from fastapi import FastAPI
from gateway.app import create_app as create_gateway
from gateway.settings import Settings as GatewaySettings
from training.app import create_app as create_training
from training.settings import Settings as TrainingSettings

from tests import conftest as fixtures
from tests.e2e.conftest import PROGRAMME, SETTINGS, UNMETERED, bearer
from tests.support import as_read_now, eventually, graphql_answer, if_match, serve

TODAY = today_in("KH")  # the factories' day (UTC+7): after 17:00 UTC, tomorrow's
KH_TOOL = tool("global-1").for_country("KH")
WAGES = next(q.id for q in KH_TOOL.questions if q.compliance_point_id == "compensation.minimum-wages")
# The unannounced visits still to come: these dates must never reach a factory or a brand.
NEXT_VISIT_TO_ANGKOR = TODAY + dt.timedelta(days=23)
NEXT_VISIT_TO_MEKONG = TODAY + dt.timedelta(days=41)
REVIEWER = bearer(Audience.PROGRAMME)  # dev-user: not one of the assessors

ANGKOR = {
    "name": "Angkor Apparel Co., Ltd.",
    "country": "KH",
    "address": "National Road 4, Kambol, Phnom Penh",
    "workforce": {"total": 2400, "women": 1980, "men": 420, "migrant": 35},
}
ANGKOR_DUPLICATE = {"name": "Angkor Apparel Company Limited", "country": "KH", "address": "NR4, Kambol, Phnom Penh"}
MEKONG = {
    "name": "Mekong Footwear Ltd.",
    "country": "KH",
    "address": "Manhattan SEZ, Bavet, Svay Rieng",
    "sector": "footwear",
    "workforce": {"total": 1650, "women": 1300, "men": 350},
}
SAIGON_STITCH = {
    "name": "Saigon Stitch Garment Co., Ltd.",
    "country": "VN",
    "address": "Lot C5, My Phuoc 2 Industrial Park, Ben Cat, Binh Duong",
    "workforce": {"total": 1850, "women": 1420, "men": 430},
}


def person(number: str, name: str, sex: str, job: str) -> dict[str, str]:
    return {"employee_number": number, "name": name, "sex": sex, "job_title": job}


SREYMOM = person("AA-01873", "Chan Sreymom", "female", "sewing operator, line 14")
SOPHEA = person("AA-00412", "Keo Sophea", "female", "quality inspector")
RITHY = person("AA-00977", "Heng Rithy", "male", "mechanic")
DARA = person("AA-00007", "Sok Dara", "female", "HR manager")
ELECTION = {
    "held_on": str(TODAY - dt.timedelta(days=50)),
    "seats": 2,
    "term_ends_on": str(TODAY + dt.timedelta(days=680)),
    "candidates": [{"person": SREYMOM, "votes": 412}, {"person": SOPHEA, "votes": 388}, {"person": RITHY, "votes": 97}],
}
ACTION_ITEM = {
    "description": "Clear the east exit of the cutting floor and mark the floor in front of it",
    "owner": "M-1",
    "due_on": str(TODAY + dt.timedelta(days=7)),
}
MEETING = {
    "held_on": str(TODAY - dt.timedelta(days=5)),
    "attendees": ["M-1", "M-2", "M-3"],
    "agenda": [{"title": "Blocked emergency exit on the cutting floor"}],
    "minutes": "The committee walked the cutting floor; the east exit was blocked by fabric rolls.",
    "action_items": [ACTION_ITEM],
}
ADVISORY_PLAN = {
    "starts_on": str(TODAY - dt.timedelta(days=60)),
    "ends_on": str(TODAY + dt.timedelta(days=300)),
    "advisor": "Pich Sopheap",
    "visits": 4,
    "priorities": [
        {
            "topic": "compensation.wages-and-benefits",
            "description": "Pay line 14 at least the minimum wage",
            "links": ["finding:KH-2026-0042-5-A1-F7"],
        }
    ],
}
VISIT_HELD = {
    "held_on": str(TODAY - dt.timedelta(days=10)),
    "management": [{"name": "Sok Dara", "role": "HR manager"}],
    "committee_members": ["M-1"],
    "topics": [{"topic": "compensation.wages-and-benefits", "priority_id": "P-1"}],
    "notes": "Payroll of line 14 reviewed with the HR manager.",
    "commitments": [
        {
            "description": "Pay the arrears of line 14",
            "topic": "compensation.wages-and-benefits",
            "due_on": str(TODAY + dt.timedelta(days=20)),
        }
    ],
}
WORKER_SURVEY = {
    "kind": "worker",
    "title": "Worker well-being",
    "questions": [
        {"id": "feels-safe", "text": "I feel safe at work", "type": "scale", "scale_max": 5},
        {"id": "comments", "text": "Anything else?", "type": "text", "required": False},
    ],
}
WORKER_COMMENT = "line 14's supervisor Mr Pisey docks our pay"  # one worker's words: never readable
PROGRESS_NOTE = "Chea Vannak of payroll paid half of line 14's arrears"  # names someone: not for brands
SST = {
    "course": "SST",
    "days": [str(TODAY + dt.timedelta(days=14)), str(TODAY + dt.timedelta(days=15))],
    "venue": "Better Factories Cambodia training room, Phnom Penh",
    "trainer": "Pich Sopheap, enterprise advisor",
}


# --- who calls --------------------------------------------------------------------------------


def forged(claims: dict[str, Any], key: str = SETTINGS.jwt_secret or "", algorithm: str = "HS256") -> dict[str, str]:
    now = int(time.time())
    full = {"sub": "mallory", "iss": SETTINGS.jwt_issuer, "aud": SETTINGS.jwt_audience, "iat": now, "exp": now + 600}
    full |= claims
    return {"Authorization": f"Bearer {jwt.encode(full, key, algorithm=algorithm)}"}


def unsigned(claims: dict[str, Any]) -> dict[str, str]:
    """alg none: a token anybody can write."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    now = int(time.time())
    body = {"sub": "mallory", "iss": SETTINGS.jwt_issuer, "aud": SETTINGS.jwt_audience, "exp": now + 600} | claims
    return {"Authorization": f"Bearer {part({'alg': 'none', 'typ': 'JWT'})}.{part(body)}."}


PROGRAMME_CLAIMS = {"bw_audience": "programme", "bw_role": "administrator"}
# Tokens that must get 401 everywhere a token is needed.
BAD_TOKENS: dict[str, dict[str, str]] = {
    "no token": {},
    "not a bearer token": {"Authorization": "Basic cHJvZ3JhbW1lOnByb2dyYW1tZQ=="},
    "garbage": {"Authorization": "Bearer not-a-jwt"},
    "expired": forged(PROGRAMME_CLAIMS | {"exp": int(time.time()) - 60}),
    "signed with another key": forged(PROGRAMME_CLAIMS, key="mallorys-own-signing-key-0123456789abcdef"),
    "alg none": unsigned(PROGRAMME_CLAIMS),
    "wrong issuer": forged(PROGRAMME_CLAIMS | {"iss": "https://login.example.com"}),
    "wrong audience": forged(PROGRAMME_CLAIMS | {"aud": "another-system"}),
    "no expiry": forged(PROGRAMME_CLAIMS | {"exp": None}),
    "unknown audience": forged({"bw_audience": "admin"}),
    "brand without scope": forged({"bw_audience": "brand"}),
    "programme staff without a role": forged({"bw_audience": "programme"}),
    "programme staff with a role of their own making": forged({"bw_audience": "programme", "bw_role": "root"}),
}


@dataclass
class World:
    registry: httpx.AsyncClient
    assessment: httpx.AsyncClient
    committee: httpx.AsyncClient
    training: httpx.AsyncClient
    gateway: httpx.AsyncClient
    apps: dict[str, FastAPI]
    northwind: str = ""  # brand A: buys from Angkor, which consents
    lotus: str = ""  # brand B: buys from Angkor (no consent) and from Mekong (consent)
    angkor: str = ""  # factory X
    mekong: str = ""  # factory Y
    saigon: str = ""  # a Vietnamese factory
    duplicate: str = ""  # a second record of Angkor, merged into it
    published: str = ""  # Angkor's published report
    action: str = ""  # an improvement action of it
    visit_to_angkor: str = ""  # scheduled, unannounced
    visit_to_mekong: str = ""  # scheduled, unannounced
    committee_of_angkor: str = ""
    meeting: str = ""
    action_item: str = ""
    advisory_plan: str = ""  # Angkor's, with V-1 held and V-2 to come
    visit_held: str = ""
    visit_to_come: str = ""
    shared_session: str = ""  # Angkor's and Mekong's people trained together
    bulk_export: str = ""  # Northwind's export of its suppliers' reports, ready
    mekong_session: str = ""  # Mekong's people only
    survey_round: str = ""  # Angkor's worker survey round: three workers answered, closed
    callers: dict[str, dict[str, str]] = field(default_factory=dict)

    async def graphql(self, query: str, headers: dict[str, str], variables: dict[str, Any] | None = None) -> Any:
        body: dict[str, Any] = {"query": query} | ({"variables": variables} if variables else {})
        return await self.gateway.post("/graphql", json=body, headers=headers)


async def known_to(app: FastAPI, factory_id: str, enrollment: str = "enrolled") -> None:
    async def known() -> bool:
        try:
            return (await known_factory(app.state.runtime.engine, factory_id)).enrollment == enrollment
        except NotFound:
            return False

    await eventually(known, within=90, what=f"{app.title} learning that {factory_id} is {enrollment}")


def etag(response: httpx.Response) -> int:
    return int(response.headers["etag"].strip('"'))


async def build(world: World) -> None:
    registry, assessment = world.registry, world.assessment

    async def ok(response: Any, status: int = 200) -> dict[str, Any]:
        response = await response
        assert response.status_code == status, response.text
        return response.json()

    brand = {"kind": "retailer", "partnership": "partner"}
    world.northwind = (
        await ok(registry.post("/brands", json=brand | {"name": "Northwind Outfitters"}, headers=PROGRAMME), 201)
    )["id"]
    world.lotus = (
        await ok(registry.post("/brands", json=brand | {"name": "Lotus Retail Group"}, headers=PROGRAMME), 201)
    )["id"]

    async def enrolled(profile: dict[str, Any]) -> str:
        factory = await ok(registry.post("/factories", json=profile | {"confirmed_new": True}, headers=PROGRAMME), 201)
        await ok(registry.post(f"/factories/{factory['id']}/enrollment/apply", headers=PROGRAMME | if_match(1)))
        body = {"service_package": "core", "enrolled_on": str(TODAY - dt.timedelta(days=90))}
        enroll = registry.post(
            f"/factories/{factory['id']}/enrollment/enroll", json=body, headers=PROGRAMME | if_match(2)
        )
        await ok(enroll)
        return factory["id"]

    world.angkor, world.mekong, world.saigon = [await enrolled(p) for p in (ANGKOR, MEKONG, SAIGON_STITCH)]
    world.duplicate = (
        await ok(registry.post("/factories", json=ANGKOR_DUPLICATE | {"confirmed_new": True}, headers=PROGRAMME), 201)
    )["id"]
    since = {"since": "2024-02-01"}
    for factory, brand_id, version in [
        (world.angkor, world.northwind, 3),
        (world.angkor, world.lotus, 4),
        (world.mekong, world.lotus, 3),
    ]:
        link = since | {"brand_id": brand_id}
        await ok(registry.post(f"/factories/{factory}/brands", json=link, headers=PROGRAMME | if_match(version)))
    await ok(
        registry.put(
            f"/factories/{world.angkor}/consents/{world.northwind}",
            headers=bearer(Audience.FACTORY, world.angkor) | if_match(5),
        )
    )
    await ok(
        registry.put(
            f"/factories/{world.mekong}/consents/{world.lotus}",
            headers=bearer(Audience.FACTORY, world.mekong) | if_match(4),
        )
    )
    merge = {"into": world.angkor, "reason": "the same site in Kambol, registered twice"}
    await ok(registry.post(f"/factories/{world.duplicate}/merge", json=merge, headers=PROGRAMME | if_match(1)))

    # An assessment of Angkor, published with one non-compliance; two more visits to come.
    for app in ("assessment", "committee", "training"):
        await known_to(world.apps[app], world.angkor)
        await known_to(world.apps[app], world.mekong)

    async def schedule(factory_id: str, on: dt.date) -> str:
        body = {"factory_id": factory_id, "planned_date": str(on), "assessors": ["assessor-sokha", "assessor-dara"]}
        return (await ok(assessment.post("/assessments", json=body, headers=PROGRAMME), 201))["id"]

    world.published = await schedule(world.angkor, TODAY)
    base = f"/assessments/{world.published}"
    started = await assessment.post(f"{base}/start", json={"started_on": str(TODAY)}, headers=PROGRAMME)
    version = etag(started)
    for q in KH_TOOL.questions:
        result = "non-compliant" if q.id == WAGES else "compliant"
        evidence = "payslips of line 14 below the minimum wage" if q.id == WAGES else ""
        answered = await assessment.put(
            f"{base}/findings/{q.id}",
            json={"result": result, "evidence": evidence},
            headers=PROGRAMME | {"If-Match": f'"{version}"'},
        )
        assert answered.status_code == 200, answered.text
        version = etag(answered)
    await ok(assessment.post(f"{base}/submit", headers=PROGRAMME))
    await ok(assessment.post(f"{base}/approve", headers=REVIEWER))
    await ok(assessment.post(f"{base}/publish", json={"published_on": str(TODAY)}, headers=PROGRAMME))
    planned = {"what": "pay the arrears of line 14", "who": "HR manager", "due_on": str(TODAY + dt.timedelta(days=20))}
    report = await ok(
        assessment.post(
            f"{base}/findings/{WAGES}/actions", json=planned, headers=bearer(Audience.FACTORY, world.angkor)
        )
    )
    world.action = report["improvement_actions"][0]["id"]
    progress = {"note": PROGRESS_NOTE}
    await ok(
        assessment.post(
            f"{base}/actions/{world.action}/progress", json=progress, headers=bearer(Audience.FACTORY, world.angkor)
        )
    )
    world.visit_to_angkor = await schedule(world.angkor, NEXT_VISIT_TO_ANGKOR)
    world.visit_to_mekong = await schedule(world.mekong, NEXT_VISIT_TO_MEKONG)

    # Angkor's committee, with its minutes.
    committee = world.committee
    body = {"factory_id": world.angkor, "established_on": str(TODAY - dt.timedelta(days=60))}
    world.committee_of_angkor = (await ok(committee.post("/committees", json=body, headers=PROGRAMME), 201))["id"]
    path = f"/committees/{world.committee_of_angkor}"
    await ok(committee.post(f"{path}/elections", json=ELECTION, headers=PROGRAMME), 201)
    appointed = {"person": DARA, "term_starts_on": str(TODAY - dt.timedelta(days=50))}
    await ok(committee.post(f"{path}/members", json=appointed, headers=PROGRAMME), 201)
    meeting = await committee.post(f"{path}/meetings", json=MEETING, headers=bearer(Audience.FACTORY, world.angkor))
    assert meeting.status_code == 201, meeting.text
    world.meeting = meeting.headers["location"].rsplit("/", 1)[1]
    minutes = await ok(committee.get(f"{path}/meetings/{world.meeting}", headers=PROGRAMME))
    world.action_item = minutes["action_items"][0]["action_item_id"]

    # Angkor's advisory plan: one visit held, one to come.
    plan = await ok(
        committee.post("/advisory-plans", json=ADVISORY_PLAN | {"factory_id": world.angkor}, headers=PROGRAMME), 201
    )
    world.advisory_plan = plan["id"]
    visits = f"/advisory-plans/{world.advisory_plan}/visits"
    held = {"planned_for": VISIT_HELD["held_on"], "planned_on": ADVISORY_PLAN["starts_on"]}
    world.visit_held = (await ok(committee.post(visits, json=held, headers=PROGRAMME), 201))["visit_id"]
    await ok(committee.post(f"{visits}/{world.visit_held}/record", json=VISIT_HELD, headers=PROGRAMME))
    to_come = {"planned_for": str(TODAY + dt.timedelta(days=30))}
    world.visit_to_come = (await ok(committee.post(visits, json=to_come, headers=PROGRAMME), 201))["visit_id"]

    # A safety training for Angkor's and Mekong's supervisors together, and one for Mekong alone.
    training = world.training
    shared = await ok(
        training.post("/sessions", json=SST | {"factory_ids": [world.angkor, world.mekong]}, headers=PROGRAMME), 201
    )
    world.shared_session = shared["id"]
    for version, (participant, factory, sex) in enumerate(
        [
            ("AA-S-001", world.angkor, "female"),
            ("MF-S-101", world.mekong, "female"),
            ("MF-S-102", world.mekong, "male"),
            ("MF-S-103", world.mekong, "female"),
        ],
        start=1,
    ):
        body = {"participant_id": participant, "factory_id": factory, "role": "supervisor", "sex": sex}
        at = PROGRAMME | {"If-Match": f'"{version}"'}
        await ok(training.post(f"/sessions/{world.shared_session}/participants", json=body, headers=at), 201)
    world.mekong_session = (
        await ok(training.post("/sessions", json=SST | {"factory_ids": [world.mekong]}, headers=PROGRAMME), 201)
    )["id"]

    # A worker survey round at Angkor: three workers answered (too few for anyone to read a figure).
    await ok(assessment.post("/questionnaires/worker-wellbeing/versions", json=WORKER_SURVEY, headers=PROGRAMME), 201)
    body = {"factory_id": world.angkor, "questionnaire_id": "worker-wellbeing", "questionnaire_version": 1}
    opened = await ok(assessment.post("/survey-rounds", json=body | {"opened_on": str(TODAY)}, headers=PROGRAMME), 201)
    world.survey_round = opened["id"]
    for sex, safe in [("female", 2), ("female", 5), ("male", 1)]:
        worker = {"sex": sex, "age_band": "25-34", "role": "worker", "answers": {"feels-safe": safe}}
        answer = {"answers": worker["answers"] | {"comments": WORKER_COMMENT}}
        await ok(
            assessment.post(
                f"/survey-rounds/{world.survey_round}/worker-responses", json=worker | answer, headers=PROGRAMME
            ),
            201,
        )
    await ok(
        assessment.post(f"/survey-rounds/{world.survey_round}/close", json={"closed_on": str(TODAY)}, headers=PROGRAMME)
    )

    world.callers = {
        "programme": PROGRAMME,
        "brand A": bearer(Audience.BRAND, world.northwind),
        "brand B": bearer(Audience.BRAND, world.lotus),
        "government KH": bearer(Audience.GOVERNMENT, "KH"),
        "government VN": bearer(Audience.GOVERNMENT, "VN"),
        "factory X": bearer(Audience.FACTORY, world.angkor),
        "factory Y": bearer(Audience.FACTORY, world.mekong),
        "merged factory": bearer(Audience.FACTORY, world.duplicate),
    }

    # The gateway has seen it all: Angkor's report reaches Northwind.
    async def projected() -> bool:
        query = f'{{ factory(id: "{world.angkor}") {{ assessmentReports {{ nodes {{ id }} }} }} }}'
        data = (await world.graphql(query, world.callers["brand A"])).json()["data"]
        return bool(data["factory"] and data["factory"]["assessmentReports"]["nodes"])

    await eventually(projected, what="the gateway projecting the world")
    world.bulk_export = await exported(world, "brand A", "SUPPLIER_REPORTS")


START_EXPORT = "mutation ($kind: BulkExportKind!) { startBulkExport(kind: $kind) { id } }"
POLL_EXPORT = "query ($id: ID!) { bulkExport(id: $id) { id kind status rowCount url } }"


async def exported(world: World, caller: str, kind: str) -> str:
    """A bulk export `caller` started, once it is ready; its id."""
    started = (await world.graphql(START_EXPORT, world.callers[caller], {"kind": kind})).json()
    export_id = str(started["data"]["startBulkExport"]["id"])

    async def ready() -> bool:
        polled = (await world.graphql(POLL_EXPORT, world.callers[caller], {"id": export_id})).json()
        return bool(polled["data"]["bulkExport"]["status"] == "READY")

    await eventually(ready, what=f"{caller}'s {kind} export")
    return export_id


@pytest.fixture(scope="module")
async def world(create_database, kafka: str) -> AsyncIterator[World]:
    common = {"kafka_bootstrap": kafka, "topic_prefix": f"t{fixtures.RUN}-attacks-{uuid.uuid4().hex[:6]}."}
    apps = {
        "registry": create_registry(RegistrySettings(database_url=await create_database("factory-registry"), **common)),
        "assessment": create_assessment(AssessmentSettings(database_url=await create_database("assessment"), **common)),
        "committee": create_committee(CommitteeSettings(database_url=await create_database("committee"), **common)),
        "training": create_training(TrainingSettings(database_url=await create_database("training"), **common)),
    }
    gateway_db = await create_database("gateway")
    async with (
        serve(apps["registry"]) as registry_url,
        serve(apps["assessment"]) as assessment_url,
        serve(apps["committee"]) as committee_url,
        serve(apps["training"]) as training_url,
    ):
        urls = {"assessment_url": assessment_url, "committee_url": committee_url, "training_url": training_url}
        apps["gateway"] = create_gateway(
            GatewaySettings(database_url=gateway_db, registry_url=registry_url, **urls, **common, **UNMETERED)
        )
        async with (
            serve(apps["gateway"]) as gateway_url,
            httpx.AsyncClient(base_url=registry_url) as registry,
            httpx.AsyncClient(base_url=assessment_url) as assessment,
            httpx.AsyncClient(base_url=committee_url) as committee,
            httpx.AsyncClient(base_url=training_url) as training,
            httpx.AsyncClient(base_url=gateway_url) as gateway,
        ):
            world = World(registry, assessment, committee, training, gateway, apps)
            await build(world)
            yield world


# --- the route tables -------------------------------------------------------------------------

SIGNED_IN = frozenset(
    {"programme", "brand A", "brand B", "government KH", "government VN", "factory X", "factory Y", "merged factory"}
)
EVERYONE = SIGNED_IN | {"public"}
PROGRAMME_ONLY = frozenset({"programme"})
ANGKOR_ITSELF = frozenset({"programme", "factory X"})  # factory X is Angkor
FACTORIES = frozenset({"programme", "factory X", "factory Y", "merged factory"})


def hidden(caller: str) -> int:
    """An assessment, committee or advisory plan a factory may not see does not exist for it; brands
    and governments never read here."""
    return 404 if caller in ("factory X", "factory Y", "merged factory") else 403


def forbidden(caller: str) -> int:
    return 403


def other_brand(caller: str) -> int:
    """Another brand's record does not exist for a brand; factories and governments never read brands here."""
    return 404 if caller.startswith("brand") else 403


def session_hidden(caller: str) -> int:
    """A training session of other factories does not exist for a factory; others never read here."""
    return 404 if caller in ("factory X", "factory Y", "merged factory") else 403


@dataclass(frozen=True)
class Probe:
    """One request to a route: who may make it, and what everybody else must get."""

    method: str
    path: str  # formatted with the world's ids, e.g. "/factories/{angkor}"
    may: frozenset[str]
    json: Any = None
    csv: str | None = None
    denied: Callable[[str], int] = forbidden
    allowed: int = 200  # what a permitted caller gets from a read

    def url(self, world: World) -> str:
        return self.path.format(**vars(world), wages=WAGES, today=TODAY)

    async def send(self, client: httpx.AsyncClient, world: World, headers: dict[str, str]) -> httpx.Response:
        if self.csv is not None:
            headers = headers | {"content-type": "text/csv"}
            return await client.request(self.method, self.url(world), content=self.csv, headers=headers)
        return await client.request(self.method, self.url(world), json=filled(self.json, world), headers=headers)


def probes(*items: Probe) -> list[Probe]:
    return list(items)


OPERATIONS = {
    ("GET", "/health"): probes(Probe("GET", "/health", EVERYONE)),
    ("GET", "/ready"): probes(Probe("GET", "/ready", EVERYONE)),
    ("GET", "/openapi.json"): probes(Probe("GET", "/openapi.json", EVERYONE)),
    ("GET", "/docs"): probes(Probe("GET", "/docs", EVERYONE)),
    ("GET", "/docs/oauth2-redirect"): probes(Probe("GET", "/docs/oauth2-redirect", EVERYONE)),
    ("GET", "/redoc"): probes(Probe("GET", "/redoc", EVERYONE)),
}

TONLE_SAP = {"name": "Tonle Sap Garments Ltd.", "country": "KH", "address": "Street 598, Russey Keo, Phnom Penh"}
REASON = {"reason": "the factory asked for it in writing"}
REGISTRY = OPERATIONS | {
    ("POST", "/factories"): probes(Probe("POST", "/factories", PROGRAMME_ONLY, TONLE_SAP | {"confirmed_new": True})),
    ("GET", "/factories/{factory_id}"): probes(
        # Another factory's record does not exist for a factory's users (404, as a missing one);
        # brands and governments never read factory records here (403).
        Probe("GET", "/factories/{angkor}", ANGKOR_ITSELF, denied=hidden),
        # The merged record's id leads to Angkor, and only Angkor's own users (and the programme) follow it.
        Probe("GET", "/factories/{duplicate}", ANGKOR_ITSELF, denied=hidden, allowed=308),
        Probe("GET", "/factories/{mekong}", frozenset({"programme", "factory Y"}), denied=hidden),
    ),
    ("GET", "/factories/{factory_id}/history"): probes(
        Probe("GET", "/factories/{angkor}/history", ANGKOR_ITSELF, denied=hidden)
    ),
    ("PATCH", "/factories/{factory_id}"): probes(
        Probe("PATCH", "/factories/{angkor}", ANGKOR_ITSELF, {"local_name": "រោងចក្រ អង្គរ"}, denied=hidden)
    ),
    ("POST", "/factories/{factory_id}/enrollment/apply"): probes(
        Probe("POST", "/factories/{angkor}/enrollment/apply", PROGRAMME_ONLY)
    ),
    ("POST", "/factories/{factory_id}/enrollment/enroll"): probes(
        Probe(
            "POST",
            "/factories/{angkor}/enrollment/enroll",
            PROGRAMME_ONLY,
            {"service_package": "core", "enrolled_on": "2026-01-05"},
        )
    ),
    **{
        ("POST", f"/factories/{{factory_id}}/enrollment/{step}"): probes(
            Probe("POST", f"/factories/{{angkor}}/enrollment/{step}", PROGRAMME_ONLY, REASON)
        )
        for step in ("suspend", "reinstate", "withdraw", "close")
    },
    ("POST", "/factories/{factory_id}/brands"): probes(
        Probe("POST", "/factories/{mekong}/brands", PROGRAMME_ONLY, {"brand_id": "{northwind}", "since": "2025-06-01"})
    ),
    ("DELETE", "/factories/{factory_id}/brands/{brand_id}"): probes(
        Probe("DELETE", "/factories/{angkor}/brands/{northwind}?until={today}", PROGRAMME_ONLY)
    ),
    ("PUT", "/factories/{factory_id}/consents/{brand_id}"): probes(
        # The factory's own decision: programme staff may not grant it for them.
        Probe("PUT", "/factories/{angkor}/consents/{lotus}", frozenset({"factory X"}), denied=hidden)
    ),
    ("DELETE", "/factories/{factory_id}/consents/{brand_id}"): probes(
        Probe("DELETE", "/factories/{angkor}/consents/{northwind}", ANGKOR_ITSELF, denied=hidden)
    ),
    ("POST", "/factories/{factory_id}/merge"): probes(
        Probe("POST", "/factories/{mekong}/merge", PROGRAMME_ONLY, {"into": "{angkor}", "reason": "same site"})
    ),
    ("POST", "/factories/imports"): probes(
        Probe(
            "POST",
            "/factories/imports",
            PROGRAMME_ONLY,
            csv="name,country,address\nTonle Sap Garments Ltd.,KH,Phnom Penh\n",
        )
    ),
    ("POST", "/brands"): probes(
        Probe(
            "POST", "/brands", PROGRAMME_ONLY, {"name": "Mallory Sourcing", "kind": "buyer", "partnership": "partner"}
        )
    ),
    ("GET", "/brands/{brand_id}"): probes(
        Probe("GET", "/brands/{northwind}", frozenset({"programme", "brand A"}), denied=other_brand)
    ),
    ("GET", "/brands/{brand_id}/report-sharing"): probes(
        Probe("GET", "/brands/{northwind}/report-sharing", frozenset({"programme", "brand A"}), denied=other_brand)
    ),
    ("POST", "/brands/{brand_id}/partnership"): probes(
        Probe("POST", "/brands/{northwind}/partnership", PROGRAMME_ONLY, {"partnership": "former-partner"})
    ),
    ("GET", "/countries"): probes(Probe("GET", "/countries", SIGNED_IN)),
    ("GET", "/countries/{code}"): probes(Probe("GET", "/countries/KH", SIGNED_IN)),
}

VISIT = "/assessments/{visit_to_angkor}"
REPORT = "/assessments/{published}"
ASSESSMENT = OPERATIONS | {
    ("POST", "/assessments"): probes(
        Probe(
            "POST",
            "/assessments",
            PROGRAMME_ONLY,
            {"factory_id": "{angkor}", "planned_date": "2027-02-02", "assessors": ["assessor-sokha"]},
        )
    ),
    # Factories list their own published reports (an empty list for Mekong: its visit is still to come).
    ("GET", "/assessments"): probes(Probe("GET", "/assessments", FACTORIES)),
    ("GET", "/assessments/{assessment_id}"): probes(
        Probe("GET", REPORT, ANGKOR_ITSELF, denied=hidden),
        Probe("GET", VISIT, PROGRAMME_ONLY, denied=hidden),
        Probe("GET", "/assessments/{visit_to_mekong}", PROGRAMME_ONLY, denied=hidden),
    ),
    ("GET", "/assessments/{assessment_id}/history"): probes(
        Probe("GET", f"{REPORT}/history", ANGKOR_ITSELF, denied=hidden),
        Probe("GET", f"{VISIT}/history", PROGRAMME_ONLY, denied=hidden),
    ),
    ("POST", "/assessments/{assessment_id}/cancel"): probes(Probe("POST", f"{VISIT}/cancel", PROGRAMME_ONLY, REASON)),
    ("POST", "/assessments/{assessment_id}/start"): probes(
        Probe("POST", f"{VISIT}/start", PROGRAMME_ONLY, {"started_on": "{today}"})
    ),
    ("PUT", "/assessments/{assessment_id}/findings/{question_id}"): probes(
        Probe("PUT", f"{VISIT}/findings/{{wages}}", PROGRAMME_ONLY, {"result": "compliant"}),
        Probe("PUT", f"{REPORT}/findings/{{wages}}", PROGRAMME_ONLY, {"result": "compliant"}),
    ),
    ("POST", "/assessments/{assessment_id}/findings"): probes(
        Probe(
            "POST",
            f"{VISIT}/findings",
            PROGRAMME_ONLY,
            {"findings": [{"question_id": "{wages}", "result": "compliant"}]},
        ),
        Probe(
            "POST",
            f"{REPORT}/findings",
            PROGRAMME_ONLY,
            {"findings": [{"question_id": "{wages}", "result": "compliant"}]},
        ),
    ),
    ("POST", "/assessments/{assessment_id}/submit"): probes(Probe("POST", f"{VISIT}/submit", PROGRAMME_ONLY)),
    ("POST", "/assessments/{assessment_id}/return"): probes(
        Probe("POST", f"{VISIT}/return", PROGRAMME_ONLY, {"comments": "evidence for the wage finding is missing"})
    ),
    ("POST", "/assessments/{assessment_id}/approve"): probes(Probe("POST", f"{VISIT}/approve", PROGRAMME_ONLY)),
    ("POST", "/assessments/{assessment_id}/publish"): probes(
        Probe("POST", f"{VISIT}/publish", PROGRAMME_ONLY, {"published_on": "{today}"})
    ),
    ("POST", "/assessments/{assessment_id}/findings/{question_id}/actions"): probes(
        Probe(
            "POST",
            f"{REPORT}/findings/{{wages}}/actions",
            ANGKOR_ITSELF,
            {"what": "pay arrears", "who": "HR", "due_on": "2027-01-10"},
            denied=hidden,
        ),
        # Angkor itself may not plan on a visit it must not know of.
        Probe(
            "POST",
            f"{VISIT}/findings/{{wages}}/actions",
            PROGRAMME_ONLY,
            {"what": "x", "who": "HR", "due_on": "2027-01-10"},
            denied=hidden,
        ),
    ),
    ("POST", "/assessments/{assessment_id}/actions/{action_id}/progress"): probes(
        Probe(
            "POST",
            f"{REPORT}/actions/{{action}}/progress",
            ANGKOR_ITSELF,
            {"note": "March arrears paid"},
            denied=hidden,
        )
    ),
    ("POST", "/assessments/{assessment_id}/findings/{question_id}/remediated"): probes(
        Probe(
            "POST", f"{REPORT}/findings/{{wages}}/remediated", ANGKOR_ITSELF, {"note": "arrears paid"}, denied=hidden
        ),
        Probe(
            "POST", f"{VISIT}/findings/{{wages}}/remediated", PROGRAMME_ONLY, {"note": "arrears paid"}, denied=hidden
        ),
    ),
    ("POST", "/assessments/{assessment_id}/findings/{question_id}/verify"): probes(
        Probe("POST", f"{REPORT}/findings/{{wages}}/verify", PROGRAMME_ONLY)
    ),
    ("POST", "/assessments/{assessment_id}/findings/{question_id}/reject"): probes(
        Probe("POST", f"{REPORT}/findings/{{wages}}/reject", PROGRAMME_ONLY, REASON)
    ),
    ("POST", "/assessments/{assessment_id}/public-response"): probes(
        Probe("POST", f"{REPORT}/public-response", ANGKOR_ITSELF, {"response": "All arrears are paid."}, denied=hidden),
        Probe("POST", f"{VISIT}/public-response", PROGRAMME_ONLY, {"response": "x"}, denied=hidden),
    ),
    # The zero-tolerance desk is the programme's alone, the factory's own included.
    ("GET", "/assessments/{assessment_id}/zero-tolerance"): probes(
        Probe("GET", f"{REPORT}/zero-tolerance", PROGRAMME_ONLY)
    ),
    ("POST", "/assessments/{assessment_id}/zero-tolerance/{question_id}/acknowledgement"): probes(
        Probe("POST", f"{REPORT}/zero-tolerance/{{wages}}/acknowledgement", PROGRAMME_ONLY)
    ),
    ("POST", "/assessments/{assessment_id}/zero-tolerance/{question_id}/escalation"): probes(
        Probe(
            "POST",
            f"{REPORT}/zero-tolerance/{{wages}}/escalation",
            PROGRAMME_ONLY,
            {"escalated_to": "Ministry of Labour", "action_taken": "referred", "escalated_on": "{today}"},
        )
    ),
    ("GET", "/tools/{version}"): probes(Probe("GET", "/tools/KH-global-1", SIGNED_IN)),
    # Public by design: each published cycle's public issues and the factory's response, and only that.
    ("GET", "/transparency/{factory_id}"): probes(Probe("GET", "/transparency/{angkor}", EVERYONE)),
    ("GET", "/transparency"): probes(Probe("GET", "/transparency?name=angkor", EVERYONE)),
    # Research surveys: programme staff write; a questionnaire is no secret; a round's counts for the
    # programme and its factory (another factory: 404). No route reads a response.
    ("POST", "/questionnaires/{questionnaire_id}/versions"): probes(
        Probe("POST", "/questionnaires/worker-wellbeing/versions", PROGRAMME_ONLY, WORKER_SURVEY)
    ),
    ("GET", "/questionnaires/{questionnaire_id}"): probes(Probe("GET", "/questionnaires/worker-wellbeing", SIGNED_IN)),
    ("POST", "/survey-rounds"): probes(
        Probe(
            "POST",
            "/survey-rounds",
            PROGRAMME_ONLY,
            {
                "factory_id": "{angkor}",
                "questionnaire_id": "worker-wellbeing",
                "questionnaire_version": 1,
                "opened_on": "{today}",
            },
        )
    ),
    ("GET", "/survey-rounds/{round_id}"): probes(
        Probe("GET", "/survey-rounds/{survey_round}", ANGKOR_ITSELF, denied=hidden)
    ),
    ("POST", "/survey-rounds/{round_id}/worker-responses"): probes(
        Probe(
            "POST",
            "/survey-rounds/{survey_round}/worker-responses",
            PROGRAMME_ONLY,
            {"sex": "female", "age_band": "25-34", "role": "worker", "answers": {"feels-safe": 3}},
        )
    ),
    ("POST", "/survey-rounds/{round_id}/manager-responses"): probes(
        Probe(
            "POST",
            "/survey-rounds/{survey_round}/manager-responses",
            PROGRAMME_ONLY,
            {"figures": {"period_start": "2025-01-01", "period_end": "2025-12-31", "employment": 2400}},
        )
    ),
    ("POST", "/survey-rounds/{round_id}/close"): probes(
        Probe("POST", "/survey-rounds/{survey_round}/close", PROGRAMME_ONLY, {"closed_on": "{today}"})
    ),
}

PICC = "/committees/{committee_of_angkor}"
DEPARTURE = {"left_on": "{today}", "reason": "left the factory"}
COMMITTEE = OPERATIONS | {
    ("POST", "/committees"): probes(
        Probe("POST", "/committees", PROGRAMME_ONLY, {"factory_id": "{mekong}", "established_on": "{today}"})
    ),
    ("GET", "/committees/{committee_id}"): probes(Probe("GET", PICC, ANGKOR_ITSELF, denied=hidden)),
    ("GET", "/committees/{committee_id}/health"): probes(Probe("GET", f"{PICC}/health", ANGKOR_ITSELF, denied=hidden)),
    ("GET", "/committees/{committee_id}/history"): probes(
        Probe("GET", f"{PICC}/history", ANGKOR_ITSELF, denied=hidden)
    ),
    ("GET", "/factories/{factory_id}/committee"): probes(
        Probe("GET", "/factories/{angkor}/committee", ANGKOR_ITSELF, denied=hidden)
    ),
    ("GET", "/factories/{factory_id}/committees"): probes(
        Probe("GET", "/factories/{angkor}/committees", ANGKOR_ITSELF, denied=hidden)
    ),
    ("POST", "/committees/{committee_id}/dissolution"): probes(
        Probe("POST", f"{PICC}/dissolution", PROGRAMME_ONLY, {"dissolved_on": "{today}", "reason": "factory closed"})
    ),
    ("POST", "/committees/{committee_id}/elections"): probes(
        Probe("POST", f"{PICC}/elections", PROGRAMME_ONLY, ELECTION)
    ),
    ("POST", "/committees/{committee_id}/members"): probes(
        Probe("POST", f"{PICC}/members", PROGRAMME_ONLY, {"person": DARA, "term_starts_on": "{today}"})
    ),
    ("PUT", "/committees/{committee_id}/members/{member_id}/office"): probes(
        Probe("PUT", f"{PICC}/members/M-1/office", PROGRAMME_ONLY, {"office": "chair"})
    ),
    ("POST", "/committees/{committee_id}/members/{member_id}/departure"): probes(
        Probe("POST", f"{PICC}/members/M-1/departure", PROGRAMME_ONLY, DEPARTURE)
    ),
    ("POST", "/committees/{committee_id}/members/{member_id}/replacement"): probes(
        Probe(
            "POST", f"{PICC}/members/M-1/replacement", PROGRAMME_ONLY, {"replaced_on": "{today}", "reason": "resigned"}
        )
    ),
    ("POST", "/committees/{committee_id}/meetings"): probes(
        Probe("POST", f"{PICC}/meetings", ANGKOR_ITSELF, MEETING, denied=hidden)
    ),
    ("GET", "/committees/{committee_id}/meetings/{meeting_id}"): probes(
        Probe("GET", f"{PICC}/meetings/{{meeting}}", ANGKOR_ITSELF, denied=hidden)
    ),
    ("POST", "/committees/{committee_id}/meetings/{meeting_id}/action-items"): probes(
        Probe("POST", f"{PICC}/meetings/{{meeting}}/action-items", ANGKOR_ITSELF, ACTION_ITEM, denied=hidden)
    ),
    ("POST", "/committees/{committee_id}/action-items/{action_item_id}/start"): probes(
        Probe(
            "POST", f"{PICC}/action-items/{{action_item}}/start", ANGKOR_ITSELF, {"note": "rolls moved"}, denied=hidden
        )
    ),
    ("POST", "/committees/{committee_id}/action-items/{action_item_id}/closure"): probes(
        Probe(
            "POST",
            f"{PICC}/action-items/{{action_item}}/closure",
            ANGKOR_ITSELF,
            {"closed_on": "{today}", "outcome": "exit clear"},
            denied=hidden,
        )
    ),
}

ADVISORY = "/advisory-plans/{advisory_plan}"
HELD = f"{ADVISORY}/visits/{{visit_held}}"
TO_COME = f"{ADVISORY}/visits/{{visit_to_come}}"
ANGKOR_ONLY = frozenset({"factory X"})  # the factory's own voice: not even programme staff
# The committee service's advisory routes.
COMMITTEE |= {
    ("GET", "/advisory-topics"): probes(Probe("GET", "/advisory-topics", SIGNED_IN)),
    ("POST", "/advisory-plans"): probes(
        Probe("POST", "/advisory-plans", PROGRAMME_ONLY, ADVISORY_PLAN | {"factory_id": "{mekong}"})
    ),
    ("GET", "/advisory-plans/{plan_id}"): probes(Probe("GET", ADVISORY, ANGKOR_ITSELF, denied=hidden)),
    ("GET", "/advisory-plans/{plan_id}/history"): probes(
        Probe("GET", f"{ADVISORY}/history", ANGKOR_ITSELF, denied=hidden)
    ),
    ("GET", "/factories/{factory_id}/advisory-plans"): probes(
        Probe("GET", "/factories/{angkor}/advisory-plans", ANGKOR_ITSELF, denied=hidden)
    ),
    ("PUT", "/advisory-plans/{plan_id}/advisor"): probes(
        Probe(
            "PUT",
            f"{ADVISORY}/advisor",
            PROGRAMME_ONLY,
            {"advisor": "Heng Vanna", "assigned_on": "{today}", "reason": "Pich Sopheap moved to Siem Reap"},
        )
    ),
    ("POST", "/advisory-plans/{plan_id}/priorities"): probes(
        Probe("POST", f"{ADVISORY}/priorities", PROGRAMME_ONLY, ADVISORY_PLAN["priorities"][0])
    ),
    ("PUT", "/advisory-plans/{plan_id}/visits-promised"): probes(
        Probe("PUT", f"{ADVISORY}/visits-promised", PROGRAMME_ONLY, {"visits": 3, "reason": "budget"})
    ),
    ("POST", "/advisory-plans/{plan_id}/visits"): probes(
        Probe("POST", f"{ADVISORY}/visits", PROGRAMME_ONLY, {"planned_for": "{today}"})
    ),
    ("GET", "/advisory-plans/{plan_id}/visits/{visit_id}"): probes(
        Probe("GET", HELD, ANGKOR_ITSELF, denied=hidden), Probe("GET", TO_COME, ANGKOR_ITSELF, denied=hidden)
    ),
    ("POST", "/advisory-plans/{plan_id}/visits/{visit_id}/record"): probes(
        Probe("POST", f"{TO_COME}/record", PROGRAMME_ONLY, VISIT_HELD | {"held_on": "{today}"})
    ),
    ("POST", "/advisory-plans/{plan_id}/visits/{visit_id}/cancellation"): probes(
        Probe("POST", f"{TO_COME}/cancellation", PROGRAMME_ONLY, {"cancelled_on": "{today}", "reason": "ill"})
    ),
    ("POST", "/advisory-plans/{plan_id}/visits/{visit_id}/missed"): probes(
        Probe("POST", f"{TO_COME}/missed", PROGRAMME_ONLY, {"missed_on": "{today}", "reason": "gate closed"})
    ),
    ("POST", "/advisory-plans/{plan_id}/visits/{visit_id}/confirmation"): probes(
        Probe("POST", f"{HELD}/confirmation", ANGKOR_ONLY, {"comment": "agreed"}, denied=hidden)
    ),
    ("POST", "/advisory-plans/{plan_id}/visits/{visit_id}/comments"): probes(
        Probe("POST", f"{HELD}/comments", ANGKOR_ONLY, {"comment": "the arrears are paid"}, denied=hidden)
    ),
}

SHARED = "/sessions/{shared_session}"
BOTH_FACTORIES = frozenset({"programme", "factory X", "factory Y"})
TRAINING = OPERATIONS | {
    ("GET", "/courses"): probes(Probe("GET", "/courses", SIGNED_IN)),
    ("GET", "/courses/{code}"): probes(Probe("GET", "/courses/SST", SIGNED_IN)),
    ("POST", "/sessions"): probes(Probe("POST", "/sessions", PROGRAMME_ONLY, SST | {"factory_ids": ["{angkor}"]})),
    ("GET", "/sessions"): probes(Probe("GET", "/sessions", FACTORIES)),
    ("GET", "/sessions/{session_id}"): probes(
        Probe("GET", SHARED, BOTH_FACTORIES, denied=session_hidden),
        Probe("GET", "/sessions/{mekong_session}", frozenset({"programme", "factory Y"}), denied=session_hidden),
    ),
    ("GET", "/sessions/{session_id}/history"): probes(
        Probe("GET", f"{SHARED}/history", BOTH_FACTORIES, denied=session_hidden),
        Probe(
            "GET", "/sessions/{mekong_session}/history", frozenset({"programme", "factory Y"}), denied=session_hidden
        ),
    ),
    ("POST", "/sessions/{session_id}/reschedule"): probes(
        Probe("POST", f"{SHARED}/reschedule", PROGRAMME_ONLY, {"days": ["2027-01-12"], "reason": "public holiday"})
    ),
    ("POST", "/sessions/{session_id}/participants"): probes(
        Probe(
            "POST",
            f"{SHARED}/participants",
            PROGRAMME_ONLY,
            {"participant_id": "AA-S-002", "factory_id": "{angkor}", "role": "supervisor", "sex": "male"},
        )
    ),
    ("PUT", "/sessions/{session_id}/attendance/{day}"): probes(
        Probe("PUT", f"{SHARED}/attendance/{{today}}", PROGRAMME_ONLY, {"present": ["AA-S-001"]})
    ),
    ("PUT", "/sessions/{session_id}/participants/{participant_id}/scores/{phase}"): probes(
        Probe("PUT", f"{SHARED}/participants/AA-S-001/scores/pre", PROGRAMME_ONLY, {"score": 55})
    ),
    ("PUT", "/sessions/{session_id}/participants/{participant_id}/feedback"): probes(
        Probe("PUT", f"{SHARED}/participants/AA-S-001/feedback", PROGRAMME_ONLY, {"rating": 5})
    ),
    ("POST", "/sessions/{session_id}/deliver"): probes(Probe("POST", f"{SHARED}/deliver", PROGRAMME_ONLY)),
    ("POST", "/sessions/{session_id}/cancel"): probes(Probe("POST", f"{SHARED}/cancel", PROGRAMME_ONLY, REASON)),
}

GATEWAY = OPERATIONS | {
    ("GET", "/graphql/schema.graphql"): probes(Probe("GET", "/graphql/schema.graphql", EVERYONE)),
    ("GET", "/graphql"): probes(Probe("GET", "/graphql", EVERYONE)),  # the GraphiQL page; it runs no query
    # the GraphiQL page's own files (gateway/ide), so it works without internet; no secret in them
    ("GET", "/graphql/ide/{name}"): probes(Probe("GET", "/graphql/ide/graphiql.min.js", EVERYONE)),
    ("POST", "/graphql"): probes(Probe("POST", "/graphql", SIGNED_IN, {"query": "{{ __typename }}"})),
    ("WEBSOCKET", "/graphql"): [],  # no subscriptions: see test_the_gateway_websocket_answers_without_crashing
    # A bulk export's lines: its starter's alone; to other exporters it does not exist, others may not export.
    ("GET", "/bulk-exports/{export_id}.jsonl"): probes(
        Probe(
            "GET",
            "/bulk-exports/{bulk_export}.jsonl",
            frozenset({"brand A"}),
            denied=lambda caller: 404 if caller in ("programme", "brand B") else 403,
        )
    ),
}

TABLES = {
    "registry": REGISTRY,
    "assessment": ASSESSMENT,
    "committee": COMMITTEE,
    "training": TRAINING,
    "gateway": GATEWAY,
}


def operations(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, HEAD aside, including routes of included routers."""

    def walk(routes: list[Any]) -> Any:
        for route in routes:
            if hasattr(route, "original_router"):  # FastAPI's included router
                yield from walk(route.original_router.routes)
            elif getattr(route, "methods", None):
                yield from ((method, route.path) for method in route.methods if method != "HEAD")
            else:
                yield ("WEBSOCKET", route.path)

    return set(walk(app.routes))


def filled(value: Any, world: World) -> Any:
    """A body template with the world's ids in it."""
    if isinstance(value, str):
        return value.format(**vars(world), wages=WAGES, today=TODAY)
    if isinstance(value, list):
        return [filled(v, world) for v in value]
    if isinstance(value, dict):
        return {k: filled(v, world) for k, v in value.items()}
    return value


# --- every route, every caller ----------------------------------------------------------------


SERVICES = list(TABLES)


@pytest.mark.parametrize("service", SERVICES)
async def test_every_route_has_a_rule_and_refuses_everyone_it_does_not_name(world: World, service: str) -> None:
    table = TABLES[service]
    assert operations(world.apps[service]) == set(table), (
        f"{service}'s routes and this table differ: give every new route its rule here"
    )
    client: httpx.AsyncClient = getattr(world, service)
    wrong: list[str] = []

    def expect(probe: Probe, caller: str, response: httpx.Response, status: int) -> None:
        if response.status_code != status:
            wrong.append(f"{probe.method} {probe.url(world)} as {caller}: {response.status_code}, not {status}")

    for probes_of_route in table.values():
        for probe in probes_of_route:
            for caller in sorted(SIGNED_IN - probe.may):
                expect(probe, caller, await probe.send(client, world, world.callers[caller]), probe.denied(caller))
            if "public" not in probe.may:
                for name, headers in BAD_TOKENS.items():
                    expect(probe, name, await probe.send(client, world, headers), 401)
            if probe.method == "GET":  # reads change nothing: those named may make them
                for caller in sorted(probe.may):
                    headers = {} if caller == "public" else world.callers[caller]
                    expect(probe, caller, await probe.send(client, world, headers), probe.allowed)
    assert wrong == []


async def test_a_401_says_how_to_authenticate_and_never_echoes_the_token(world: World) -> None:
    for name, headers in BAD_TOKENS.items():
        response = await world.registry.get(f"/factories/{world.angkor}", headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer"), name
        token = headers.get("Authorization", "").removeprefix("Bearer ")
        assert not token or token not in response.text, name


# --- GraphQL: every field, every caller -------------------------------------------------------

INTROSPECTION = """{ __schema {
  queryType { fields { name args { name } } } mutationType { name } subscriptionType { name }
  types { name kind fields { name args { name } } }
} }"""
# Every argument of every field: each one is a way into the read models, so each has its rule
# tested (the area's tests in test_gateway_*.py, and below for the ones that name a factory or an id).
REVIEWED_ARGUMENTS = {
    "Assessment.findings": {"after", "cluster", "compliancePoint", "first", "result"},
    "Finding.remediation": {"today"},
    "Committee.composition": {"today"},
    "Committee.members": {"today"},
    "Committee.offices": {"today"},
    "Committee.meetings": {"after", "first"},
    "Committee.meetingRegularity": {"today"},
    "Committee.actionItems": {"after", "first", "overdue", "status", "today"},
    "Committee.health": {"today"},
    "Committee.healthy": {"today"},
    "Factory.improvementActions": {"after", "done", "first", "overdue", "status", "today"},
    "Factory.remediations": {"after", "first", "status", "today"},
    "Factory.assessmentReports": {"after", "first"},
    "Factory.trainingSessions": {"after", "course", "first", "from", "status", "to"},
    "Factory.history": {"after", "first", "service", "since"},
    "Factory.committees": {"after", "first"},
    "Factory.assessments": {"after", "cycle", "first", "publishedFrom", "publishedTo", "status", "year"},
    "Query.factories": {"after", "country", "enrollment", "first"},
    "Query.factory": {"id"},
    "Query.countrySummary": {"country"},
    "Query.assessments": {
        *("after", "country", "cycle", "factoryId", "first", "publishedFrom", "publishedTo", "status", "year")
    },
    "Query.assessment": {"id"},
    "Query.findings": {"after", "cluster", "compliancePoint", "country", "first", "recurring", "result"},
    "Query.zeroToleranceAlerts": {"after", "country", "first", "overdue", "status", "today"},
    "Query.improvementActions": {
        *("after", "cluster", "compliancePoint", "country", "done", "factoryId", "first", "overdue", "status", "today")
    },
    "Query.remediations": {
        *("after", "cluster", "compliancePoint", "country", "factoryId", "first", "status", "today")
    },
    "Query.committees": {"after", "country", "factoryId", "first", "healthy", "status", "today"},
    "Query.committee": {"id"},
    "Query.committeeStatistics": {"country", "today"},
    "Query.trainingSessions": {"after", "country", "course", "factoryId", "first", "from", "status", "to"},
    "Query.trainingStatistics": {"country", "year"},
    "Query.countryCompliance": {"country"},
    "Query.brandDashboard": {"brandId"},
    "Query.complianceDashboard": {"country", "brandId", "cycle", "year"},
    "Query.complianceTrend": {"country", "by", "brandId", "cluster", "compliancePoint"},
    "Query.improvement": {"country", "cluster", "compliancePoint", "minYears"},
    "Query.complianceShare": {"country", "cluster", "compliancePoint", "minYears"},
    "Query.complianceByYearsInProgramme": {"country", "cluster", "compliancePoint"},
    "Query.node": {"id"},
    "Query.brands": {"after", "first"},
    "Query.brand": {"id"},
    "Brand.suppliers": {"after", "first"},
    "TrainingSession.participants": {"after", "first"},
}
# The root lists that take a factory's id: for a factory out of the caller's reach they must answer
# exactly as for one that does not exist.
LISTS_BY_FACTORY = ("assessments", "improvementActions", "remediations", "committees", "trainingSessions")
LISTS_BY_FACTORY += ("advisoryPlans",)
REVIEWED_FIELDS = {
    "Query": {
        "factories",
        "factory",
        "countrySummary",
        "node",
        "trainingSessions",
        "trainingStatistics",
        "improvementActions",
        "remediations",
        "countryCompliance",
        "brandDashboard",
        "brands",
        "brand",
    },
    "FactoryConnection": {"edges", "pageInfo", "nodes", "totalCount"},
    # Brands: programme staff all, a brand itself, a factory the brands it supplies; a brand's
    # suppliers as far as the caller reads factories (see test_brands_lead_to_their_suppliers...).
    "Brand": {"id", "brandId", "name", "partnership", "suppliers"},
    "BrandConnection": {"edges", "pageInfo", "nodes", "totalCount"},
    "BrandEdge": {"cursor", "node"},
    "FactoryEdge": {"cursor", "node"},
    "AssessmentReportConnection": {"edges", "pageInfo", "nodes", "totalCount"},
    "AssessmentReportEdge": {"cursor", "node"},
    "PageInfo": {"hasNextPage", "hasPreviousPage", "startCursor", "endCursor"},
    "Factory": {
        "id",
        "factoryId",
        "name",
        "localName",
        "country",
        "address",
        "sector",
        "enrollment",
        "workforce",
        "assessmentReports",
        "trainingSessions",
        "improvementActions",
        "remediations",
        "history",
        "aliases",
    },
    # Whoever reads a factory reads the ids and names it was known by: the registry's public record.
    "FactoryAlias": {"factoryId", "name"},
    "Workforce": {"total", "women", "men"},
    "AssessmentReport": {"id", "publishedOn", "toolVersion", "compliancePoints", "clusters", "recurringQuestions"},
    "CompliancePointResult": {"compliancePointId", "clusterId", "nonCompliant", "nonCompliantQuestions", "remediation"},
    "ClusterResult": {"clusterId", "compliancePointsAssessed", "compliancePointsNonCompliant", "nonComplianceRate"},
    "CountrySummary": {"country", "enrolledFactories", "workers", "womenShare", "suppressed"},
    # Training (see test_each_caller_reads_of_training_only_its_own_people): a factory its own
    # sessions and people; the whole session's figures, trainers and comments for the programme.
    "TrainingSessionConnection": {"edges", "pageInfo", "nodes", "totalCount"},
    "TrainingSessionEdge": {"cursor", "node"},
    "TrainingParticipantConnection": {"edges", "pageInfo", "nodes", "totalCount"},
    "TrainingParticipantEdge": {"cursor", "node"},
    "TrainingSession": {
        "id",
        "sessionId",
        "country",
        "course",
        "days",
        "firstDay",
        "lastDay",
        "venue",
        "trainer",
        "status",
        "cancellationReason",
        "factoryIds",
        "participants",
        "participation",
        "delivery",
    },
    "TrainingCourse": {"code", "title", "catalogueVersion", "hours"},
    "TrainingParticipant": {
        "participantId",
        "factoryId",
        "role",
        "sex",
        "name",
        "daysPresent",
        "sessionDays",
        "attendanceRate",
        "preTestScore",
        "postTestScore",
        "improvement",
        "rating",
        "comment",
    },
    "TrainingParticipation": {
        "registered",
        "attendanceRate",
        "tested",
        "averagePreTestScore",
        "averagePostTestScore",
        "averageImprovement",
        "rated",
        "averageRating",
    },
    "TrainingHeadcount": {"total", "bySex", "byRole", "womenSupervisorsAndManagers"},
    "ParticipantsBySex": {"female", "male", "otherOrUndisclosed"},
    "ParticipantsByRole": {"worker", "supervisor", "manager"},
    "TrainingDelivery": {
        "hours",
        "registered",
        "attended",
        "completed",
        "attendedShare",
        "completedShare",
        "participantHours",
        "factories",
    },
    "FactoryTrainingAttendance": {"factoryId", "registered", "attended", "attendedShare", "participantHours"},
    "TrainingStatistics": {"country", "year", "total", "courses"},
    "TrainingCell": {
        "sessionsDelivered",
        "factories",
        "registered",
        "attended",
        "completed",
        "attendedShare",
        "completedShare",
        "participantHours",
        "suppressed",
    },
    "CourseTrainingStatistics": {"courseCode", "courseTitle", "delivered"},
    # Improvement plans: whose is scope.factory; `who` and the notes only for the programme and the
    # factory itself (scope.sees_plan_details), `verifiedBy` only for the programme.
    "ImprovementActionConnection": {"edges", "pageInfo", "nodes", "totalCount"},
    "ImprovementActionEdge": {"cursor", "node"},
    "RemediationConnection": {"edges", "pageInfo", "nodes", "totalCount"},
    "RemediationEdge": {"cursor", "node"},
    "ImprovementAction": {
        "id",
        "actionId",
        "assessmentId",
        "factoryId",
        "country",
        "questionId",
        "compliancePointId",
        "clusterId",
        "what",
        "who",
        "dueOn",
        "done",
        "overdue",
        "addedAt",
        "remediationStatus",
        "progress",
        "factory",
    },
    "ProgressReport": {"reportedAt", "done", "note"},
    "Remediation": {
        "assessmentId",
        "questionId",
        "factoryId",
        "country",
        "compliancePointId",
        "clusterId",
        "publishedOn",
        "status",
        "remediatedAt",
        "remediationNote",
        "verifiedAt",
        "verifiedBy",
        "rejectedAt",
        "rejectionReason",
        "improvementActions",
        "factory",
    },
    "HistoryEntryConnection": {"edges", "pageInfo", "nodes", "totalCount"},
    "HistoryEntryEdge": {"cursor", "node"},
    "HistoryEntry": {"time", "service", "type", "summary"},
    "ClusterCompliance": {"clusterId", "factories", "compliancePointsAssessed", "nonComplianceRate", "suppressed"},
    "CountryCompliance": {"country", "clusters"},
    "BrandDashboard": {"brandId", "countries"},
    "BrandCountryComparison": {"country", "clusters"},
    "BrandClusterComparison": {"clusterId", "suppliers", "country"},
}
# Compliance dashboards: programme staff any country and period; a government its own country's
# latest reports, small cells withheld; a brand its consenting suppliers beside their country (the
# country withheld over periods). Impact figures: programme staff and the country's government,
# left-out factories named to programme staff only. Never a factory's id or name otherwise.
REVIEWED_FIELDS["Query"] |= {
    *("complianceDashboard", "complianceTrend", "improvement", "complianceShare", "complianceByYearsInProgramme")
}
REVIEWED_FIELDS |= {
    "ComplianceFigure": {"factories", "assessments", "compliancePointsAssessed", "nonComplianceRate", "suppressed"},
    "NonComplianceCell": {"clusterId", "compliancePointId", "country", "supplyBase"},
    "RecurrenceCell": {
        *("clusterId", "compliancePointId", "factories", "assessments", "nonCompliantBefore", "recurrenceRate")
    }
    | {"suppressed"},
    "RemediationCell": {
        *("clusterId", "factories", "assessments", "findings", "remediationRate", "medianDaysToRemediate")
    }
    | {"suppressed"},
    "ComplianceDashboard": {*("country", "cycle", "year", "brandId", "total", "clusters", "compliancePoints")}
    | {"mostFrequentNonCompliances", "recurrence", "remediation"},
    "TrendPoint": {"cycle", "year", "country", "supplyBase"},
    "LeftOut": {"reason", "factories", "factoryIds"},
    "Improvement": {*("country", "clusterId", "compliancePointId", "minYears", "factories", "firstNonComplianceRate")}
    | {"latestNonComplianceRate", "improvement", "suppressed", "leftOut"},
    "ComplianceShare": {
        *("country", "clusterId", "compliancePointId", "minYears", "factories", "compliantShare", "suppressed")
    }
    | {"leftOut"},
    "YearsInProgramme": {"years", "factories", "compliantShare", "nonComplianceRate", "suppressed"},
}
# Committees (PICCs): programme staff and the factory itself only (members' names and minutes
# included); brands and governments FORBIDDEN; committeeStatistics for programme and governments.
REVIEWED_FIELDS["Query"] |= {"committees", "committee", "committeeStatistics"}
REVIEWED_FIELDS["Factory"] |= {"committee", "committees"}
REVIEWED_FIELDS |= {
    "Committee": {
        "id",
        "committeeId",
        "factoryId",
        "country",
        "establishedOn",
        "dissolvedOn",
        "dissolutionReason",
        "status",
        "composition",
        "members",
        "offices",
        "elections",
        "meetings",
        "meetingRegularity",
        "actionItems",
        "health",
        "healthy",
    },
    "CommitteeConnection": {"edges", "pageInfo", "nodes", "totalCount"},
    "CommitteeEdge": {"cursor", "node"},
    "CommitteeMember": {
        "memberId",
        "name",
        "employeeNumber",
        "sex",
        "jobTitle",
        "side",
        "office",
        "termStartsOn",
        "termEndsOn",
        "electionId",
    },
    "CommitteeOffice": {"office", "holder"},
    "Composition": {"members", "women", "men", "workers", "management", "womenShare"},
    "SideComposition": {"members", "women", "men"},
    "Election": {
        "electionId",
        "heldOn",
        "seats",
        "candidates",
        "womenCandidates",
        "votesCast",
        "elected",
        "womenElected",
        "contested",
    },
    "Meeting": {"meetingId", "heldOn", "attendees", "guests", "agenda", "minutes", "decisions"},
    "MeetingConnection": {"edges", "pageInfo", "nodes", "totalCount"},
    "MeetingEdge": {"cursor", "node"},
    "AgendaTopic": {"title", "references"},
    "MeetingRegularity": {
        "meetings",
        "firstHeldOn",
        "lastHeldOn",
        "daysSinceLast",
        "daysBetweenMeetings",
        "averageDaysBetween",
        "longestDaysBetween",
        "perQuarter",
    },
    "QuarterMeetings": {"quarter", "meetings"},
    "ActionItem": {
        "actionItemId",
        "meetingId",
        "description",
        "owner",
        "dueOn",
        "status",
        "closedOn",
        "outcome",
        "overdue",
    },
    "ActionItemConnection": {"edges", "pageInfo", "nodes", "totalCount"},
    "ActionItemEdge": {"cursor", "node"},
    "HealthCheck": {"name", "status", "reason"},
    "CommitteeStatistics": {
        "country",
        "factoriesWithACommittee",
        "active",
        "meetingRegularly",
        "workersSideWomenShare",
        "healthy",
        "meetingsByQuarter",
        "suppressed",
    },
    "CountryQuarterMeetings": {"quarter", "committees", "meetings", "meetingsPerCommittee", "suppressed"},
}
# Assessments, findings and zero-tolerance alerts (gateway/graphql/assessments.py).
REVIEWED_FIELDS["Query"] |= {"assessments", "assessment", "findings", "zeroToleranceAlerts"}
REVIEWED_FIELDS["Factory"] |= {"assessments"}
REVIEWED_FIELDS |= {
    "Assessment": {
        "id",
        "assessmentId",
        "factoryId",
        "country",
        "toolVersion",
        "status",
        "cycle",
        "plannedDate",
        "assessors",
        "startedOn",
        "submittedAt",
        "approvedAt",
        "reviewer",
        "reviewComments",
        "publishedOn",
        "previousAssessmentId",
        "findings",
    },
    "Finding": {
        "assessmentId",
        "questionId",
        "compliancePointId",
        "clusterId",
        "result",
        "evidence",
        "attachments",
        "zeroToleranceIssue",
        "recurring",
        "remediation",
    },
    "Attachment": {"filename", "contentType", "sizeBytes", "sha256"},
    "ZeroToleranceAlert": {
        "assessmentId",
        "factoryId",
        "country",
        "questionId",
        "issue",
        "raisedAt",
        "status",
        "daysWaiting",
        "overdue",
        "acknowledgedBy",
        "acknowledgedAt",
        "escalatedBy",
        "escalatedTo",
        "actionTaken",
        "escalatedOn",
    },
    **{
        f"{node}{kind}": {"edges", "pageInfo", "nodes", "totalCount"} if kind == "Connection" else {"cursor", "node"}
        for node in ("Assessment", "Finding", "ZeroToleranceAlert")
        for kind in ("Connection", "Edge")
    },
}
# Advisory services (gateway/graphql/advisory.py): programme staff and the factory itself in full; a
# consenting brand the plan's cycle, period and priorities by cluster only (the rest null); the
# statistics for programme and governments.
REVIEWED_FIELDS["Query"] |= {"advisoryPlans", "advisoryStatistics"}
REVIEWED_FIELDS["Factory"] |= {"advisoryPlans"}
REVIEWED_FIELDS |= {
    "AdvisoryPlan": {
        *("id", "planId", "factoryId", "country", "cycle", "startsOn", "endsOn", "servicePackage"),
        *("visitsIncluded", "visitsPromised", "advisor", "priorityClusters", "priorities", "visits", "commitments"),
    },
    "AdvisoryTopic": {"topic", "clusterId", "name"},
    "AdvisoryPriority": {"priorityId", "topic", "description", "links"},
    "AdvisoryClusterPriorities": {"clusterId", "priorities"},
    "AdvisoryVisit": {
        *("visitId", "status", "plannedOn", "plannedFor", "remote", "plannedTopics", "heldOn", "advisor"),
        *("participation", "topicsWorked", "notes", "calledOffOn", "calledOffReason", "confirmation", "comments"),
    },
    "VisitParticipation": {"management", "unionRepresentatives", "committeeMembers"},
    "CommitteeParticipants": {"side", "sex", "count"},
    "TopicWorked": {"topic", "priorityId", "note"},
    "FactoryResponse": {"on", "comment"},
    "AdvisoryCommitment": {
        *("commitmentId", "visitId", "description", "topic", "priorityId", "dueOn", "status", "overdue"),
        "followUps",
    },
    "CommitmentFollowUp": {"visitId", "status", "note", "dueOn"},
    "AdvisoryStatistics": {
        *("country", "factoriesInAdvisory", "plans", "visitsHeld", "visitsPlanned", "visitsMissed"),
        *("commitmentsDone", "commitmentsLate", "commitmentsDropped", "suppressed"),
    },
    **{
        f"{node}{kind}": {"edges", "pageInfo", "nodes", "totalCount"} if kind == "Connection" else {"cursor", "node"}
        for node in ("AdvisoryPlan", "AdvisoryVisit", "AdvisoryCommitment")
        for kind in ("Connection", "Edge")
    },
}
# Bulk exports (gateway/exports.py): programme and brands start, poll and download their own,
# read through their scope; governments and factories FORBIDDEN; another's answers as missing.
REVIEWED_FIELDS["Query"] |= {"bulkExport"}
REVIEWED_FIELDS |= {
    "Mutation": {"startBulkExport"},
    "BulkExport": {"id", "kind", "status", "rowCount", "createdAt", "completedAt", "expiresAt", "url"},
}
REVIEWED_ARGUMENTS |= {"Query.bulkExport": {"id"}, "Mutation.startBulkExport": {"kind"}}
REVIEWED_ARGUMENTS |= {
    "Query.advisoryPlans": {"after", "country", "factoryId", "first"},
    "Query.advisoryStatistics": {"country"},
    "Factory.advisoryPlans": {"after", "first"},
    "AdvisoryPlan.visits": {"after", "first"},
    "AdvisoryPlan.commitments": {"after", "first", "overdue", "status", "today"},
}
# Mutations: the gateway decides none of them; each is the owning service's command, and who
# may send it is the service's rule (test_gateway_mutations.py proves each one carried out).
FORWARDED = {
    *("registerFactory", "updateFactory", "linkBrand", "grantConsent", "revokeConsent", "scheduleAssessment"),
    *("reportImprovementProgress", "reportRemediation", "verifyRemediation", "rejectRemediation"),
    *("recordCommitteeMeeting", "raiseCommitteeActionItem", "recordTrainingAttendance"),
}
REVIEWED_FIELDS["Mutation"] |= FORWARDED
REVIEWED_FIELDS |= {"CommandOutcome": {"id", "version", "consistencyToken"}}
REVIEWED_ARGUMENTS |= {f"Mutation.{name}": {"input"} for name in FORWARDED}


# Research surveys (gateway/graphql/surveys.py): worker survey results over groups of 10 and more
# (programme any, a government its country's, a factory its own), manager survey impact for the
# programme and governments; brands none (see test_survey_results_are_read_only_by_those_they_are_for).
RESULTS_BY_FACTORY = ("workerSurveyResults",)
REVIEWED_FIELDS["Query"] |= {"workerSurveyResults", "managerSurveyImpact"}
REVIEWED_FIELDS |= {
    "WorkerSurveyResults": {
        *("questionnaireId", "version", "title", "country", "factoryId", "roundId", "roundsCounted"),
        *("roundsStillOpen", "roundsWithTooFewRespondents", "respondents", "questions"),
    },
    "SurveyQuestionResult": {"questionId", "text", "type", "total", "bySex", "byAgeBand", "byRole"},
    "SurveyGroup": {"group", "figures"},
    "SurveyCell": {"respondents", "withheld", "withheldReason", "distribution", "mean", "median"},
    "SurveyAnswerCount": {"answer", "respondents", "share"},
    "ManagerSurveyImpact": {"country", "sales", "productionCapacity", "employment"},
    "ImpactFigure": {
        *("measure", "factories", "factoriesIncreased", "shareIncreased", "medianChange", "suppressed", "leftOut")
    },
    "FactoriesLeftOut": {"reason", "factories", "factoryIds"},
}
REVIEWED_ARGUMENTS |= {
    "Query.workerSurveyResults": {"questionnaireId", "version", "country", "factoryId", "roundId"},
    "Query.managerSurveyImpact": {"country"},
}
# Subscriptions: what each caller is told, and that a revocation stops it, is proven event by event
# in test_subscriptions.py; here, who is refused before anything is delivered.
REVIEWED_FIELDS |= {
    "Subscription": {"assessmentReportPublished", "zeroToleranceAlertRaised", "factoryHistory"},
    "PublishedReport": {"factoryId", "report"},
}
REVIEWED_ARGUMENTS |= {
    "Subscription.assessmentReportPublished": {"factoryId"},
    "Subscription.zeroToleranceAlertRaised": {"country"},
    "Subscription.factoryHistory": {"factoryId"},
}
GOVERNMENTS = frozenset({"government KH", "government VN"})
SUBSCRIPTIONS = {  # each subscription: a query, and who is refused it at once
    "assessmentReportPublished": (
        "subscription { assessmentReportPublished { factoryId report { id } } }",
        GOVERNMENTS,
    ),
    "zeroToleranceAlertRaised": (
        "subscription { zeroToleranceAlertRaised { factoryId issue } }",
        SIGNED_IN - {"programme"},
    ),
    "factoryHistory": ('subscription { factoryHistory(factoryId: "%s") { type summary } }', GOVERNMENTS),
}
EVERYTHING_OF_AN_ASSESSMENT = """id assessmentId factoryId country toolVersion status cycle plannedDate assessors
  startedOn submittedAt approvedAt reviewer reviewComments publishedOn previousAssessmentId
  findings(first: 100) { totalCount pageInfo { hasNextPage endCursor } edges { cursor } nodes { assessmentId
    questionId compliancePointId clusterId result evidence attachments { filename contentType sizeBytes sha256 }
    zeroToleranceIssue recurring } }"""
EVERY_ASSESSMENT = f"""{{ assessments(first: 100) {{ totalCount nodes {{ {EVERYTHING_OF_AN_ASSESSMENT} }} }}
  findings(first: 100, result: NON_COMPLIANT) {{ totalCount nodes {{ assessmentId questionId evidence }} }}
  factories(first: 100) {{ nodes {{ factoryId assessments {{ nodes {{ {EVERYTHING_OF_AN_ASSESSMENT} }} }} }} }} }}"""
EVERYTHING_OF_A_FACTORY = """globalId: id id: factoryId name localName country address sector enrollment
  workforce { total women men }
  assessmentReports { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor } nodes { id publishedOn toolVersion recurringQuestions
    compliancePoints { compliancePointId clusterId nonCompliant nonCompliantQuestions remediation }
    clusters { clusterId compliancePointsAssessed compliancePointsNonCompliant nonComplianceRate } } }
  history(first: 100) { totalCount nodes { time service type summary } }"""
EVERY_FACTORY = f"{{ factories(first: 100) {{ totalCount nodes {{ {EVERYTHING_OF_A_FACTORY} }} }} }}"


async def test_the_schema_has_only_the_fields_whose_access_is_reviewed_here(world: World) -> None:
    schema = (await world.graphql(INTROSPECTION, PROGRAMME)).json()["data"]["__schema"]
    assert schema["mutationType"] == {"name": "Mutation"} and schema["subscriptionType"] == {"name": "Subscription"}
    assert set(SUBSCRIPTIONS) == REVIEWED_FIELDS["Subscription"]
    objects = {t["name"]: {f["name"] for f in t["fields"]} for t in schema["types"] if t["kind"] == "OBJECT"}
    ours = {name: fields for name, fields in objects.items() if not name.startswith("__")}
    assert ours == REVIEWED_FIELDS, "a new type or field: decide who may read it, and test it here"
    arguments = {
        f"{t['name']}.{f['name']}": {a["name"] for a in f["args"]}
        for t in schema["types"]
        if t["kind"] == "OBJECT" and not t["name"].startswith("__")
        for f in t["fields"]
        if f["args"]
    }
    assert arguments == REVIEWED_ARGUMENTS, "a new argument: decide what it may reach, and test it here"
    assert {f for f, args in arguments.items() if f.startswith("Query.") and "factoryId" in args} == {
        f"Query.{name}" for name in LISTS_BY_FACTORY + RESULTS_BY_FACTORY
    }


@pytest.mark.parametrize("field", LISTS_BY_FACTORY)
async def test_a_factory_out_of_reach_answers_every_list_exactly_as_one_that_does_not_exist(
    world: World, field: str
) -> None:
    query = f"query ($id: ID!) {{ {field}(factoryId: $id) {{ totalCount nodes {{ __typename }} }} }}"
    for caller, readable in who_sees(world).items():
        headers = world.callers[caller]
        missing = graphql_answer(await world.graphql(query, headers, {"id": "KH-2026-9999-1"}))
        for factory_id in {world.angkor, world.mekong, world.saigon, world.duplicate} - readable:
            answer = graphql_answer(await world.graphql(query, headers, {"id": factory_id}))
            assert answer == missing, (field, caller, factory_id, answer)


def who_sees(world: World) -> dict[str, set[str]]:
    """The factories each caller may read individually: linked AND consenting for a brand."""
    return {
        "programme": {world.angkor, world.mekong, world.saigon},
        "brand A": {world.angkor},  # Northwind buys from Angkor, which consents
        "brand B": {world.mekong},  # Lotus buys from Angkor too, but only Mekong consents
        "factory X": {world.angkor},
        "factory Y": {world.mekong},
        "merged factory": set(),  # its record lives on as Angkor's, for Angkor's users
    }


async def test_each_caller_reads_through_graphql_only_the_factories_it_may(world: World) -> None:
    ours = {world.angkor, world.mekong, world.saigon}
    for caller, expected in who_sees(world).items():
        headers = world.callers[caller]
        listed = (await world.graphql(EVERY_FACTORY, headers)).json()
        assert {f["id"] for f in listed["data"]["factories"]["nodes"]} & ours == expected, caller
        for factory_id in (world.angkor, world.mekong, world.saigon, world.duplicate, "KH-2026-9999-1"):
            query = f'{{ factory(id: "{factory_id}") {{ {EVERYTHING_OF_A_FACTORY} }} }}'
            found = (await world.graphql(query, headers)).json()["data"]["factory"]
            resolved = world.angkor if factory_id == world.duplicate else factory_id
            assert (found is not None) == (resolved in expected), (caller, factory_id)
            if found is not None:
                reports = {r["id"] for r in found["assessmentReports"]["nodes"]}
                assert reports == ({world.published} if resolved == world.angkor else set()), (caller, factory_id)


async def test_governments_read_only_their_own_countrys_aggregates_and_nothing_individual(world: World) -> None:
    factory = f'{{ factory(id: "{world.angkor}") {{ id }} }}'
    for caller in ("government KH", "government VN"):
        headers = world.callers[caller]
        for query in ("{ factories { nodes { id } } }", factory, '{ factories(country: "KH") { nodes { id name } } }'):
            answer = (await world.graphql(query, headers)).json()
            assert answer["errors"][0]["message"].startswith("government users see country aggregates only"), query
            assert world.angkor not in json.dumps(answer.get("data"))
    summary = '{ countrySummary(country: "%s") { country enrolledFactories workers womenShare suppressed } }'
    own = (await world.graphql(summary % "KH", world.callers["government KH"])).json()["data"]["countrySummary"]
    assert own == {"country": "KH", "enrolledFactories": None, "workers": None, "womenShare": None, "suppressed": True}
    for caller, country in [("government VN", "KH"), ("government KH", "VN"), ("government KH", "kh")]:
        refused = (await world.graphql(summary % country, world.callers[caller])).json()
        assert refused["data"] is None and "only" in refused["errors"][0]["message"], (caller, country)
    for caller in ("brand A", "factory X", "merged factory"):
        refused = (await world.graphql(summary % "KH", world.callers[caller])).json()
        assert refused["data"] is None, caller


async def test_aliases_batching_and_get_queries_do_not_get_round_the_policy(world: World) -> None:
    aliased = " ".join(
        f'f{i}: factory(id: "{factory_id}") {{ factoryId assessmentReports {{ nodes {{ id }} }} }}'
        for i, factory_id in enumerate([world.angkor, world.mekong, world.saigon, world.duplicate] * 10)
    )
    answer = (await world.graphql(f"{{ {aliased} }}", world.callers["brand B"])).json()["data"]
    assert {found["factoryId"] for found in answer.values() if found} == {world.mekong}

    batch = [{"query": "{ factories { nodes { id } } }"}, {"query": '{ countrySummary(country: "KH") { workers } }'}]
    batched = await world.gateway.post("/graphql", json=batch, headers=world.callers["brand A"])
    assert batched.status_code == 400

    for headers in ({}, PROGRAMME):
        by_get = await world.gateway.get(
            "/graphql", params={"query": "{ factories { nodes { id } } }"}, headers=headers
        )
        assert world.angkor not in by_get.text

    variables = await world.graphql(
        "query ($id: ID!) { factory(id: $id) { id } }", world.callers["brand A"], {"id": world.mekong}
    )
    assert variables.json()["data"]["factory"] is None


# --- training: a shared session -----------------------------------------------------------------

HEADCOUNT = "total bySex { female male otherOrUndisclosed } byRole { worker supervisor manager } "
HEADCOUNT += "womenSupervisorsAndManagers"
EVERYTHING_OF_A_SESSION = f"""globalId: id sessionId country course {{ code title catalogueVersion hours }}
  days firstDay lastDay venue trainer status cancellationReason factoryIds
  participants(first: 100) {{ totalCount pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
    edges {{ cursor }} nodes {{ participantId factoryId role sex name daysPresent sessionDays attendanceRate
    preTestScore postTestScore improvement rating comment }} }}
  participation {{ registered {{ {HEADCOUNT} }} attendanceRate tested averagePreTestScore averagePostTestScore
    averageImprovement rated averageRating }}
  delivery {{ hours registered attended {{ {HEADCOUNT} }} completed attendedShare completedShare participantHours
    factories {{ factoryId registered attended {{ {HEADCOUNT} }} attendedShare participantHours }} }}"""
EVERY_SESSION = f"{{ trainingSessions(first: 100) {{ totalCount nodes {{ {EVERYTHING_OF_A_SESSION} }} }} }}"
SESSIONS_OF_A_FACTORY = f"""query ($id: ID!) {{ factory(id: $id) {{ factoryId
  trainingSessions(first: 100) {{ totalCount nodes {{ {EVERYTHING_OF_A_SESSION} }} }} }} }}"""
TRAINING_STATISTICS = f"""query ($country: String!, $year: Int!) {{ trainingStatistics(country: $country, year: $year) {{
  country year total {{ sessionsDelivered factories registered attended {{ {HEADCOUNT} }} completed attendedShare
  completedShare participantHours suppressed }} courses {{ courseCode courseTitle delivered {{ suppressed }} }} }} }}"""
ANGKOR_PEOPLE, MEKONG_PEOPLE = ["AA-S-001"], ["MF-S-101", "MF-S-102", "MF-S-103"]


async def test_each_caller_reads_of_training_only_its_own_people(world: World) -> None:
    """Programme staff every session, whole; a factory the sessions that train its people, and of
    the shared one only its own people and counts; brands and governments no session at all."""

    async def projected() -> bool:
        answer = (await world.graphql(EVERY_SESSION, PROGRAMME)).json()["data"]["trainingSessions"]
        return answer["totalCount"] == 2 and sum(s["participants"]["totalCount"] for s in answer["nodes"]) == 4

    await eventually(projected, what="the gateway projecting the training sessions")
    own = {
        "programme": ({world.shared_session, world.mekong_session}, ANGKOR_PEOPLE + MEKONG_PEOPLE),
        "factory X": ({world.shared_session}, ANGKOR_PEOPLE),
        "factory Y": ({world.shared_session, world.mekong_session}, MEKONG_PEOPLE),
        "merged factory": (set(), []),
    }
    trainer = SST["trainer"]
    mekong_session_id = (await world.graphql(EVERY_SESSION, PROGRAMME)).json()["data"]["trainingSessions"]["nodes"]
    hidden_node = next(s["globalId"] for s in mekong_session_id if s["sessionId"] == world.mekong_session)
    for caller, headers in world.callers.items():
        listed = (await world.graphql(EVERY_SESSION, headers)).json()
        by_factory = [
            (await world.graphql(SESSIONS_OF_A_FACTORY, headers, {"id": factory_id})).json()
            for factory_id in (world.angkor, world.mekong, world.duplicate)
        ]
        node = "query ($id: ID!) { node(id: $id) { id ... on TrainingSession { sessionId } } }"
        by_node = (await world.graphql(node, headers, {"id": hidden_node})).json()
        text = json.dumps([listed, by_factory, by_node])
        if caller not in own:  # brands and governments: refused, and nothing of a session in the answer
            assert listed["data"] is None and listed["errors"][0]["extensions"]["code"] == "FORBIDDEN", caller
            for secret in [world.shared_session, world.mekong_session, *ANGKOR_PEOPLE, *MEKONG_PEOPLE, trainer]:
                assert secret not in text, (caller, secret)
            continue
        sessions, people = own[caller]
        nodes = listed["data"]["trainingSessions"]["nodes"]
        assert {s["sessionId"] for s in nodes} == sessions, caller
        seen_people = [p["participantId"] for s in nodes for p in s["participants"]["nodes"]]
        assert sorted(seen_people) == sorted(people), caller
        registered = sum(s["participation"]["registered"]["total"] for s in nodes)
        assert registered == len(people), caller  # no other factory's counts
        assert (by_node["data"]["node"] is not None) == (world.mekong_session in sessions), caller
        if caller == "programme":
            shared = next(s for s in nodes if s["sessionId"] == world.shared_session)
            assert shared["trainer"] == trainer and set(shared["factoryIds"]) == {world.angkor, world.mekong}
            continue
        # A factory: never a trainer's name, another factory's people, ids or the other session.
        others = {"factory X": [*MEKONG_PEOPLE, world.mekong, world.mekong_session], "factory Y": [*ANGKOR_PEOPLE]}
        for secret in [trainer, *others.get(caller, [*ANGKOR_PEOPLE, *MEKONG_PEOPLE])]:
            assert secret not in text, (caller, secret)
        for answer, factory_id in zip(by_factory, (world.angkor, world.mekong, world.duplicate), strict=True):
            found = answer["data"]["factory"]
            if found is not None:
                assert {s["sessionId"] for s in found["trainingSessions"]["nodes"]} <= sessions, (caller, factory_id)
        for secret in (
            world.visit_to_angkor,
            world.visit_to_mekong,
            str(NEXT_VISIT_TO_ANGKOR),
            str(NEXT_VISIT_TO_MEKONG),
        ):
            assert secret not in text, (caller, secret)

    # The country's training in aggregate: the programme and KH's government only.
    for caller, headers in world.callers.items():
        answer = (await world.graphql(TRAINING_STATISTICS, headers, {"country": "KH", "year": TODAY.year})).json()
        if caller in ("programme", "government KH"):
            assert answer["data"]["trainingStatistics"]["total"]["suppressed"] is True, (caller, answer)
            assert answer["data"]["trainingStatistics"]["courses"] == [], caller  # nothing delivered yet
        else:
            assert answer["data"] is None and answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", caller


# --- improvement plans ------------------------------------------------------------------------

ACTION_FIELDS = """id actionId assessmentId factoryId country questionId compliancePointId clusterId what who dueOn
  done overdue addedAt remediationStatus progress { reportedAt done note } factory { factoryId name }"""
REMEDIATION_FIELDS = f"""assessmentId questionId factoryId country compliancePointId clusterId publishedOn status
  remediatedAt remediationNote verifiedAt verifiedBy rejectedAt rejectionReason
  improvementActions {{ {ACTION_FIELDS} }} factory {{ factoryId }}"""
PLANS = f"""{{
  improvementActions(first: 100) {{ totalCount nodes {{ {ACTION_FIELDS} }} }}
  remediations(first: 100) {{ totalCount nodes {{ {REMEDIATION_FIELDS} }} }}
  overdue: improvementActions(country: "KH", overdue: true, today: "2099-01-01") {{ nodes {{ actionId }} }}
  open: remediations(status: [OPEN, REJECTED]) {{ nodes {{ questionId }} }}
}}"""
FACTORY_PLANS = f"""query ($id: ID!) {{ factory(id: $id) {{
  improvementActions(done: false) {{ totalCount nodes {{ {ACTION_FIELDS} }} }}
  remediations(status: [OPEN]) {{ totalCount nodes {{ {REMEDIATION_FIELDS} }} }} }} }}"""


async def test_each_caller_reads_of_improvement_plans_only_what_it_may(world: World) -> None:
    """Angkor's plan for its wages finding, as every caller there is: the programme and Angkor's own
    users read it whole; Northwind (Angkor consents) what is planned, by when and whether it is done,
    without a name; Lotus (no consent), Mekong and the merged record's users nothing; governments are
    refused."""

    async def programme_sees_the_plan() -> bool:
        answer = (await world.graphql(PLANS, PROGRAMME)).json()["data"]
        nodes = answer["improvementActions"]["nodes"]
        return bool(nodes) and bool(nodes[0]["progress"])

    await eventually(programme_sees_the_plan, what="the gateway projecting Angkor's improvement plan")
    global_id = (await world.graphql(PLANS, PROGRAMME)).json()["data"]["improvementActions"]["nodes"][0]["id"]
    by_id = "query ($id: ID!) { node(id: $id) { ... on ImprovementAction { actionId who } } }"
    staff = ("assessor-sokha", "assessor-dara", "dev-user")  # assessors, the reviewer and the verifier
    secrets = (world.visit_to_angkor, world.visit_to_mekong, str(NEXT_VISIT_TO_ANGKOR), str(NEXT_VISIT_TO_MEKONG))
    reads_angkor = {"programme", "brand A", "factory X"}
    for caller, headers in world.callers.items():
        answers = [
            (await world.graphql(PLANS, headers)).json(),
            (await world.graphql(FACTORY_PLANS, headers, {"id": world.angkor})).json(),
            (await world.graphql(by_id, headers, {"id": global_id})).json(),
        ]
        text = json.dumps(answers)
        assert not any(secret in text for secret in secrets), caller
        if caller.startswith("government"):
            for answer in answers:
                assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", (caller, answer)
                assert not answer["data"] or not any(answer["data"].values()), (caller, answer)
            assert world.action not in text and "HR manager" not in text and "arrears" not in text, caller
            continue
        listed, nested, found = (answer["data"] for answer in answers)
        assert all("errors" not in answer for answer in answers), (caller, answers)
        actions = listed["improvementActions"]["nodes"]
        if caller not in reads_angkor:
            assert actions == [] and listed["remediations"]["nodes"] == [], caller
            assert listed["overdue"]["nodes"] == [] and listed["open"]["nodes"] == [], caller
            assert nested == {"factory": None} and found == {"node": None}, caller
            assert world.action not in text and "HR manager" not in text and "arrears" not in text, caller
            continue
        [action] = actions
        assert (action["actionId"], action["factoryId"], action["questionId"]) == (world.action, world.angkor, WAGES)
        assert action["what"] == "pay the arrears of line 14" and action["dueOn"] == str(TODAY + dt.timedelta(days=20))
        assert action["done"] is False and action["overdue"] is False and action["remediationStatus"] == "OPEN"
        assert [p["done"] for p in action["progress"]] == [False]
        assert [a["actionId"] for a in listed["overdue"]["nodes"]] == [world.action]  # by 2099 it is
        assert [r["questionId"] for r in listed["open"]["nodes"]] == [WAGES]
        [remediation] = listed["remediations"]["nodes"]
        assert (remediation["status"], remediation["compliancePointId"]) == ("OPEN", "compensation.minimum-wages")
        assert [a["actionId"] for a in remediation["improvementActions"]] == [world.action]
        assert [a["actionId"] for a in nested["factory"]["improvementActions"]["nodes"]] == [world.action]
        assert found["node"]["actionId"] == world.action
        if caller == "brand A":
            assert "HR manager" not in text and PROGRESS_NOTE not in text, caller
            assert action["who"] is None and found["node"]["who"] is None
            assert action["progress"][0]["note"] is None
        else:
            assert action["who"] == found["node"]["who"] == "HR manager", caller
            assert action["progress"][0]["note"] == PROGRESS_NOTE, caller
        if caller != "programme":
            assert not any(name in text for name in staff), caller


# --- history and aggregates -------------------------------------------------------------------

HISTORY = (
    "query ($id: ID!) { factory(id: $id) { history(first: 100) { totalCount nodes { time service type summary } } } }"
)
# Names of people and planned dates: in no summary of any history, whoever reads it.
NEVER_IN_A_SUMMARY = [
    "assessor-sokha",
    "assessor-dara",
    "Pich Sopheap",
    *(p["name"] for p in (SREYMOM, SOPHEA, RITHY, DARA)),
    "payslips",
    str(NEXT_VISIT_TO_ANGKOR),
    str(NEXT_VISIT_TO_MEKONG),
    *SST["days"],
]
PUBLISHED_IN_HISTORY = {
    "org.betterwork.assessment.completed.v1",
    "org.betterwork.assessment.public-report-published.v1",
    "org.betterwork.assessment.public-response-recorded.v1",
    "org.betterwork.assessment.finding-remediated.v1",
    "org.betterwork.assessment.remediation-verified.v1",
    "org.betterwork.assessment.remediation-rejected.v1",
}
# Of an assessment, a factory reads its published report and after, and its own improvement plan.
ITS_IMPROVEMENT_PLAN = {
    "org.betterwork.assessment.improvement-action-added.v1",
    "org.betterwork.assessment.improvement-progress-reported.v1",
}


async def history_of(world: World, caller: str, factory_id: str) -> dict[str, Any]:
    return (await world.graphql(HISTORY, world.callers[caller], {"id": factory_id})).json()


async def test_each_caller_reads_only_the_history_it_may(world: World) -> None:
    async def projected() -> bool:
        def types(factory_id: str, answer: dict[str, Any]) -> list[str]:
            return [e["type"] for e in answer["data"]["factory"]["history"]["nodes"]]

        angkor = types(world.angkor, await history_of(world, "programme", world.angkor))
        mekong = types(world.mekong, await history_of(world, "programme", world.mekong))
        registered = "org.betterwork.training.participant-registered.v1"
        return "org.betterwork.committee.meeting-recorded.v1" in angkor and mekong.count(registered) == 3

    await eventually(projected, what="the committee and the trainings in the histories")
    for caller, readable in who_sees(world).items():
        for factory_id in (world.angkor, world.mekong, world.saigon, world.duplicate):
            answer = await history_of(world, caller, factory_id)
            resolved = world.angkor if factory_id == world.duplicate else factory_id
            found = answer["data"]["factory"]
            assert (found is not None) == (resolved in readable), (caller, factory_id)
            if found is None:
                continue
            text = json.dumps(answer)
            types = {e["type"] for e in found["history"]["nodes"]}
            for secret in NEVER_IN_A_SUMMARY:
                assert secret not in text, (caller, factory_id, secret)
            if caller == "programme":
                assert ("org.betterwork.assessment.scheduled.v1" in types) == (resolved != world.saigon)
                continue
            for secret in (world.visit_to_angkor, world.visit_to_mekong):
                assert secret not in text, (caller, factory_id, secret)
            # A factory knows of the survey rounds it hosted; a worker's response is in no one's history but the programme's.
            its_survey_rounds = {"survey-round-opened", "survey-round-closed", "manager-survey-response-recorded"}
            its_survey_rounds = {f"org.betterwork.assessment.{t}.v1" for t in its_survey_rounds}
            assert not any(
                t.startswith("org.betterwork.assessment.")
                for t in types - PUBLISHED_IN_HISTORY - ITS_IMPROVEMENT_PLAN - its_survey_rounds
            ), (
                caller,
                types,
            )
            if caller.startswith("brand"):
                assert types <= PUBLISHED_IN_HISTORY, (caller, types)
            assert ("org.betterwork.assessment.completed.v1" in types) == (resolved == world.angkor), (caller, types)
    for caller in ("government KH", "government VN"):
        answer = await history_of(world, caller, world.angkor)
        assert answer["data"] == {"factory": None} and answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Of the training Angkor and Mekong share, Mekong's history holds its own people only.
    mekong = (await history_of(world, "factory Y", world.mekong))["data"]["factory"]["history"]["nodes"]
    angkor = (await history_of(world, "factory X", world.angkor))["data"]["factory"]["history"]["nodes"]
    registered = "org.betterwork.training.participant-registered.v1"
    assert [e["type"] for e in mekong].count(registered) == 3 and [e["type"] for e in angkor].count(registered) == 1


COMPLIANCE = (
    '{ countryCompliance(country: "%s") { country clusters { clusterId factories nonComplianceRate suppressed } } }'
)
DASHBOARD = """query ($brandId: ID) { brandDashboard(brandId: $brandId) { brandId countries { country clusters {
  clusterId suppliers { factories nonComplianceRate } country { factories nonComplianceRate suppressed } } } } }"""


async def test_aggregates_are_read_only_by_those_they_are_for(world: World) -> None:
    names = [ANGKOR["name"], MEKONG["name"], SAIGON_STITCH["name"]]
    ids = [world.angkor, world.mekong, world.saigon, world.duplicate]
    may_read_country = {("programme", "KH"), ("programme", "VN"), ("government KH", "KH"), ("government VN", "VN")}
    for caller, headers in world.callers.items():
        for country in ("KH", "VN"):
            answer = (await world.graphql(COMPLIANCE % country, headers)).json()
            if (caller, country) in may_read_country:
                clusters = answer["data"]["countryCompliance"]["clusters"]
                # One published report in Cambodia, none in Viet Nam: nothing to show but withheld cells.
                assert all(c["suppressed"] and c["factories"] is None for c in clusters), (caller, country)
                assert not any(word in json.dumps(answer) for word in names + ids), (caller, country)
            else:
                assert answer["data"] is None and answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    own = {"brand A": world.northwind, "brand B": world.lotus}
    for caller, headers in world.callers.items():
        for brand_id in (None, world.northwind, world.lotus):
            answer = (await world.graphql(DASHBOARD, headers, {"brandId": brand_id} if brand_id else None)).json()
            allowed = (caller == "programme" and brand_id is not None) or (
                caller in own and brand_id in (None, own[caller])
            )
            if not allowed:
                assert answer["data"] is None and answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", (
                    caller,
                    brand_id,
                )
                continue
            dashboard = answer["data"]["brandDashboard"]
            assert dashboard["brandId"] == (brand_id or own[caller])
            # Northwind's one consenting supplier with a report is Angkor; Lotus's (Mekong) has none yet.
            countries = [c["country"] for c in dashboard["countries"]]
            assert countries == (["KH"] if dashboard["brandId"] == world.northwind else []), (caller, brand_id)
            for country in dashboard["countries"]:
                assert all(c["country"]["suppressed"] for c in country["clusters"])  # one report in the country
            assert not any(word in json.dumps(answer) for word in names + ids), (caller, brand_id)


FIGURE = "factories assessments compliancePointsAssessed nonComplianceRate suppressed"
COMPLIANCE_DASHBOARD = f"""query ($country: String!, $brandId: ID, $cycle: Int) {{
  complianceDashboard(country: $country, brandId: $brandId, cycle: $cycle) {{ country cycle year brandId
    total {{ country {{ {FIGURE} }} supplyBase {{ {FIGURE} }} }}
    compliancePoints {{ clusterId compliancePointId country {{ {FIGURE} }} supplyBase {{ {FIGURE} }} }}
    mostFrequentNonCompliances {{ compliancePointId country {{ {FIGURE} }} }}
    recurrence {{ factories recurrenceRate suppressed }} remediation {{ factories findings suppressed }} }} }}"""
COMPLIANCE_TREND = f"""query ($country: String!, $brandId: ID) {{ complianceTrend(country: $country, brandId: $brandId) {{
  cycle year country {{ {FIGURE} }} supplyBase {{ {FIGURE} }} }} }}"""
IMPACT = """query ($country: String!) {
  improvement(country: $country) { factories improvement suppressed leftOut { reason factories factoryIds } }
  complianceShare(country: $country, compliancePoint: "compensation.minimum-wages", minYears: 2) {
    factories compliantShare suppressed leftOut { reason factories factoryIds } }
  complianceByYearsInProgramme(country: $country) { years factories compliantShare suppressed } }"""


async def test_dashboards_and_impact_figures_are_read_only_by_those_they_are_for(world: World) -> None:
    secrets = [ANGKOR["name"], MEKONG["name"], SAIGON_STITCH["name"], world.angkor, world.mekong, world.saigon]
    own_country = {"programme": None, "government KH": "KH", "government VN": "VN"}
    brands = {"brand A": world.northwind, "brand B": world.lotus}

    def refused(answer: dict[str, Any], why: Any) -> None:
        assert answer["data"] is None and answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", why

    async def asked(query: str, caller: str, variables: dict[str, Any]) -> dict[str, Any]:
        return dict((await world.graphql(query, world.callers[caller], variables)).json())

    for caller in world.callers:
        for country in ("KH", "VN"):
            reads_country = caller in own_country and own_country[caller] in (None, country)
            for variables in ({"country": country}, {"country": country, "cycle": 1}):
                answer = await asked(COMPLIANCE_DASHBOARD, caller, variables)
                over_periods = "cycle" in variables
                if caller in brands:
                    dashboard = answer["data"]["complianceDashboard"]
                    assert dashboard["brandId"] == brands[caller], (caller, variables)
                    # Angkor's one report is the country's only one: the country is withheld (or,
                    # over periods, not shown); the brand's own supplier's figures are its own.
                    assert all(c["country"]["factories"] is None for c in dashboard["compliancePoints"])
                    with_report = caller == "brand A" and country == "KH"
                    assert (dashboard["total"]["supplyBase"] is not None) is with_report, (caller, country)
                    if with_report:
                        assert dashboard["total"]["supplyBase"]["factories"] == 1
                    assert not any(word in json.dumps(answer) for word in secrets), (caller, variables)
                    other = brands["brand B" if caller == "brand A" else "brand A"]
                    refused(await asked(COMPLIANCE_DASHBOARD, caller, {**variables, "brandId": other}), caller)
                elif reads_country and (caller == "programme" or not over_periods):
                    dashboard = answer["data"]["complianceDashboard"]
                    if caller != "programme":
                        cells = [dashboard["total"], *dashboard["compliancePoints"]]
                        assert all(c["country"]["factories"] is None for c in cells), (caller, country)
                        assert dashboard["mostFrequentNonCompliances"] == [] and dashboard["recurrence"] == []
                        assert all(c["suppressed"] for c in dashboard["remediation"])
                        assert not any(word in json.dumps(answer) for word in secrets), (caller, variables)
                else:
                    refused(answer, (caller, variables))
            trend = await asked(COMPLIANCE_TREND, caller, {"country": country})
            if caller in brands:
                points = trend["data"]["complianceTrend"]
                assert all(p["country"]["factories"] is None for p in points) and not any(
                    word in json.dumps(trend) for word in secrets
                ), caller
            elif caller != "programme":
                refused(trend, (caller, country))
            impact = await asked(IMPACT, caller, {"country": country})
            if not reads_country:
                refused(impact, (caller, country))
                continue
            left_out = impact["data"]["improvement"]["leftOut"] + impact["data"]["complianceShare"]["leftOut"]
            if caller == "programme" and country == "KH":
                # Angkor has one report: left out of the improvement, by name, for programme staff only.
                assert {"reason": "ONLY_ONE_ASSESSMENT", "factories": 1, "factoryIds": [world.angkor]} in left_out
            if caller != "programme":
                assert all(o["factoryIds"] is None for o in left_out), caller
                assert not any(word in json.dumps(impact) for word in secrets), (caller, country)
                assert impact["data"]["improvement"]["factories"] is None
                assert all(row["suppressed"] for row in impact["data"]["complianceByYearsInProgramme"])


async def test_each_caller_reads_through_graphql_only_the_assessments_and_findings_it_may(world: World) -> None:
    """Programme staff: every assessment, the visits to come with their dates, evidence, alerts.
    A factory and its consenting brands: the published report only (brands without evidence);
    nothing of a visit to come, no staff names, no review. Governments: nothing individual."""
    visits = {world.published, world.visit_to_angkor, world.visit_to_mekong}

    async def programme_sees_all() -> bool:
        data = (await world.graphql(EVERY_ASSESSMENT, PROGRAMME)).json()["data"]
        return {a["assessmentId"] for a in data["assessments"]["nodes"]} >= visits and any(
            a["status"] == "PUBLISHED" and a["findings"]["totalCount"] == len(KH_TOOL.questions)
            for a in data["assessments"]["nodes"]
        )

    await eventually(programme_sees_all, what="the gateway projecting the assessments")
    sees_report = {"programme", "factory X", "brand A"}  # Angkor's report: Angkor, and Northwind, which it consents to
    staff = ("assessor-sokha", "assessor-dara", "dev-user")  # the assessors and the reviewer
    secrets = (world.visit_to_angkor, world.visit_to_mekong, str(NEXT_VISIT_TO_ANGKOR), str(NEXT_VISIT_TO_MEKONG))
    one = f"query ($id: ID!) {{ assessment(id: $id) {{ {EVERYTHING_OF_AN_ASSESSMENT} }} }}"
    alerts = '{ zeroToleranceAlerts(today: "2026-04-02") { totalCount nodes { assessmentId daysWaiting } } }'
    for caller, headers in world.callers.items():
        if caller.startswith("government"):
            for query in (EVERY_ASSESSMENT, one, alerts, "{ findings { totalCount } }"):
                refused = (await world.graphql(query, headers, {"id": world.published})).json()
                assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", (caller, query)
                assert world.published not in json.dumps(refused.get("data")), caller
            continue
        answer = (await world.graphql(EVERY_ASSESSMENT, headers)).json()
        assert "errors" not in answer, (caller, answer)
        data = answer["data"]
        listed = {a["assessmentId"] for a in data["assessments"]["nodes"]}
        nested = {a["assessmentId"] for f in data["factories"]["nodes"] for a in f["assessments"]["nodes"]}
        found = {a for a in visits if (await world.graphql(one, headers, {"id": a})).json()["data"]["assessment"]}
        if caller == "programme":
            assert listed >= visits and nested >= visits and found == visits
            upcoming = (await world.graphql(one, headers, {"id": world.visit_to_angkor})).json()["data"]["assessment"]
            assert upcoming["plannedDate"] == str(NEXT_VISIT_TO_ANGKOR) and upcoming["status"] == "SCHEDULED"
            assert upcoming["assessors"] == ["assessor-sokha", "assessor-dara"]
            assert (await world.graphql(alerts, headers)).json()["data"]["zeroToleranceAlerts"]["totalCount"] == 0
            continue
        expected = {world.published} if caller in sees_report else set()
        assert listed == nested == found == expected, caller
        assert data["assessments"]["totalCount"] == len(expected), caller
        text = json.dumps(data)
        for secret in (*secrets, *staff):
            assert secret not in text, (caller, secret)
        for assessment in data["assessments"]["nodes"]:
            assert assessment["plannedDate"] is None and assessment["assessors"] is None, caller
            assert assessment["reviewer"] is None and assessment["reviewComments"] is None, caller
            assert assessment["cycle"] == 1 and assessment["status"] == "PUBLISHED", caller
        wages = [f for f in data["findings"]["nodes"] if f["questionId"] == WAGES]
        assert [f["assessmentId"] for f in wages] == sorted(expected), caller
        evidence = "payslips of line 14 below the minimum wage"
        assert all(f["evidence"] == (evidence if caller == "factory X" else None) for f in wages), caller
        refused = (await world.graphql(alerts, headers)).json()
        assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", caller


# --- the unannounced visit --------------------------------------------------------------------


async def everything_readable_by(world: World, caller: str) -> list[httpx.Response]:
    """Every read a factory or a brand can make that could mention an assessment."""
    headers = world.callers[caller]
    reads = [
        await world.assessment.get("/assessments", headers=headers),
        await world.assessment.get(f"/assessments?factory_id={world.angkor}", headers=headers),
        await world.assessment.get(f"/assessments/{world.published}", headers=headers),
        await world.assessment.get(f"/transparency/{world.angkor}"),
        await world.assessment.get(f"/transparency/{world.mekong}"),
        await world.assessment.get("/transparency"),
        await world.graphql(EVERY_FACTORY, headers),
        await world.graphql(EVERY_ASSESSMENT, headers),
        *[
            await world.graphql(f'{{ assessment(id: "{a}") {{ {EVERYTHING_OF_AN_ASSESSMENT} }} }}', headers)
            for a in (world.published, world.visit_to_angkor, world.visit_to_mekong)
        ],
        await world.registry.get(f"/factories/{world.angkor}/history", headers=headers),
        await world.registry.get(f"/factories/{world.mekong}/history", headers=headers),
        await world.committee.get(f"/committees/{world.committee_of_angkor}/history", headers=headers),
        await world.training.get("/sessions", headers=headers),
    ]
    return reads


@pytest.mark.parametrize("caller", ["factory X", "factory Y", "brand A", "brand B"])
async def test_no_read_mentions_a_visit_still_to_come(world: World, caller: str) -> None:
    for response in await everything_readable_by(world, caller):
        text = response.text + json.dumps(dict(response.headers))
        for secret in (
            world.visit_to_angkor,
            world.visit_to_mekong,
            str(NEXT_VISIT_TO_ANGKOR),
            str(NEXT_VISIT_TO_MEKONG),
        ):
            assert secret not in text, f"{caller}: {response.request.url} mentions {secret}"


async def test_a_scheduled_visit_answers_a_factory_exactly_like_one_that_never_existed(world: World) -> None:
    """Same status, same words (bar the id), same headers: nothing to tell them apart."""
    never = str(uuid.uuid4())
    for caller in ("factory X", "factory Y"):
        headers = world.callers[caller]
        for suffix, body in [
            ("", None),
            (f"/findings/{WAGES}/actions", {"what": "x", "who": "HR", "due_on": "2027-01-10"}),
            ("/actions/a1b2c3d4e5f6/progress", {"note": "done"}),
            (f"/findings/{WAGES}/remediated", {"note": "done"}),
            ("/public-response", {"response": "We were not told."}),
        ]:
            method = "GET" if body is None else "POST"
            scheduled = await world.assessment.request(
                method, f"/assessments/{world.visit_to_angkor}{suffix}", json=body, headers=headers
            )
            missing = await world.assessment.request(
                method, f"/assessments/{never}{suffix}", json=body, headers=headers
            )
            assert scheduled.status_code == missing.status_code == 404, (caller, suffix)
            assert scheduled.text.replace(world.visit_to_angkor, never) == missing.text
            assert set(scheduled.headers) - {"date"} == set(missing.headers) - {"date"}
    listed = (await world.assessment.get("/assessments", headers=world.callers["factory X"])).json()
    assert [row["id"] for row in listed] == [world.published] and "planned_date" not in listed[0]
    assert (await world.assessment.get("/assessments", headers=world.callers["factory Y"])).json() == []


# --- a factory and its neighbours -------------------------------------------------------------


async def test_a_factory_reaches_nothing_of_another_factory(world: World) -> None:
    mekong = world.callers["factory Y"]
    # Another factory's record does not exist for a factory's users: answered as a missing one.
    for path in [
        f"/factories/{world.angkor}",
        f"/factories/{world.duplicate}",  # merged ids lead nowhere new
        f"/factories/{world.angkor}/history",
    ]:
        response = await world.registry.get(path, headers=mekong)
        assert response.status_code == 404 and response.json() == {"detail": f"no factory {path.split('/')[2]}"}
    for response in [  # the committee service answers it the same way (as main's committee policy does)
        await world.committee.get(f"/factories/{world.angkor}/committees", headers=mekong),
        await world.committee.get(f"/committees/{world.committee_of_angkor}/meetings/{world.meeting}", headers=mekong),
    ]:
        assert response.status_code == 404, response.request.url
    assert (await world.assessment.get(f"/assessments/{world.published}", headers=mekong)).status_code == 404
    # Asking for Angkor's rows by name returns Mekong's own, never Angkor's.
    assert (await world.assessment.get(f"/assessments?factory_id={world.angkor}", headers=mekong)).json() == []
    sessions = (await world.training.get(f"/sessions?factory_id={world.angkor}", headers=mekong)).json()
    assert {s["id"] for s in sessions} == {world.shared_session}  # Mekong is in it too
    # The merged record's own users read nothing of the factory it was merged into.
    merged = world.callers["merged factory"]
    assert (await world.registry.get(f"/factories/{world.duplicate}", headers=merged)).status_code == 404
    assert (await world.graphql(f'{{ factory(id: "{world.duplicate}") {{ id }} }}', merged)).json()["data"] == {
        "factory": None
    }
    assert (
        await world.training.get(SHARED.format(shared_session=world.shared_session), headers=merged)
    ).status_code == 404


async def test_of_a_shared_training_a_factory_sees_only_its_own_people(world: World) -> None:
    session = (await world.training.get(f"/sessions/{world.shared_session}", headers=world.callers["factory X"])).json()
    assert [p["participant_id"] for p in session["participants"]] == ["AA-S-001"]
    assert "MF-S-101" not in json.dumps(session)


async def test_the_version_of_a_shared_session_says_nothing_of_the_other_factorys_people(world: World) -> None:
    seen = await world.training.get(f"/sessions/{world.shared_session}", headers=world.callers["factory X"])
    listed = (await world.training.get("/sessions", headers=world.callers["factory X"])).json()
    own_changes = 1 + len(seen.json()["participants"])  # scheduled, then Angkor's own registrations
    versions = [etag(seen) if "etag" in seen.headers else None, seen.json()["version"]]
    versions += [s["version"] for s in listed if s["id"] == world.shared_session]
    assert all(version is None or version <= own_changes for version in versions), versions


async def test_brands_and_governments_learn_nothing_from_a_committee_id(world: World) -> None:
    existing = f"/committees/{world.committee_of_angkor}"
    missing = f"/committees/{world.mekong}-C7"
    for caller in ("brand A", "government KH"):
        headers = world.callers[caller]
        for suffix, method, body in [
            ("", "GET", None),
            ("/health", "GET", None),
            ("/history", "GET", None),
            (f"/meetings/{world.meeting}", "GET", None),
            ("/meetings", "POST", MEETING),
            (f"/meetings/{world.meeting}/action-items", "POST", ACTION_ITEM),
            (f"/action-items/{world.action_item}/start", "POST", {"note": "started"}),
        ]:
            there = await world.committee.request(method, existing + suffix, json=body, headers=headers)
            not_there = await world.committee.request(method, missing + suffix, json=body, headers=headers)
            assert there.status_code == not_there.status_code == 403, (caller, suffix, not_there.status_code)


async def test_brands_and_governments_learn_nothing_from_an_advisory_plan_id(world: World) -> None:
    existing = f"/advisory-plans/{world.advisory_plan}"
    missing = f"/advisory-plans/{world.mekong}-AP7"
    for caller in ("brand A", "government KH"):
        headers = world.callers[caller]
        for suffix, method, body in [
            ("", "GET", None),
            ("/history", "GET", None),
            (f"/visits/{world.visit_held}", "GET", None),
            (f"/visits/{world.visit_held}/confirmation", "POST", {}),
            (f"/visits/{world.visit_held}/comments", "POST", {"comment": "seen"}),
        ]:
            there = await world.committee.request(method, existing + suffix, json=body, headers=headers)
            not_there = await world.committee.request(method, missing + suffix, json=body, headers=headers)
            assert there.status_code == not_there.status_code == 403, (caller, suffix, not_there.status_code)


EVERYTHING_OF_A_COMMITTEE = """id committeeId factoryId country establishedOn dissolvedOn dissolutionReason status
  composition { members women men womenShare workers { members women men } management { members women men } }
  members { memberId name employeeNumber sex jobTitle side office termStartsOn termEndsOn electionId }
  offices { office holder { memberId name } }
  elections { electionId heldOn seats candidates womenCandidates votesCast elected womenElected contested }
  meetings { totalCount pageInfo { hasNextPage } edges { cursor }
    nodes { meetingId heldOn attendees guests minutes decisions agenda { title references } } }
  meetingRegularity { meetings firstHeldOn lastHeldOn daysSinceLast daysBetweenMeetings averageDaysBetween
    longestDaysBetween perQuarter { quarter meetings } }
  actionItems { totalCount pageInfo { hasNextPage } edges { cursor }
    nodes { actionItemId meetingId description owner dueOn status closedOn outcome overdue } }
  health { name status reason } healthy"""
# What only programme staff and Angkor's own users may read: its members' names and its minutes.
COMMITTEE_SECRETS = (
    "Chan Sreymom",
    "Keo Sophea",
    "Sok Dara",
    "AA-01873",
    MEETING["minutes"],
    ACTION_ITEM["description"],
)


async def test_a_committee_reaches_only_programme_staff_and_its_own_factory(world: World) -> None:
    committee_node = base64.urlsafe_b64encode(f"Committee:{world.committee_of_angkor}".encode()).decode()
    everything = f"""{{
      committees(first: 100) {{ totalCount nodes {{ {EVERYTHING_OF_A_COMMITTEE} }} }}
      committee(id: "{world.committee_of_angkor}") {{ {EVERYTHING_OF_A_COMMITTEE} }}
      node(id: "{committee_node}") {{ id ... on Committee {{ members {{ name }} }} }}
      angkor: factory(id: "{world.angkor}") {{ factoryId committee {{ {EVERYTHING_OF_A_COMMITTEE} }}
        committees {{ totalCount nodes {{ committeeId members {{ name }} }} }} }}
      merged: factory(id: "{world.duplicate}") {{ factoryId committee {{ committeeId members {{ name }} }} }}
    }}"""
    statistics = '{ committeeStatistics(country: "%s") { country factoriesWithACommittee active meetingRegularly '
    statistics += "workersSideWomenShare healthy suppressed "
    statistics += "meetingsByQuarter { quarter committees meetings meetingsPerCommittee suppressed } } }"

    async def projected() -> bool:
        data = (await world.graphql(everything, PROGRAMME)).json()["data"]
        found = data and data["committee"]
        return bool(found and found["meetings"]["nodes"] and found["actionItems"]["nodes"] and found["members"])

    await eventually(projected, within=60, what="the gateway projecting Angkor's committee")
    for caller, headers in world.callers.items():
        answer = (await world.graphql(everything, headers)).json()
        text = json.dumps(answer)
        for secret in (world.visit_to_angkor, world.visit_to_mekong, str(NEXT_VISIT_TO_ANGKOR), "Heng Rithy"):
            assert secret not in text, (caller, secret)  # nor the losing candidate's name, to anyone
        if caller in ("programme", "factory X"):
            assert "errors" not in answer, (caller, answer.get("errors"))
            data = answer["data"]
            assert [c["committeeId"] for c in data["committees"]["nodes"]] == [world.committee_of_angkor], caller
            assert data["committee"]["committeeId"] == world.committee_of_angkor
            assert data["node"]["id"] == committee_node
            assert [m["name"] for m in data["committee"]["members"]] == ["Chan Sreymom", "Keo Sophea", "Sok Dara"]
            assert data["angkor"]["committee"]["meetings"]["nodes"][0]["minutes"] == MEETING["minutes"]
            assert [i["actionItemId"] for i in data["committee"]["actionItems"]["nodes"]] == [world.action_item]
            assert all(secret in text for secret in COMMITTEE_SECRETS), caller
            assert data["merged"] is None or data["merged"]["committee"]["committeeId"] == world.committee_of_angkor
            continue
        assert not any(secret in text for secret in COMMITTEE_SECRETS), caller
        assert world.committee_of_angkor not in text, caller
        data = answer.get("data") or {}
        if caller in ("factory Y", "merged factory"):
            # Another factory's committee does not exist for it: no error, nothing listed.
            assert "errors" not in answer, (caller, answer.get("errors"))
            assert data["committees"] == {"totalCount": 0, "nodes": []}, caller
            assert data["committee"] is None and data["node"] is None and data["angkor"] is None, caller
            assert data["merged"] is None, caller
        else:  # brands and governments: refused before any lookup
            codes = {e["extensions"]["code"] for e in answer["errors"]}
            assert codes == {"FORBIDDEN"}, (caller, answer["errors"])
            assert data.get("committee") is None and data.get("node") is None, caller
            angkor = data.get("angkor")
            assert angkor is None or (angkor["committee"] is None and angkor["committees"] is None), caller
            assert angkor is None or caller == "brand A", caller  # Angkor consents to Northwind only

    # Country statistics: programme staff and the country's own government; one Cambodian
    # committee is a cell far too small to show.
    suppressed = {
        "country": "KH",
        "factoriesWithACommittee": None,
        "active": None,
        "meetingRegularly": None,
        "workersSideWomenShare": None,
        "healthy": None,
        "suppressed": True,
    }
    for caller, headers in world.callers.items():
        answer = (await world.graphql(statistics % "KH", headers)).json()
        if caller in ("programme", "government KH"):
            figures = answer["data"]["committeeStatistics"]
            quarters = figures.pop("meetingsByQuarter")
            assert figures == suppressed, caller
            assert quarters and all(
                q
                == {"quarter": q["quarter"], "committees": None, "meetings": None, "meetingsPerCommittee": None}
                | {"suppressed": True}
                for q in quarters
            ), caller
        else:
            assert answer["data"] is None and answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", caller


EVERYTHING_OF_A_PLAN = """id planId factoryId country cycle startsOn endsOn servicePackage visitsIncluded
  visitsPromised advisor priorityClusters { clusterId priorities }
  priorities { priorityId topic { topic clusterId name } description links }
  visits { totalCount nodes { visitId status plannedOn plannedFor remote plannedTopics { topic } heldOn advisor
    participation { management unionRepresentatives committeeMembers { side sex count } }
    topicsWorked { topic { topic } priorityId note } notes calledOffOn calledOffReason
    confirmation { on comment } comments { on comment } } }
  commitments { totalCount nodes { commitmentId visitId description topic { topic } priorityId dueOn status overdue
    followUps { visitId status note dueOn } } }"""
# What only programme staff and Angkor's own users may read of its advisory plan.
ADVISORY_SECRETS = (
    "Pich Sopheap",
    VISIT_HELD["notes"],
    "Pay the arrears of line 14",  # the commitment made at the visit held
    "Pay line 14 at least the minimum wage",  # the plan's priority
    str(TODAY + dt.timedelta(days=30)),  # the visit to come
)


async def test_an_advisory_plan_reaches_each_caller_as_far_as_it_may(world: World) -> None:
    plan_node = base64.urlsafe_b64encode(f"AdvisoryPlan:{world.advisory_plan}".encode()).decode()
    everything = f"""query ($factory: ID!) {{
      advisoryPlans(first: 100) {{ totalCount nodes {{ {EVERYTHING_OF_A_PLAN} }} }}
      node(id: "{plan_node}") {{ id ... on AdvisoryPlan {{ planId advisor }} }}
      angkor: factory(id: $factory) {{ factoryId advisoryPlans {{ totalCount nodes {{ {EVERYTHING_OF_A_PLAN} }} }} }}
    }}"""
    statistics = '{ advisoryStatistics(country: "%s") { country factoriesInAdvisory plans visitsHeld suppressed } }'

    async def projected() -> bool:
        data = (await world.graphql(everything, PROGRAMME, {"factory": world.angkor})).json()["data"]
        plans = data and data["advisoryPlans"]["nodes"]
        return bool(plans and plans[0]["visits"]["totalCount"] == 2 and plans[0]["commitments"]["totalCount"] == 1)

    await eventually(projected, within=60, what="the gateway projecting Angkor's advisory plan")
    missing = {"factory": "KH-2026-9999-1"}
    for caller, headers in world.callers.items():
        answer = graphql_answer(await world.graphql(everything, headers, {"factory": world.angkor}))
        text = json.dumps(answer)
        # Nobody reads a participant's name through advisory services, nor an unannounced visit's date.
        for secret in ("Sok Dara", world.visit_to_angkor, world.visit_to_mekong, str(NEXT_VISIT_TO_ANGKOR)):
            assert secret not in text, (caller, secret)
        data = answer.get("data") or {}
        if caller in ("programme", "factory X"):
            assert "errors" not in answer, (caller, answer.get("errors"))
            assert all(secret in text for secret in ADVISORY_SECRETS), caller
            (plan,) = data["advisoryPlans"]["nodes"]
            assert data["angkor"]["advisoryPlans"]["nodes"] == [plan], caller
            assert plan["planId"] == world.advisory_plan and plan["advisor"] == "Pich Sopheap", caller
            assert [(v["visitId"], v["status"]) for v in plan["visits"]["nodes"]] == [
                (world.visit_held, "HELD"),
                (world.visit_to_come, "PLANNED"),
            ], caller
            held = plan["visits"]["nodes"][0]
            assert held["notes"] == VISIT_HELD["notes"] and held["participation"]["management"] == 1, caller
            assert held["participation"]["committeeMembers"][0]["count"] == 1, caller
            assert data["node"] == {"id": plan_node, "planId": world.advisory_plan, "advisor": "Pich Sopheap"}
            continue
        assert not any(secret in text for secret in ADVISORY_SECRETS), caller
        if caller == "brand A":  # Angkor consents to Northwind: in advisory, and its priorities by cluster
            assert "errors" not in answer, (caller, answer.get("errors"))
            (plan,) = data["advisoryPlans"]["nodes"]
            assert data["angkor"]["advisoryPlans"]["nodes"] == [plan]
            assert plan["planId"] == world.advisory_plan and plan["cycle"] == 1
            assert plan["priorityClusters"] == [{"clusterId": "compensation", "priorities": 1}]
            hidden = ("servicePackage", "visitsIncluded", "visitsPromised", "advisor", "priorities", "visits")
            assert all(plan[name] is None for name in (*hidden, "commitments")), plan
            assert data["node"] == {"id": plan_node, "planId": world.advisory_plan, "advisor": None}
        elif caller in ("brand B", "factory Y", "merged factory"):  # nothing, exactly as for no plan at all
            assert world.advisory_plan not in text, caller
            assert answer == graphql_answer(await world.graphql(everything, headers, missing)), caller
            assert data == {"advisoryPlans": {"totalCount": 0, "nodes": []}, "node": None, "angkor": None}, caller
        else:  # governments: no plan, ever
            assert world.advisory_plan not in text, caller
            assert {e["extensions"]["code"] for e in answer["errors"]} == {"FORBIDDEN"}, caller

    # Country statistics: programme staff and the country's own government; one Cambodian factory
    # in advisory is a cell far too small to show.
    suppressed = {"country": "KH", "factoriesInAdvisory": None, "plans": None, "visitsHeld": None, "suppressed": True}
    for caller, headers in world.callers.items():
        answer = (await world.graphql(statistics % "KH", headers)).json()
        if caller in ("programme", "government KH"):
            assert answer["data"]["advisoryStatistics"] == suppressed, caller
        else:
            assert answer["data"] is None and answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", caller


# --- bad input: never a 500, never an internal in the answer ----------------------------------

INTERNALS = ("SQL", "SELECT", "INSERT", "sqlalchemy", "asyncpg", "Traceback", "postgresql")


async def test_a_nul_character_is_a_422_not_a_500(world: World) -> None:
    for client, path in [
        (world.registry, "/factories/%00"),
        (world.registry, "/factories/%00/history"),
        (world.assessment, "/assessments/%00"),
        (world.assessment, "/assessments?factory_id=%00"),
        (world.committee, "/committees/%00"),
        (world.committee, "/factories/%00/committees"),
        (world.training, "/sessions/%00"),
        (world.training, "/sessions?factory_id=%00"),
    ]:
        response = await client.get(path, headers=PROGRAMME)
        assert response.status_code == 422, f"{path}: {response.status_code}"
        assert not any(word in response.text for word in INTERNALS), response.text
    angkor = world.callers["factory X"]
    for response in [
        await world.registry.patch(
            f"/factories/{world.angkor}",
            json={"local_name": "Angkor\u0000"},
            headers=await as_read_now(world.registry, f"/factories/{world.angkor}", angkor),
        ),
        await world.committee.post(
            f"{PICC.format(committee_of_angkor=world.committee_of_angkor)}/meetings",
            json=MEETING | {"minutes": "exit\u0000"},
            headers=angkor,
        ),
        await world.assessment.post(
            f"/assessments/{world.published}/public-response", json={"response": "paid\u0000"}, headers=angkor
        ),
    ]:
        assert response.status_code == 422, f"{response.request.url}: {response.status_code}"


async def test_graphql_errors_tell_nothing_of_the_database(world: World) -> None:
    for query, caller in [
        ('{ factory(id: "\\u0000") { id } }', "brand A"),
        ('{ factories(country: "\\u0000") { nodes { id } } }', "factory X"),
        ('{ countrySummary(country: "\\u0000") { workers } }', "programme"),
    ]:
        answer = (await world.graphql(query, world.callers[caller])).json()
        messages = " ".join(error["message"] for error in answer.get("errors", []))
        assert not any(word in messages for word in INTERNALS), messages
    # The policy's own refusals still say why.
    refused = (await world.graphql("{ factories { nodes { id } } }", world.callers["government KH"])).json()
    assert refused["errors"][0]["message"].startswith("government users see country aggregates only")


async def test_an_impossible_workforce_is_refused_rather_than_poisoning_the_read_models(world: World) -> None:
    workforce = {"total": 3_000_000_000, "women": 2_000_000_000, "men": 1_000_000_000}
    mekong = await as_read_now(world.registry, f"/factories/{world.mekong}", world.callers["factory Y"])
    response = await world.registry.patch(f"/factories/{world.mekong}", json={"workforce": workforce}, headers=mekong)
    assert response.status_code == 422, response.text
    imported = await world.registry.post(
        "/factories/imports?dry_run=true",
        content="name,country,address,workers_total\nBavet Shoes Ltd.,KH,Bavet,3000000000\n",
        headers=PROGRAMME | {"content-type": "text/csv"},
    )
    assert imported.status_code == 422 and imported.json()["rows"][0]["outcome"] == "invalid"


async def test_an_oversized_csv_field_is_a_422(world: World) -> None:
    csv = "name,country,address\n" + "Angkor " * 30_000 + ",KH,Phnom Penh\n"
    response = await world.registry.post(
        "/factories/imports?dry_run=true", content=csv, headers=PROGRAMME | {"content-type": "text/csv"}
    )
    assert response.status_code == 422, response.status_code


async def test_an_enormous_body_is_refused_whoever_sends_it(world: World) -> None:
    enormous = {"name": "A" * (12 * 1024 * 1024), "country": "KH", "address": "Phnom Penh"}
    for client, path in [
        (world.registry, "/factories"),
        (world.assessment, "/assessments"),
        (world.committee, "/committees"),
        (world.training, "/sessions"),
    ]:
        response = await client.post(path, json=enormous)
        assert response.status_code == 413, f"{path}: {response.status_code}"


@pytest.mark.parametrize("caller", sorted(SIGNED_IN))
async def test_each_subscription_is_refused_at_once_to_whoever_may_not_read_what_it_tells(
    world: World, caller: str
) -> None:
    url = str(world.gateway.base_url).replace("http://", "ws://", 1).rstrip("/") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": world.callers[caller]}))
        assert json.loads(await ws.recv()) == {"type": "connection_ack"}
        for n, (name, (query, refused)) in enumerate(SUBSCRIPTIONS.items()):
            subscribe = {"query": query.replace("%s", world.angkor)}
            await ws.send(json.dumps({"id": str(n), "type": "subscribe", "payload": subscribe}))
            if caller in refused:
                told = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert told["id"] == str(n) and told["payload"]["data"] is None, told
                assert told["payload"]["errors"][0]["extensions"] == {"code": "FORBIDDEN"}, f"{name}: {told}"
                assert json.loads(await ws.recv()) == {"id": str(n), "type": "complete"}
        told_now: list[dict[str, Any]] = []
        with contextlib.suppress(TimeoutError):  # the gateway may still be projecting the world
            while True:
                told_now.append(json.loads(await asyncio.wait_for(ws.recv(), 1.0))["payload"]["data"])
    # Whatever it was told, the caller's own query reads.
    query = f"""{{ factory(id: "{world.angkor}") {{ history(first: 100) {{ nodes {{ type summary }} }}
      assessmentReports {{ nodes {{ id }} }} }} }}"""
    readable = (await world.graphql(query, world.callers[caller])).json().get("data") or {}
    angkor = readable.get("factory") or {"history": {"nodes": []}, "assessmentReports": {"nodes": []}}
    for data in told_now:
        if "factoryHistory" in data:
            assert data["factoryHistory"] in angkor["history"]["nodes"], f"{caller} told {data}"
        elif "assessmentReportPublished" in data:
            report = data["assessmentReportPublished"]
            assert report["factoryId"] == world.angkor and report["report"] in angkor["assessmentReports"]["nodes"]
        else:
            raise AssertionError(f"{caller} told {data}")


async def test_the_gateway_websocket_answers_without_crashing(world: World) -> None:
    sent: list[dict[str, Any]] = []
    incoming = iter([{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}])

    async def receive() -> dict[str, Any]:
        return next(incoming)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    token = world.callers["brand A"]["Authorization"].encode()
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"authorization", token), (b"sec-websocket-protocol", b"graphql-transport-ws")],
        "subprotocols": ["graphql-transport-ws"],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    await world.apps["gateway"](scope, receive, send)
    # Accepted, and nothing said before connection_init: a token in a header is not how one connects.
    assert sent == [{"type": "websocket.accept", "subprotocol": "graphql-transport-ws", "headers": []}], sent


async def test_readiness_tells_nothing_of_the_database(create_database) -> None:
    url = (await create_database("factory-registry")).rsplit("/", 1)[0] + "/registry_secret_db_name"
    app = create_registry(RegistrySettings(database_url=url, run_background_tasks=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry") as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    assert "registry_secret_db_name" not in response.text and "postgres" not in response.text, response.text


@pytest.mark.parametrize("service", list(TABLES))
async def test_no_token_is_401_whatever_the_body(world: World, service: str) -> None:
    """An anonymous caller learns nothing of a route's body from a validation error."""
    client: httpx.AsyncClient = getattr(world, service)
    wrong = []
    for probes_of_route in TABLES[service].values():
        for probe in probes_of_route:
            if (probe.json is None and probe.csv is None) or "public" in probe.may:
                continue
            url = probe.url(world)
            response = await client.request(
                probe.method, url, content=b"{not json", headers={"content-type": "application/json"}
            )
            if response.status_code != 401:
                wrong.append(f"{probe.method} {url}: {response.status_code}")
    assert wrong == []


# Ids no route should choke on: traversal, injection, encodings, and a name too long for any file.
WEIRD_IDS = ["..", "%2e%2e", "' OR '1'='1", "%0A", "%C0%AE", "%FF", "😀", "null", "-1", "A" * 2000]


@pytest.mark.parametrize("service", list(TABLES))
async def test_no_id_however_strange_makes_a_route_fail(world: World, service: str) -> None:
    client: httpx.AsyncClient = getattr(world, service)
    failed: list[str] = []
    for (method, route), probes_of_route in TABLES[service].items():
        if "{" not in route or not probes_of_route:
            continue
        for weird in WEIRD_IDS:
            path = re.sub(r"\{[a-z_]+\}", weird.replace("\\", "\\\\"), route)  # every id at once: nothing exists
            example = probes_of_route[0]
            strange = Probe(method, path.replace("{", "{{").replace("}", "}}"), example.may, example.json, example.csv)
            response = await strange.send(client, world, PROGRAMME)
            if response.status_code >= 500 or any(word in response.text for word in INTERNALS):
                failed.append(f"{method} {path[:80]}: {response.status_code} {response.text[:80]}")
    assert failed == []


async def test_a_deeply_nested_graphql_body_is_a_400(world: World) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    response = await world.gateway.post(
        "/graphql", content=nested, headers=world.callers["brand A"] | {"content-type": "application/json"}
    )
    assert response.status_code == 400


async def test_a_query_of_thousands_of_aliases_is_refused(world: World) -> None:
    aliases = " ".join(f"supplier{i}: factories {{ nodes {{ id name }} }}" for i in range(1000))
    answer = (await world.graphql(f"{{ {aliases} }}", world.callers["brand A"])).json()
    assert answer.get("errors") and not answer.get("data"), str(answer)[:200]
    # An ordinary query of a portal still runs.
    ordinary = (await world.graphql(EVERY_FACTORY, world.callers["brand A"])).json()
    assert "errors" not in ordinary


# --- aggregates and consent over time ---------------------------------------------------------

JORDAN = [
    ("Al Hassan Apparel Co.", "Al Hassan Industrial Estate, Irbid"),
    ("Dulayl Knitwear Ltd.", "Al Dulayl Industrial Park, Zarqa"),
    ("Sahab Garments Co.", "King Abdullah II Ibn Al Hussein Industrial Estate, Sahab"),
    ("Tajamouat Textiles Ltd.", "Al Tajamouat Industrial City, Amman"),
    ("Karak Sportswear Co.", "Karak Qualifying Industrial Zone, Karak"),
]


async def test_a_government_cannot_read_one_factorys_workforce_from_an_aggregate(world: World) -> None:
    for i, (name, address) in enumerate(JORDAN):
        profile = {"name": name, "country": "JO", "address": address, "confirmed_new": True}
        if i == 0:
            profile["workforce"] = {"total": 3120, "women": 2496, "men": 624}
        created = (await world.registry.post("/factories", json=profile, headers=PROGRAMME)).json()
        await world.registry.post(f"/factories/{created['id']}/enrollment/apply", headers=PROGRAMME | if_match(1))
        enrolled = {"service_package": "core", "enrolled_on": "2026-02-01"}
        await world.registry.post(
            f"/factories/{created['id']}/enrollment/enroll", json=enrolled, headers=PROGRAMME | if_match(2)
        )
    summary = '{ countrySummary(country: "JO") { enrolledFactories workers womenShare suppressed } }'

    async def all_enrolled() -> bool:
        answer = (await world.graphql(summary, PROGRAMME)).json()["data"]["countrySummary"]
        return answer["enrolledFactories"] == 5

    await eventually(all_enrolled, what="the gateway counting five Jordanian factories")
    seen = (await world.graphql(summary, bearer(Audience.GOVERNMENT, "JO"))).json()["data"]["countrySummary"]
    assert seen["workers"] is None and seen["womenShare"] is None and seen["suppressed"] is True, seen


async def supplier_of(world: World, brand_id: str, profile: dict[str, Any], consent: bool = True) -> str:
    created = await world.registry.post("/factories", json=profile | {"confirmed_new": True}, headers=PROGRAMME)
    factory_id = created.json()["id"]
    link = {"brand_id": brand_id, "since": "2025-03-01"}
    assert (
        await world.registry.post(f"/factories/{factory_id}/brands", json=link, headers=PROGRAMME | if_match(1))
    ).status_code == 200
    if consent:
        granted = await world.registry.put(
            f"/factories/{factory_id}/consents/{brand_id}", headers=bearer(Audience.FACTORY, factory_id) | if_match(2)
        )
        assert granted.status_code == 200
    return factory_id


async def new_brand(world: World, name: str) -> str:
    body = {"name": name, "kind": "buyer", "partnership": "partner"}
    return (await world.registry.post("/brands", json=body, headers=PROGRAMME)).json()["id"]


async def test_only_the_factory_itself_consents_to_share_its_reports(world: World) -> None:
    harbour = await new_brand(world, "Harbour & Pine Direct")
    svay = await supplier_of(
        world,
        harbour,
        {"name": "Svay Rieng Shoes Ltd.", "country": "KH", "address": "Tai Seng SEZ, Bavet"},
        consent=False,
    )
    granted = await world.registry.put(f"/factories/{svay}/consents/{harbour}", headers=PROGRAMME | if_match(2))
    assert granted.status_code == 403


async def test_a_merge_does_not_undo_a_factorys_revocation(world: World) -> None:
    harbour = await new_brand(world, "Harbour & Pine Trading")
    kampot = await supplier_of(
        world, harbour, {"name": "Kampot Knitwear Ltd.", "country": "KH", "address": "Road 33, Kampot"}
    )
    # Kampot's users take their consent back ...
    revoked = await world.registry.delete(
        f"/factories/{kampot}/consents/{harbour}", headers=bearer(Audience.FACTORY, kampot) | if_match(3)
    )
    assert revoked.status_code == 200
    # ... but an old duplicate record of Kampot, registered by a field office, still carries one.
    old = await supplier_of(
        world, harbour, {"name": "Kampot Knitwear Limited", "country": "KH", "address": "Rd 33, Kampot town"}
    )
    merge = {"into": kampot, "reason": "the same site, registered twice"}
    merged = await world.registry.post(f"/factories/{old}/merge", json=merge, headers=PROGRAMME | if_match(3))
    assert merged.status_code == 200
    survivor = (await world.registry.get(f"/factories/{kampot}", headers=PROGRAMME)).json()
    assert harbour not in survivor["consenting_brands"]


async def test_a_merge_does_not_relink_a_brand_the_factory_stopped_supplying(world: World) -> None:
    harbour = await new_brand(world, "Harbour & Pine Wholesale")
    kep = await supplier_of(world, harbour, {"name": "Kep Seaside Apparel", "country": "KH", "address": "NR33A, Kep"})
    unlinked = await world.registry.delete(
        f"/factories/{kep}/brands/{harbour}?until={TODAY}", headers=PROGRAMME | if_match(3)
    )
    assert unlinked.status_code == 200
    old = await supplier_of(world, harbour, {"name": "Kep Sea Side Apparel", "country": "KH", "address": "NR 33A Kep"})
    merge = {"into": kep, "reason": "the same site, registered twice"}
    merged = await world.registry.post(f"/factories/{old}/merge", json=merge, headers=PROGRAMME | if_match(3))
    assert merged.status_code == 200
    survivor = (await world.registry.get(f"/factories/{kep}", headers=PROGRAMME)).json()
    assert harbour not in survivor["brand_links"]


GOVERNMENT_SUMMARY = '{ countrySummary(country: "VN") { enrolledFactories workers womenShare suppressed } }'
BINH_DUONG = [
    ("Thuan An Garment JSC", "VSIP I, Thuan An, Binh Duong", 2100),
    ("Di An Knitting Co., Ltd.", "Song Than 1 Industrial Park, Di An, Binh Duong", 1750),
    ("Tan Uyen Apparel Co., Ltd.", "Nam Tan Uyen Industrial Park, Binh Duong", 2600),
    ("Ben Cat Footwear Co., Ltd.", "My Phuoc 3 Industrial Park, Ben Cat, Binh Duong", 4800),
]


async def test_a_government_cannot_learn_one_factorys_workforce_from_two_aggregates(world: World) -> None:
    async def enroll(name: str, address: str, workers: int) -> None:
        workforce = {"total": workers, "women": workers * 3 // 4, "men": workers - workers * 3 // 4}
        profile = {"name": name, "country": "VN", "address": address, "workforce": workforce, "confirmed_new": True}
        created = (await world.registry.post("/factories", json=profile, headers=PROGRAMME)).json()
        await world.registry.post(f"/factories/{created['id']}/enrollment/apply", headers=PROGRAMME | if_match(1))
        body = {"service_package": "core", "enrolled_on": "2026-02-01"}
        await world.registry.post(
            f"/factories/{created['id']}/enrollment/enroll", json=body, headers=PROGRAMME | if_match(2)
        )

    async def summary_of(count: int) -> dict[str, Any]:
        async def counted() -> bool:
            answer = (await world.graphql(GOVERNMENT_SUMMARY, PROGRAMME)).json()["data"]["countrySummary"]
            return answer["enrolledFactories"] == count

        await eventually(counted, what=f"the gateway counting {count} Vietnamese factories")
        return (await world.graphql(GOVERNMENT_SUMMARY, world.callers["government VN"])).json()["data"][
            "countrySummary"
        ]

    for name, address, workers in BINH_DUONG:
        await enroll(name, address, workers)
    before = await summary_of(5)  # Saigon Stitch and the four above
    await enroll("Lai Thieu Embroidery Co., Ltd.", "Lai Thieu, Thuan An, Binh Duong", 1333)
    after = await summary_of(6)
    assert before["workers"] is None or after["workers"] is None or after["workers"] - before["workers"] != 1333


async def test_a_brand_reads_nothing_of_a_factory_right_after_it_revokes_consent(world: World) -> None:
    harbour = await new_brand(world, "Harbour & Pine Outlet")
    takeo = await supplier_of(
        world, harbour, {"name": "Takeo Garment Co., Ltd.", "country": "KH", "address": "NR2, Takeo"}
    )
    brand = bearer(Audience.BRAND, harbour)

    async def brand_sees_takeo() -> bool:
        return any(
            f["factoryId"] == takeo
            for f in (await world.graphql("{ factories { nodes { factoryId } } }", brand)).json()["data"]["factories"][
                "nodes"
            ]
        )

    await eventually(brand_sees_takeo, what="the gateway learning of the consent")
    revoked = await world.registry.delete(
        f"/factories/{takeo}/consents/{harbour}", headers=bearer(Audience.FACTORY, takeo) | if_match(3)
    )
    assert revoked.status_code == 200
    assert not await brand_sees_takeo()


async def test_without_the_registrys_word_a_brand_reads_nothing(create_database, kafka: str) -> None:
    """The gateway fails closed: if the registry cannot confirm a brand's consents, the brand gets a 503."""
    settings = GatewaySettings(
        database_url=await create_database("gateway"),
        kafka_bootstrap=kafka,
        topic_prefix=f"t{fixtures.RUN}-closed-{uuid.uuid4().hex[:6]}.",
        registry_url="http://127.0.0.1:9",  # nothing listens there
        run_background_tasks=False,
    )
    query = {"query": "{ factories { nodes { id } } }"}
    async with serve(create_gateway(settings)) as url, httpx.AsyncClient(base_url=url) as gateway:
        as_brand = await gateway.post("/graphql", json=query, headers=bearer(Audience.BRAND, "BR-0001"))
        as_programme = await gateway.post("/graphql", json=query, headers=PROGRAMME)

    assert as_brand.status_code == 503, as_brand.text
    assert "data" not in as_brand.json()
    assert graphql_answer(as_programme) == {"data": {"factories": {"nodes": []}}}


async def test_a_large_import_does_not_stall_the_registry(world: World) -> None:
    rows = "".join(f"Phnom Penh Garment Factory No. {i},KH,Street {i} Chbar Ampov Phnom Penh\n" for i in range(250))

    def health_from_another_thread() -> float:
        # The services run on this test's event loop: a stalled loop must be timed from outside it.
        time.sleep(0.3)  # the registry is matching the rows by now
        started = time.monotonic()
        httpx.get(str(world.registry.base_url.join("/health")), timeout=120)
        return time.monotonic() - started

    health = asyncio.create_task(asyncio.to_thread(health_from_another_thread))
    imported = await world.registry.post(
        "/factories/imports?dry_run=true",
        content="name,country,address\n" + rows,
        headers=PROGRAMME | {"content-type": "text/csv"},
        timeout=120,
    )
    assert imported.status_code == 422  # the rows look like each other
    waited = await health
    assert waited < 1.0, f"/health waited {waited:.1f}s for the import"


FINDINGS_WITH_REMEDIATION = """{ findings(result: NON_COMPLIANT, first: 100) { nodes { assessmentId questionId
  remediation { status remediationNote verifiedBy improvementActions { what who } } } } }"""


async def test_a_finding_leads_to_its_remediation_for_whoever_may_read_both(world: World) -> None:
    """Factory -> assessment -> finding -> remediation: Angkor's wages finding, as each caller."""
    for caller, headers in world.callers.items():
        answer = (await world.graphql(FINDINGS_WITH_REMEDIATION, headers)).json()
        if caller.startswith("government"):
            assert answer["data"] is None and answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", caller
            continue
        wages = [n for n in answer["data"]["findings"]["nodes"] if n["assessmentId"] == world.published]
        if caller not in ("programme", "factory X", "brand A"):
            assert wages == [], caller
            continue
        [finding] = wages
        remediation = finding["remediation"]
        assert finding["questionId"] == WAGES and remediation["status"] == "OPEN", caller
        [action] = remediation["improvementActions"]
        assert action["what"] == "pay the arrears of line 14", caller
        assert (action["who"] == "HR manager") == (caller != "brand A"), caller
        assert remediation["verifiedBy"] is None


BRANDS = "{ brands(first: 100) { totalCount nodes { brandId name suppliers { totalCount nodes { factoryId } } } } }"


async def test_brands_lead_to_their_suppliers_as_far_as_each_caller_may_read(world: World) -> None:
    expected = {
        "programme": {world.northwind: {world.angkor}, world.lotus: {world.angkor, world.mekong}},
        "brand A": {world.northwind: {world.angkor}},
        "brand B": {world.lotus: {world.mekong}},  # Angkor supplies Lotus too, but does not consent
        "factory X": {world.northwind: {world.angkor}, world.lotus: {world.angkor}},
        "factory Y": {world.lotus: {world.mekong}},
        "merged factory": {},
    }
    ours = {world.northwind, world.lotus}
    for caller, brands in expected.items():
        headers = world.callers[caller]
        answer = (await world.graphql(BRANDS, headers)).json()
        seen = {
            b["brandId"]: {f["factoryId"] for f in b["suppliers"]["nodes"]}
            for b in answer["data"]["brands"]["nodes"]
            if b["brandId"] in ours
        }
        assert seen == brands, caller
        for brand_id in ours:
            one = f'{{ brand(id: "{brand_id}") {{ brandId }} }}'
            found = (await world.graphql(one, headers)).json()["data"]["brand"]
            assert (found is not None) == (brand_id in brands), (caller, brand_id)
        missing = graphql_answer(await world.graphql('{ brand(id: "BR-9999") { brandId } }', headers))
        assert missing == {"data": {"brand": None}}
    for caller in ("government KH", "government VN"):
        refused = (await world.graphql(BRANDS, world.callers[caller])).json()
        assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", caller


# --- mutations: each caller the owning service refuses is refused, its words kept -----------------

OUTCOME = "{ id version consistencyToken }"


def mutations(world: World) -> dict[str, tuple[str, dict[str, Any], frozenset[str]]]:
    """Each mutation: its input type, a valid input that reaches the world's records, and who may send it."""
    angkor_meeting = {k: v for k, v in MEETING.items() if k != "action_items"}
    meeting = {
        "committeeId": world.committee_of_angkor,
        "heldOn": angkor_meeting["held_on"],
        "attendees": angkor_meeting["attendees"],
        "agenda": angkor_meeting["agenda"],
        "minutes": angkor_meeting["minutes"],
    }
    item = {
        "committeeId": world.committee_of_angkor,
        "meetingId": world.meeting,
        "description": "Clear the fabric rolls from the stairway",
        "owner": "M-1",
        "dueOn": str(TODAY + dt.timedelta(days=7)),
    }
    finding = {"assessmentId": world.published, "questionId": WAGES}
    return {
        "registerFactory": ("RegisterFactoryInput", {"profile": ANGKOR, "confirmedNew": True}, PROGRAMME_ONLY),
        "updateFactory": (
            "UpdateFactoryInput",
            {"factoryId": world.angkor, "changes": {"name": "A"}, "expectedVersion": 1},
            ANGKOR_ITSELF,
        ),
        "linkBrand": (
            "LinkBrandInput",
            {"factoryId": world.saigon, "brandId": world.northwind, "since": "2025-01-01", "expectedVersion": 1},
            PROGRAMME_ONLY,
        ),
        "grantConsent": (
            "ConsentInput",
            {"factoryId": world.angkor, "brandId": world.lotus, "expectedVersion": 1},
            frozenset({"factory X"}),
        ),
        "revokeConsent": (
            "ConsentInput",
            {"factoryId": world.angkor, "brandId": world.northwind, "expectedVersion": 1},
            ANGKOR_ITSELF,
        ),
        "scheduleAssessment": (
            "ScheduleAssessmentInput",
            {"factoryId": world.angkor, "plannedDate": str(TODAY + dt.timedelta(days=9)), "assessors": ["dara"]},
            PROGRAMME_ONLY,
        ),
        "reportImprovementProgress": (
            "ImprovementProgressInput",
            {"assessmentId": world.published, "actionId": world.action, "note": "arrears paid for May"},
            ANGKOR_ITSELF,
        ),
        "reportRemediation": ("RemediationInput", finding | {"note": "arrears paid"}, ANGKOR_ITSELF),
        "verifyRemediation": ("FindingInput", finding, PROGRAMME_ONLY),
        "rejectRemediation": ("RejectRemediationInput", finding | {"reason": "not paid"}, PROGRAMME_ONLY),
        "recordCommitteeMeeting": ("CommitteeMeetingInput", meeting, ANGKOR_ITSELF),
        "raiseCommitteeActionItem": ("ActionItemInput", item, ANGKOR_ITSELF),
        "recordTrainingAttendance": (
            "TrainingAttendanceInput",
            {"sessionId": world.shared_session, "day": SST["days"][0], "present": ["AA-S-001"]},
            PROGRAMME_ONLY,
        ),
    }


async def versions(world: World) -> dict[str, Any]:
    """What the refused commands would have changed, as the services keep it."""
    paths = [
        (world.registry, f"/factories/{world.angkor}"),
        (world.registry, f"/factories/{world.saigon}"),
        (world.assessment, f"/assessments/{world.published}"),
        (world.committee, f"/committees/{world.committee_of_angkor}"),
        (world.training, f"/sessions/{world.shared_session}"),
    ]
    found = {}
    for client, path in paths:
        response = await client.get(path, headers=PROGRAMME)
        assert response.status_code == 200, response.text
        found[path] = response.json()["version"]
    found["assessments"] = len((await world.assessment.get("/assessments", headers=PROGRAMME)).json())
    return found


@pytest.mark.parametrize("name", sorted(FORWARDED))
async def test_a_mutation_is_refused_to_everyone_its_service_refuses_and_changes_nothing(
    world: World, name: str
) -> None:
    input_type, input, allowed = mutations(world)[name]
    before = await versions(world)
    query = f"mutation ($input: {input_type}!) {{ {name}(input: $input) {OUTCOME} }}"
    for caller in sorted(SIGNED_IN - allowed):
        answer = (await world.graphql(query, world.callers[caller], {"input": input})).json()
        assert answer["data"] is None, f"{caller} could {name}: {answer}"
        [error] = answer["errors"]
        # Refused, in the service's words: forbidden, or (another factory's records) as if missing.
        assert error["extensions"]["code"] in {"FORBIDDEN", "NOT_FOUND"}, (caller, error)
        assert error["extensions"]["status"] in {403, 404} and error["message"], (caller, error)
        if caller.startswith(("brand", "government")):
            assert error["extensions"]["code"] == "FORBIDDEN", (caller, error)
    unauthenticated = await world.gateway.post("/graphql", json={"query": query, "variables": {"input": input}})
    assert unauthenticated.status_code == 401
    assert await versions(world) == before


# --- research surveys -------------------------------------------------------------------------

SURVEY = """query ($country: String, $factoryId: String, $roundId: String) { workerSurveyResults(
  questionnaireId: "worker-wellbeing", version: 1, country: $country, factoryId: $factoryId, roundId: $roundId) {
  roundsCounted roundsWithTooFewRespondents respondents questions { questionId total { respondents withheld
    withheldReason distribution { answer respondents } mean median }
    bySex { group figures { respondents withheld } } byAgeBand { group figures { respondents } }
    byRole { group figures { respondents } } } } }"""
SURVEY_IMPACT = """query ($country: String!) { managerSurveyImpact(country: $country) { country
  sales { factories shareIncreased medianChange suppressed leftOut { reason factories factoryIds } }
  productionCapacity { factories } employment { factories } } }"""


async def test_survey_results_are_read_only_by_those_they_are_for(world: World) -> None:
    """Worker survey results: programme staff any country, factory or round; a government its own
    country's; a factory its own (a round of another's answers as a missing one). Brands nothing.
    Angkor's round had three respondents: every figure is withheld, for everyone, programme staff
    included, and no worker's words ever come back. Manager survey impact: programme and governments."""
    reaches: dict[str, dict[str, str]] = {
        "KH": {"country": "KH"},
        "VN": {"country": "VN"},
        "angkor": {"factoryId": world.angkor},
        "mekong": {"factoryId": world.mekong},
        "round": {"roundId": world.survey_round},
        "no round": {"roundId": "no-such-round"},
    }
    may = {
        "programme": {"KH", "VN", "angkor", "mekong", "round", "no round"},
        "government KH": {"KH"},
        "government VN": {"VN"},
        "factory X": {"angkor", "round", "no round"},
        "factory Y": {"mekong", "round", "no round"},  # Angkor's round: as a missing one
        "merged factory": {"round", "no round"},
    }

    async def projected() -> bool:
        answer = (await world.graphql(SURVEY, PROGRAMME, {"roundId": world.survey_round})).json()["data"]
        return bool(answer and answer["workerSurveyResults"])

    await eventually(projected, what="the gateway projecting the survey round")
    for caller, headers in world.callers.items():
        for name, reach in reaches.items():
            answer = (await world.graphql(SURVEY, headers, reach)).json()
            text = json.dumps(answer)
            assert WORKER_COMMENT not in text and "Pisey" not in text, (caller, name)
            if name not in may.get(caller, set()):
                assert answer["data"] == {"workerSurveyResults": None}, (caller, name)
                assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", (caller, name)
                continue
            found = answer["data"]["workerSurveyResults"]
            own_round = name == "round" and caller in ("programme", "factory X")
            if name == "no round" or (name == "round" and not own_round):
                assert found is None and "errors" not in answer, (caller, name)
                continue
            counted_here = name in ("KH", "angkor", "round")
            assert found["roundsWithTooFewRespondents"] == (1 if counted_here else 0), (caller, name)
            assert found["roundsCounted"] == 0 and found["respondents"] == 0, (caller, name)
            for question in found["questions"]:
                assert question["total"]["withheld"] and question["total"]["respondents"] is None, (caller, name)
                assert question["total"]["distribution"] == [] and question["total"]["mean"] is None
                assert question["bySex"] == question["byAgeBand"] == question["byRole"] == []
    for caller, headers in world.callers.items():
        for country in ("KH", "VN"):
            answer = (await world.graphql(SURVEY_IMPACT, headers, {"country": country})).json()
            if caller == "programme" or caller == f"government {country}":
                impact = answer["data"]["managerSurveyImpact"]
                assert impact["country"] == country and impact["sales"]["leftOut"] == [], caller
                assert impact["sales"]["suppressed"] is (caller != "programme"), caller
            else:
                assert answer["data"] is None and answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", caller


async def export_lines(world: World, headers: dict[str, str], export_id: str) -> list[dict[str, Any]]:
    answer = await world.gateway.get(f"/bulk-exports/{export_id}.jsonl", headers=headers)
    assert answer.status_code == 200, answer.text
    return [json.loads(line) for line in answer.text.splitlines()]


REPORT_LINE = {"factoryId", "id", "publishedOn", "toolVersion", "compliancePoints", "clusters", "recurringQuestions"}


async def test_a_bulk_export_holds_only_what_its_starter_may_read(world: World) -> None:
    ours = {world.angkor, world.mekong, world.saigon, world.duplicate}
    exporters = {"programme", "brand A", "brand B"}
    for caller in sorted(SIGNED_IN - exporters):
        headers = world.callers[caller]
        for kind in ("SUPPLIER_REPORTS", "FACTORIES"):
            refused = (await world.graphql(START_EXPORT, headers, {"kind": kind})).json()
            assert refused["data"] is None, (caller, kind)
            assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", (caller, kind)
        polled = (await world.graphql(POLL_EXPORT, headers, {"id": world.bulk_export})).json()
        assert polled["errors"][0]["extensions"]["code"] == "FORBIDDEN", caller
    for caller in sorted(exporters):
        headers = world.callers[caller]
        factories = await export_lines(world, headers, await exported(world, caller, "FACTORIES"))
        assert {f["factoryId"] for f in factories} & ours == who_sees(world)[caller], caller
        reports = await export_lines(
            world,
            headers,
            world.bulk_export if caller == "brand A" else await exported(world, caller, "SUPPLIER_REPORTS"),
        )
        readable = {world.published} if world.angkor in who_sees(world)[caller] else set()
        assert {r["id"] for r in reports} == readable, caller
        for line in reports:  # a report's results: no evidence, no staff name, no visit to come
            assert set(line) == REPORT_LINE, (caller, sorted(line))
            assert line["factoryId"] == world.angkor
            assert str(NEXT_VISIT_TO_ANGKOR) not in json.dumps(line)
        if caller != "brand A":  # Northwind's own export does not exist for anyone else
            polled = (await world.graphql(POLL_EXPORT, headers, {"id": world.bulk_export})).json()
            assert polled["data"]["bulkExport"] is None, caller
