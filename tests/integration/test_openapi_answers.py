"""The OpenAPI documents say what the services really answer: the statuses the shared code gives
(401, 403, 404, 409, 422, 428, 503) and bodies that match what is sent."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from assessment.app import create_app as create_assessment
from assessment.settings import Settings as AssessmentSettings
from committee.app import create_app as create_committee
from committee.settings import Settings as CommitteeSettings
from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings
from fastapi import FastAPI
from jsonschema import Draft202012Validator
from training.app import create_app as create_training
from training.settings import Settings as TrainingSettings

from tests.e2e.conftest import PROGRAMME
from tests.integration.test_database_unavailable import refused_port

NOWHERE = f"postgresql+asyncpg://postgres@127.0.0.1:{refused_port()}/nothing"
APPS = {
    "factory-registry": lambda: create_registry(RegistrySettings(database_url=NOWHERE, run_background_tasks=False)),
    "assessment": lambda: create_assessment(AssessmentSettings(database_url=NOWHERE, run_background_tasks=False)),
    "committee": lambda: create_committee(CommitteeSettings(database_url=NOWHERE, run_background_tasks=False)),
    "training": lambda: create_training(TrainingSettings(database_url=NOWHERE, run_background_tasks=False)),
}


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, path, op) for path, ops in document["paths"].items() for m, op in ops.items()]


def conforms(document: dict[str, Any], method: str, path: str, response: httpx.Response) -> None:
    """The body matches the schema the document gives for that route and status."""
    answer = document["paths"][path][method]["responses"][str(response.status_code)]
    schema = answer["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": document["components"]})
    errors = [e.message for e in validator.iter_errors(response.json())]
    assert not errors, (response.status_code, response.json(), errors)


@pytest.mark.parametrize("service", list(APPS))
def test_every_route_documents_the_answers_the_shared_code_gives(service: str) -> None:
    document = APPS[service]().openapi()
    for method, path, op in operations(document):
        answers = op["responses"]
        if path != "/health":
            assert "503" in answers and "Retry-After" in answers["503"]["headers"], (method, path)
        if "security" in op:
            assert {"401", "403"} <= answers.keys(), (method, path)
        if "{" in path:
            assert "404" in answers, (method, path)
        if method == "post":
            assert "409" in answers, (method, path)
        for parameter in op.get("parameters", []):
            if parameter["name"] == "if-match":
                assert parameter["schema"]["pattern"] == '^(W/)?"([0-9]{1,9})"$'


def test_the_registry_409_has_candidates_only_when_there_are_some() -> None:
    answer = APPS["factory-registry"]().openapi()["paths"]["/factories"]["post"]["responses"]["409"]
    either = answer["content"]["application/json"]["schema"]["anyOf"]
    assert {"$ref": "#/components/schemas/Problem"} in either
    assert {"$ref": "#/components/schemas/DuplicatesView"} in either


def test_the_findings_that_need_if_match_document_428() -> None:
    paths = APPS["assessment"]().openapi()["paths"]
    assert "428" in paths["/assessments/{assessment_id}/findings"]["post"]["responses"]
    assert "428" in paths["/assessments/{assessment_id}/findings/{question_id}"]["put"]["responses"]


async def _call(app: FastAPI, method: str, url: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as client:
        return await client.request(method, url, **kwargs)


async def test_real_error_bodies_match_their_documented_schemas() -> None:
    training = APPS["training"]()
    document = training.openapi()
    cases = [
        ("get", "/sessions", "/sessions", {}, 401),  # no token
        ("get", "/sessions", "/sessions?limit=0", {"headers": PROGRAMME}, 422),  # FastAPI's list of errors
        (
            "post",
            "/sessions/{session_id}/cancel",
            "/sessions/TS-7KQ2M9XDRA/cancel",
            {"headers": PROGRAMME | {"If-Match": "six"}, "json": {"reason": "x"}},
            422,
        ),  # one message
        ("get", "/sessions", "/sessions", {"headers": PROGRAMME}, 503),  # its database is down
    ]
    for method, path, url, kwargs, status in cases:
        response = await _call(training, method, url, **kwargs)
        assert response.status_code == status, (url, response.text)
        conforms(document, method, path, response)


@pytest.mark.parametrize("until", ["0", "1700000000", "2026-13-01", "yesterday"])
async def test_a_day_in_a_query_is_only_ever_a_calendar_day(until: str) -> None:
    response = await _call(APPS["training"](), "get", f"/sessions?until={until}", headers=PROGRAMME)
    assert response.status_code == 422, response.text
