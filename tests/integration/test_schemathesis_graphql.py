"""schemathesis against the gateway's GraphQL schema, with each audience's token: whatever queries
and mutations it generates, the gateway refuses with a code or answers, never fails (see
graphql_checks.py). The registry runs beside it, so that brands' reads are decided, not 503."""

from __future__ import annotations

import os
from pathlib import Path

from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings
from gateway.app import create_app as create_gateway
from gateway.settings import Settings as GatewaySettings

from tests.integration.test_schemathesis import AUDIENCES, schemathesis
from tests.support import serve

HOOKS = Path(__file__).with_name("graphql_checks.py")


async def test_no_generated_query_makes_the_gateway_fail(create_database) -> None:
    registry = create_registry(
        RegistrySettings(database_url=await create_database("factory-registry"), run_background_tasks=False)
    )
    async with serve(registry) as registry_url:
        gateway = create_gateway(
            GatewaySettings(
                database_url=await create_database("gateway"), registry_url=registry_url, run_background_tasks=False
            )
        )
        async with serve(gateway) as url:
            env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)}
            for audience, header in AUDIENCES.items():
                code, output = await schemathesis(
                    f"{url}/graphql", header["Authorization"], "no_unexplained_error", env
                )
                assert code == 0, f"gateway as {audience}:\n{output}"
