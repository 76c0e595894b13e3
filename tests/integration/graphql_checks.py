"""A schemathesis check for the gateway (loaded with SCHEMATHESIS_HOOKS): an answer may refuse, but
never fail. schemathesis's own GraphQL check counts any resolver error with a path as the server's
failure; here a refusal (FORBIDDEN, NOT_FOUND, BAD_USER_INPUT, ...) is the answer the caller is owed,
and what must never come back is a 5xx or an error without a code: an exception nobody meant,
masked as "the query could not be answered"."""

from __future__ import annotations

from typing import Any

import graphql
import schemathesis
from hypothesis import strategies as st

# Inputs in the services' own shape (a factory's profile, a meeting's agenda): some plausible, some not.
JSON_VALUES = ["{}", '{name: ""}', '{name: "Angkor Apparel", country: "KH", address: "Phnom Penh"}', "[]", '"x"', "12"]
schemathesis.graphql.scalar("JSON", st.sampled_from(JSON_VALUES).map(graphql.parse_value))


@schemathesis.check
def no_unexplained_error(ctx: Any, response: Any, case: Any) -> None:
    if response.status_code >= 500:
        raise AssertionError(f"the gateway answered {response.status_code}: {response.text[:300]}")
    if response.status_code != 200:
        return
    for error in response.json().get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if "path" in error and (code is None or code == "INTERNAL_SERVER_ERROR"):
            raise AssertionError(f"an error nobody meant at {error['path']}: {error['message']}")
