"""schemathesis against the gateway's GraphQL schema, with each audience's token: whatever queries
and mutations it generates, the gateway refuses with a code or answers, never fails (see
graphql_checks.py). The registry runs beside it, so that brands' reads are decided, not 503."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from betterwork_events.auth import Audience
from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings
from gateway.app import create_app as create_gateway
from gateway.settings import Settings as GatewaySettings

from tests.e2e.conftest import bearer
from tests.integration.test_schemathesis import SCHEMATHESIS
from tests.support import serve

AUDIENCES = {
    "programme": bearer(Audience.PROGRAMME),
    "brand": bearer(Audience.BRAND, "BR-0001"),
    "government": bearer(Audience.GOVERNMENT, "KH"),
    "factory": bearer(Audience.FACTORY, "KH-2026-0001-1"),
}
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
            for audience, header in AUDIENCES.items():
                run = await asyncio.create_subprocess_exec(
                    str(SCHEMATHESIS),
                    "run",
                    f"{url}/graphql",
                    "--checks",
                    "no_unexplained_error",
                    "--max-examples",
                    "3",
                    "--generation-deterministic",
                    "--request-timeout",
                    "10",
                    "-H",
                    f"Authorization:{header['Authorization']}",
                    "--no-color",
                    env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                )
                output, _ = await run.communicate()
                assert run.returncode == 0, f"gateway as {audience}:\n{output.decode()[-6000:]}"
