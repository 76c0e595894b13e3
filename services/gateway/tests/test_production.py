"""In production the gateway answers no introspection and serves no IDE; in development it does.

Nothing here starts the apps' lifespans or reaches a database: both are decided before a query runs."""

from __future__ import annotations

import httpx
import pytest
from betterwork_events.auth import Audience, mint
from gateway.app import create_app
from gateway.settings import Settings

PRODUCTION = Settings(environment="production", jwt_secret="a-production-signing-secret-of-enough-length-42")
DEVELOPMENT = Settings(environment="development")
INTROSPECTION = ["{ __schema { queryType { name } } }", '{ __type(name: "Factory") { fields { name } } }']


async def call(settings: Settings, method: str, path: str, **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        return await client.request(method, path, **kwargs)  # type: ignore[arg-type]


def programme(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(settings, Audience.PROGRAMME, subject='officer-dara')}"}


@pytest.mark.parametrize("query", INTROSPECTION)
async def test_production_refuses_introspection(query: str) -> None:
    response = await call(PRODUCTION, "POST", "/graphql", json={"query": query}, headers=programme(PRODUCTION))
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
    assert "introspection is off in production" in body["errors"][0]["message"]


async def test_production_refuses_introspection_hidden_in_a_fragment() -> None:
    query = "{ ...Sneaky } fragment Sneaky on Query { __schema { types { name } } }"
    response = await call(PRODUCTION, "POST", "/graphql", json={"query": query}, headers=programme(PRODUCTION))
    assert response.json()["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"


async def test_production_still_answers_typename() -> None:
    response = await call(
        PRODUCTION, "POST", "/graphql", json={"query": "{ __typename }"}, headers=programme(PRODUCTION)
    )
    assert response.json()["data"] == {"__typename": "Query"}


@pytest.mark.parametrize("query", INTROSPECTION)
async def test_development_answers_introspection(query: str) -> None:
    response = await call(DEVELOPMENT, "POST", "/graphql", json={"query": query}, headers=programme(DEVELOPMENT))
    body = response.json()
    assert "errors" not in body
    assert body["data"]


@pytest.mark.parametrize("accept", ["text/html", "*/*"])
async def test_production_serves_no_ide(accept: str) -> None:
    assert (await call(PRODUCTION, "GET", "/graphql", headers={"accept": accept})).status_code == 404
    assert (await call(DEVELOPMENT, "GET", "/graphql", headers={"accept": accept})).status_code == 200


async def test_production_serves_none_of_the_ides_files() -> None:
    page = (await call(DEVELOPMENT, "GET", "/graphql", headers={"accept": "text/html"})).text
    script = page.split('<script src="', 2)[1].split('"', 1)[0]
    assert script.startswith("/graphql/ide/")
    assert (await call(DEVELOPMENT, "GET", script)).status_code == 200
    assert (await call(PRODUCTION, "GET", script)).status_code == 404
