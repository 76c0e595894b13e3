"""Forwarding GraphQL mutations to the services that own the commands.

The gateway owns no truth and decides no command: each mutation is sent to the owning service's
REST API with the caller's own token, and the service's answer is mapped here, in one place, to
a result or to a GraphQL error carrying the service's own message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from betterwork_events.web import CONSISTENCY_TOKEN
from graphql import GraphQLError

log = logging.getLogger(__name__)

TIMEOUT = 10.0  # seconds: a command appends once; a service slower than this is treated as down

# What a service's refusal becomes, by its status (extensions.code).
CODES = {
    400: "BAD_USER_INPUT",
    422: "BAD_USER_INPUT",
    401: "FORBIDDEN",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    428: "CONFLICT",  # If-Match required: the caller must say which version it read (expectedVersion)
    503: "SERVICE_UNAVAILABLE",
}


@dataclass(frozen=True)
class Accepted:
    """A command the service accepted."""

    id: str | None  # the resource it created or changed, as the service names it
    version: int | None  # its version now (the ETag): the next command's expectedVersion
    consistency_token: str | None  # present it with a query to read this write (Consistency-Token)


def path(template: str, *parts: str) -> str:
    """A route with the caller's ids in it, each escaped so that no id can reach another route. An
    empty id would name another route (`/factories/` is the list): it is the caller's mistake."""
    if not all(parts):
        raise GraphQLError("an id in the input is empty", extensions={"code": "BAD_USER_INPUT"})
    return template.format(*(quote(part, safe="") for part in parts))


class Services:
    """One HTTP client for every service, shared by all requests (closed on shutdown)."""

    def __init__(self, urls: dict[str, str], transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.urls = urls
        self.client = httpx.AsyncClient(timeout=TIMEOUT, transport=transport)

    async def close(self) -> None:
        await self.client.aclose()

    async def command(
        self,
        service: str,
        method: str,
        route: str,
        token: str | None,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        expected_version: int | None = None,
    ) -> Accepted:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        if expected_version is not None:
            headers["If-Match"] = f'"{expected_version}"'
        try:
            response = await self.client.request(
                method, f"{self.urls[service]}{route}", json=body, params=params, headers=headers
            )
        except httpx.HTTPError as error:
            log.warning("%s %s %s: %r", service, method, route, error)
            raise unavailable(service) from None
        if response.is_success:
            return accepted(response)
        raise refusal(service, response)


def accepted(response: httpx.Response) -> Accepted:
    answer = _json(response)
    found = answer if isinstance(answer, dict) else {}
    resource = next((found[k] for k in ("id", "action_item_id", "meeting_id") if isinstance(found.get(k), str)), None)
    etag = response.headers.get("ETag", "").removeprefix("W/").strip('"')
    version = int(etag) if etag.isdigit() else found.get("version") if isinstance(found.get("version"), int) else None
    return Accepted(resource, version, response.headers.get(CONSISTENCY_TOKEN))


def refusal(service: str, response: httpx.Response) -> GraphQLError:
    """The service's answer, faithfully: its message, a code from its status, and its whole problem
    document (e.g. the likely duplicates of a factory) under extensions.problem."""
    if response.status_code == 503:
        return unavailable(service)
    code = CODES.get(response.status_code)
    problem = _json(response)
    if code is None:  # a 5xx: the service failed; its words stay in its own log
        log.error("%s answered %s: %s", service, response.status_code, response.text[:2000])
        return GraphQLError(
            f"the {service} service could not carry out the command",
            extensions={"code": "INTERNAL_SERVER_ERROR", "service": service},
        )
    return GraphQLError(
        _message(problem, response),
        extensions={"code": code, "service": service, "status": response.status_code, "problem": problem},
    )


def unavailable(service: str) -> GraphQLError:
    return GraphQLError(
        f"the {service} service is unavailable; nothing was changed by this request, try again shortly",
        extensions={"code": "SERVICE_UNAVAILABLE", "service": service},
    )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _message(problem: Any, response: httpx.Response) -> str:
    detail = problem.get("detail") if isinstance(problem, dict) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):  # FastAPI's validation errors: where, and what is wrong
        return "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg')}"
            if isinstance(e, dict)
            else str(e)
            for e in detail
        )
    return response.reason_phrase or f"refused ({response.status_code})"
