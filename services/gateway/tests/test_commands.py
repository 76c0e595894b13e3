"""How a service's answer to a forwarded command becomes a mutation's result or error (no I/O:
the service's answers are given)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from gateway.commands import Accepted, Services, path
from graphql import GraphQLError

TOKEN = "token-of-the-caller"


def answering(
    status: int, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[Services, list[httpx.Request]]:
    sent: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(status, json=body, headers=headers)

    return Services({"assessment": "http://assessment.test"}, transport=httpx.MockTransport(respond)), sent


async def refusal(status: int, body: Any = None) -> GraphQLError:
    services, _ = answering(status, body)
    with pytest.raises(GraphQLError) as refused:
        await services.command("assessment", "POST", "/assessments", TOKEN)
    return refused.value


async def test_the_command_goes_with_the_callers_token_key_and_version() -> None:
    services, sent = answering(201, {"id": "a-1", "version": 1}, {"ETag": '"1"', "Consistency-Token": "assessment:42"})
    accepted = await services.command(
        "assessment",
        "POST",
        "/assessments",
        TOKEN,
        body={"factory_id": "KH-1"},
        idempotency_key="k-1",
        expected_version=3,
    )
    assert accepted == Accepted("a-1", 1, "assessment:42")
    [request] = sent
    assert request.url == "http://assessment.test/assessments"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Idempotency-Key"] == "k-1" and request.headers["If-Match"] == '"3"'


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "BAD_USER_INPUT"),
        (422, "BAD_USER_INPUT"),
        (401, "FORBIDDEN"),
        (403, "FORBIDDEN"),
        (404, "NOT_FOUND"),
        (409, "CONFLICT"),
        (428, "CONFLICT"),
    ],
)
async def test_a_refusal_keeps_the_services_words_under_its_code(status: int, code: str) -> None:
    error = await refusal(status, {"detail": "the assessment is published: it cannot be cancelled"})
    assert error.message == "the assessment is published: it cannot be cancelled"
    assert error.extensions == {
        "code": code,
        "service": "assessment",
        "status": status,
        "problem": {"detail": "the assessment is published: it cannot be cancelled"},
    }


async def test_validation_errors_say_which_field_and_what_is_wrong() -> None:
    detail = [
        {"loc": ["body", "assessors"], "msg": "List should have at least 1 item after validation, not 0"},
        {"loc": ["body", "planned_date"], "msg": "Input should be a valid date"},
    ]
    error = await refusal(422, {"detail": detail})
    assert error.message == (
        "assessors: List should have at least 1 item after validation, not 0; planned_date: Input should be a valid date"
    )


async def test_a_service_down_or_overloaded_is_service_unavailable_and_a_failure_says_nothing_of_it() -> None:
    assert (await refusal(503, {"detail": "the database is unavailable"})).extensions == {
        "code": "SERVICE_UNAVAILABLE",
        "service": "assessment",
    }
    failed = await refusal(500, {"detail": "internal error: relation events does not exist"})
    assert failed.extensions == {"code": "INTERNAL_SERVER_ERROR", "service": "assessment"}
    assert "relation" not in failed.message

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    down = Services({"assessment": "http://assessment.test"}, transport=httpx.MockTransport(refuse))
    with pytest.raises(GraphQLError) as refused:
        await down.command("assessment", "POST", "/assessments", TOKEN)
    assert refused.value.extensions == {"code": "SERVICE_UNAVAILABLE", "service": "assessment"}


def test_an_empty_id_is_the_callers_mistake_not_another_route() -> None:
    assert path("/factories/{}/brands", "KH/../x") == "/factories/KH%2F..%2Fx/brands"
    with pytest.raises(GraphQLError, match="an id in the input is empty") as refused:
        path("/factories/{}", "")
    assert refused.value.extensions == {"code": "BAD_USER_INPUT"}
