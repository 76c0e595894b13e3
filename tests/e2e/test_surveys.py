"""Research surveys over HTTP: a questionnaire published in versions, a round opened in an enrolled
factory, worker responses checked against the questionnaire (422 naming what is wrong, nothing
half-written), and no way for anyone to read one worker's answers back."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
from betterwork_events.auth import Audience
from betterwork_events.contracts import surveys as se

from tests.e2e import test_assessment
from tests.e2e.conftest import PROGRAMME, bearer
from tests.e2e.test_assessment import Services
from tests.support import eventually

services = test_assessment.services  # the registry, assessment and gateway fixture of the assessment tests
TODAY = dt.datetime.now(dt.UTC).date()
WELLBEING = {
    "kind": "worker",
    "title": "Worker well-being 2026",
    "questions": [
        {"id": "feels-safe", "text": "I feel safe at work", "type": "scale", "scale_max": 5},
        {"id": "paid-on-time", "text": "Paid on time last month?", "type": "choice", "options": ["yes", "no"]},
        {"id": "overtime-hours", "text": "Overtime hours last week", "type": "number", "minimum": 0, "maximum": 60},
        {"id": "comments", "text": "Anything else?", "type": "text", "required": False},
    ],
}
SOKHA = {"sex": "female", "age_band": "25-34", "role": "worker"}
ANSWERS = {"feels-safe": 4, "paid-on-time": "yes", "overtime-hours": 6, "comments": "The canteen is too small"}


async def open_round(services: Services, factory_id: str, questionnaire: str, version: int = 1) -> dict[str, Any]:
    body = {
        "factory_id": factory_id,
        "questionnaire_id": questionnaire,
        "questionnaire_version": version,
        "opened_on": str(TODAY),
    }
    opened: dict[str, Any] = {}

    async def known() -> bool:
        response = await services.assessment.post("/survey-rounds", json=body, headers=PROGRAMME)
        opened.update(response.json())
        return response.status_code == 201

    await eventually(known, what="the assessment service learning of the enrolled factory")
    return opened


def details(response: httpx.Response) -> str:
    return json.dumps(response.json()["detail"])


async def test_a_questionnaire_version_never_changes_a_change_is_the_next_version(services: Services) -> None:
    a = services.assessment
    first = await a.post("/questionnaires/worker-wellbeing/versions", json=WELLBEING, headers=PROGRAMME)
    assert first.status_code == 201, first.text
    shorter = WELLBEING | {"questions": WELLBEING["questions"][:2]}
    second = await a.post("/questionnaires/worker-wellbeing/versions", json=shorter, headers=PROGRAMME)
    assert second.status_code == 201, second.text
    read = (await a.get("/questionnaires/worker-wellbeing", headers=bearer(Audience.BRAND, "BR-1"))).json()
    assert [v["version"] for v in read["versions"]] == [1, 2]
    assert [q["id"] for q in read["versions"][0]["questions"]] == [q["id"] for q in WELLBEING["questions"]]
    assert len(read["versions"][1]["questions"]) == 2
    # A worker survey stays one; a question must fit its type; only programme staff publish.
    manager = await a.post(
        "/questionnaires/worker-wellbeing/versions", json=WELLBEING | {"kind": "manager"}, headers=PROGRAMME
    )
    assert manager.status_code == 409 and "is a worker survey" in manager.text
    bad = WELLBEING | {"questions": [{"id": "feels-safe", "text": "?", "type": "scale"}]}
    refused = await a.post("/questionnaires/worker-wellbeing/versions", json=bad, headers=PROGRAMME)
    assert refused.status_code == 422 and "scale_max" in details(refused)
    twice = WELLBEING | {"questions": [WELLBEING["questions"][0]] * 2}
    refused = await a.post("/questionnaires/worker-wellbeing/versions", json=twice, headers=PROGRAMME)
    assert refused.status_code == 422 and "feels-safe named more than once" in refused.text
    factory = await a.post("/questionnaires/other/versions", json=WELLBEING, headers=bearer(Audience.FACTORY, "KH-1"))
    assert factory.status_code == 403
    assert (await a.get("/questionnaires/nothing-here", headers=PROGRAMME)).status_code == 404
    read_again = (await a.get("/questionnaires/worker-wellbeing", headers=PROGRAMME)).json()
    assert [v["version"] for v in read_again["versions"]] == [1, 2]  # nothing refused was written


async def test_worker_responses_are_checked_anonymous_and_never_readable_one_by_one(services: Services) -> None:
    a = services.assessment
    factory_id = await services.enrolled_factory()
    other_factory = await services.enrolled_factory("Mekong Garments Ltd.")
    assert (await a.post("/questionnaires/worker-wellbeing/versions", json=WELLBEING, headers=PROGRAMME)).is_success
    survey_round = await open_round(services, factory_id, "worker-wellbeing")
    assert survey_round["status"] == "open" and survey_round["country"] == "KH"
    # Opening with an Idempotency-Key twice opens one round.
    body = {"factory_id": factory_id, "questionnaire_id": "worker-wellbeing", "questionnaire_version": 1}
    keyed = PROGRAMME | {"Idempotency-Key": "kh-visit-2026-11-r1"}
    twice = [(await a.post("/survey-rounds", json=body | {"opened_on": str(TODAY)}, headers=keyed)) for _ in range(2)]
    assert [r.status_code for r in twice] == [201, 201] and twice[0].json()["id"] == twice[1].json()["id"]
    unknown = await a.post(
        "/survey-rounds", json=body | {"questionnaire_version": 9, "opened_on": str(TODAY)}, headers=PROGRAMME
    )
    assert unknown.status_code == 404 and "no version 9" in unknown.text
    responses = f"/survey-rounds/{survey_round['id']}/worker-responses"

    recorded = await a.post(responses, json=SOKHA | {"answers": ANSWERS}, headers=PROGRAMME)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["responses"] == 1 and "answers" not in recorded.text and "canteen" not in recorded.text

    # Every mistake named, with a 422, and nothing recorded.
    for body, why in [
        (SOKHA | {"answers": ANSWERS | {"feels-safe": 6}}, "feels-safe: a whole number from 1 to 5, not 6"),
        (SOKHA | {"answers": ANSWERS | {"feels-safe": True}}, "valid integer"),
        (SOKHA | {"answers": ANSWERS | {"paid-on-time": "sometimes"}}, "paid-on-time: one of yes, no"),
        (SOKHA | {"answers": ANSWERS | {"overtime-hours": 99}}, "overtime-hours: at most 60, not 99"),
        (SOKHA | {"answers": {"feels-safe": 3}}, "paid-on-time: required"),
        (SOKHA | {"answers": ANSWERS | {"shoe-size": 41}}, "shoe-size: no such question"),
        (SOKHA | {"answers": ANSWERS, "name": "Chan Sreymom"}, "extra_forbidden"),
        (SOKHA | {"answers": ANSWERS, "worker_id": "AA-01873"}, "extra_forbidden"),
        (SOKHA | {"age_band": "29", "answers": ANSWERS}, "age_band"),
    ]:
        refused = await a.post(responses, json=body, headers=PROGRAMME)
        assert refused.status_code == 422 and why in refused.text, (body, refused.text)
    assert (await a.get(f"/survey-rounds/{survey_round['id']}", headers=PROGRAMME)).json()["responses"] == 1

    # A retried request (same Idempotency-Key) is one response, not a second worker.
    for _ in range(2):
        retried = await a.post(
            responses, json=SOKHA | {"answers": ANSWERS}, headers=PROGRAMME | {"Idempotency-Key": "tablet-3-0017"}
        )
        assert retried.status_code == 201 and retried.json()["responses"] == 2, retried.text

    # Only programme staff record; the factory reads its own round's counts, others nothing.
    own = bearer(Audience.FACTORY, factory_id)
    assert (await a.post(responses, json=SOKHA | {"answers": ANSWERS}, headers=own)).status_code == 403
    path = f"/survey-rounds/{survey_round['id']}"
    for headers, expected in [
        (PROGRAMME, 200),
        (own, 200),
        (bearer(Audience.FACTORY, other_factory), 404),
        (bearer(Audience.BRAND, "BR-1"), 403),
        (bearer(Audience.GOVERNMENT, "KH"), 403),
    ]:
        read = await a.get(path, headers=headers)
        assert read.status_code == expected, (headers, read.text)
        if expected == 200:
            assert "canteen" not in read.text and "answers" not in read.json()
    # No route reads a response: the only GET under /survey-rounds is the round itself.
    paths = (await a.get("/openapi.json")).json()["paths"]
    reads = [p for p, ops in paths.items() if p.startswith("/survey-rounds") and "get" in ops]
    assert reads == ["/survey-rounds/{round_id}"]

    closed = await a.post(f"{path}/close", json={"closed_on": str(TODAY)}, headers=PROGRAMME)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    late = await a.post(responses, json=SOKHA | {"answers": ANSWERS}, headers=PROGRAMME)
    assert late.status_code == 409 and "no more responses" in late.text

    # On the topic: each response keyed by its factory, carrying nothing but sex, age band, role and answers.
    async def published() -> bool:
        return any(e.type == se.SurveyRoundClosed.event_type for e in await services.events())

    await eventually(published, what="the round's events on the assessment topic")
    worker = [e for e in await services.events() if e.type == se.WorkerSurveyResponseRecorded.event_type]
    assert len(worker) == 2
    for envelope in worker:
        data = json.loads(envelope.data_json)
        assert set(data) == {"round_id", "factory_id", "response_id", "sex", "age_band", "role", "answers"}
        assert envelope.key == factory_id
        assert "Sreymom" not in envelope.data_json and "AA-01873" not in envelope.data_json
    ids = [json.loads(e.data_json)["response_id"] for e in worker]
    assert len(set(ids)) == 2 and not any(i in json.dumps([recorded.json(), retried.json()]) for i in ids)


async def test_a_manager_round_records_the_business_figures(services: Services) -> None:
    a = services.assessment
    factory_id = await services.enrolled_factory()
    business = {
        "kind": "manager",
        "title": "Business performance",
        "questions": [
            {"id": "orders-outlook", "text": "Orders next year", "type": "choice", "options": ["up", "down"]}
        ],
    }
    assert (await a.post("/questionnaires/business/versions", json=business, headers=PROGRAMME)).is_success
    survey_round = await open_round(services, factory_id, "business")
    path = f"/survey-rounds/{survey_round['id']}"
    early = await a.post(f"{path}/close", json={"closed_on": str(TODAY)}, headers=PROGRAMME)
    assert early.status_code == 409 and "management's response" in early.text
    figures = {
        "period_start": "2025-01-01",
        "period_end": "2025-12-31",
        "sales": 12_500_000,
        "currency": "USD",
        "production_capacity": 180_000,
        "employment": 2400,
    }
    backwards = figures | {"period_start": "2026-01-01"}
    for body, why in [
        ({"figures": backwards, "answers": {"orders-outlook": "up"}}, "the period ends before it starts"),
        ({"figures": figures | {"currency": None}, "answers": {"orders-outlook": "up"}}, "go together"),
        ({"figures": figures | {"employment": -3}, "answers": {"orders-outlook": "up"}}, "employment"),
        ({"figures": figures, "answers": {"orders-outlook": "sideways"}}, "orders-outlook: one of up, down"),
    ]:
        refused = await a.post(f"{path}/manager-responses", json=body, headers=PROGRAMME)
        assert refused.status_code == 422 and why in refused.text, refused.text
    worker = await a.post(f"{path}/worker-responses", json=SOKHA | {"answers": {}}, headers=PROGRAMME)
    assert worker.status_code == 409 and "not a worker survey round" in worker.text
    recorded = await a.post(
        f"{path}/manager-responses", json={"figures": figures, "answers": {"orders-outlook": "up"}}, headers=PROGRAMME
    )
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["figures"]["sales"] == 12_500_000 and recorded.json()["responses"] == 1
    own = await a.get(path, headers=bearer(Audience.FACTORY, factory_id))
    assert own.json()["figures"]["employment"] == 2400
