"""The gateway's schema and access policy, without I/O."""

import pytest
from betterwork_events.auth import Audience, Principal
from gateway import policy
from gateway.sdl import COMMITTED, sdl


def test_the_committed_sdl_is_the_schema_in_code() -> None:
    assert COMMITTED.read_text() == sdl(), "run `make docs` and commit services/gateway/schema.graphql"


def test_a_government_may_not_read_individual_factories() -> None:
    with pytest.raises(policy.AccessDenied, match="aggregates only"):
        policy.scope_of(Principal("inspector-1", Audience.GOVERNMENT, "KH")).factories()


def test_an_anonymous_caller_may_read_nothing() -> None:
    with pytest.raises(policy.AccessDenied):
        policy.scope_of(None)
