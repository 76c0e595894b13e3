"""schemathesis against every service's OpenAPI document, with each audience's token: no 5xx, and every
answer's status, content type and body as the document says. Few examples per operation, to stay fast."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from assessment.app import create_app as create_assessment
from assessment.settings import Settings as AssessmentSettings
from betterwork_events.auth import Audience
from committee.app import create_app as create_committee
from committee.settings import Settings as CommitteeSettings
from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings
from fastapi import FastAPI
from training.app import create_app as create_training
from training.settings import Settings as TrainingSettings

from tests.e2e.conftest import bearer
from tests.support import serve

SERVICES: dict[str, Callable[[str], FastAPI]] = {
    "factory-registry": lambda url: create_registry(RegistrySettings(database_url=url, run_background_tasks=False)),
    "assessment": lambda url: create_assessment(AssessmentSettings(database_url=url, run_background_tasks=False)),
    "committee": lambda url: create_committee(CommitteeSettings(database_url=url, run_background_tasks=False)),
    "training": lambda url: create_training(TrainingSettings(database_url=url, run_background_tasks=False)),
}
AUDIENCES = {
    "programme": bearer(Audience.PROGRAMME),
    "brand": bearer(Audience.BRAND, "BR-0001"),
    "government": bearer(Audience.GOVERNMENT, "KH"),
    "factory": bearer(Audience.FACTORY, "KH-2026-0001-1"),
}
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


async def schemathesis(url: str, header: str, checks: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run schemathesis against `url` as the holder of the bearer `header`: its exit code and output."""
    run = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "run",
        url,
        "--checks",
        checks,
        "--max-examples",
        "3",
        "--phases",
        "examples,fuzzing",
        "--generation-deterministic",
        "--request-timeout",
        "10",
        "-H",
        f"Authorization:{header}",
        "--no-color",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await run.communicate()
    return run.returncode or 0, output.decode()[-6000:]


@pytest.mark.parametrize("service", list(SERVICES))
async def test_every_operation_answers_as_documented_for_every_audience(create_database, service: str) -> None:
    app = SERVICES[service](await create_database(service))
    assert shutil.which(str(SCHEMATHESIS)), "schemathesis is a dev dependency: uv sync"
    async with serve(app) as url:
        for audience, header in AUDIENCES.items():
            code, output = await schemathesis(f"{url}/openapi.json", header["Authorization"], CHECKS)
            assert code == 0, f"{service} as {audience}:\n{output}"
