"""Every service with its database down: 503 with a JSON body that says so and when to retry,
for commands and reads alike, and /ready says it is not ready."""

from __future__ import annotations

import socket
from collections.abc import Callable
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
from training.app import create_app as create_training
from training.settings import Settings as TrainingSettings

from tests.e2e.conftest import CAMBODIAN_FACTORY, PROGRAMME
from tests.support import serve

FACTORY = "KH-2026-0001-1"
# Each service: how to make it, one command and one read.
SERVICES: dict[str, tuple[Callable[[str], FastAPI], tuple[str, dict[str, Any]], str]] = {
    "factory-registry": (
        lambda url: create_registry(RegistrySettings(database_url=url, run_background_tasks=False)),
        ("/factories", CAMBODIAN_FACTORY),
        f"/factories/{FACTORY}",
    ),
    "assessment": (
        lambda url: create_assessment(AssessmentSettings(database_url=url, run_background_tasks=False)),
        ("/assessments", {"factory_id": FACTORY, "planned_date": "2099-01-05", "assessors": ["a-sokha"]}),
        "/assessments/00000000-0000-0000-0000-000000000001",
    ),
    "committee": (
        lambda url: create_committee(CommitteeSettings(database_url=url, run_background_tasks=False)),
        ("/committees", {"factory_id": FACTORY, "established_on": "2026-01-05"}),
        f"/committees/{FACTORY}-C1",
    ),
    "training": (
        lambda url: create_training(TrainingSettings(database_url=url, run_background_tasks=False)),
        (
            "/sessions",
            {
                "course": "SST",
                "factory_ids": [FACTORY],
                "days": ["2099-01-05"],
                "venue": "Phnom Penh",
                "trainer": "Pich",
            },
        ),
        "/sessions/TS-7KQ2M9XDRA",
    ),
}


def refused_port() -> int:
    """A local port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def says_the_database_is_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    assert "database is unavailable" in response.json()["detail"]
    assert int(response.headers["retry-after"]) > 0


@pytest.mark.parametrize("service", list(SERVICES))
async def test_a_service_whose_database_refuses_connections_answers_503_that_says_so(service: str) -> None:
    make, (command_path, command), read_path = SERVICES[service]
    app = make(f"postgresql+asyncpg://postgres@127.0.0.1:{refused_port()}/nothing")

    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        says_the_database_is_unavailable(await client.post(command_path, json=command, headers=PROGRAMME))
        says_the_database_is_unavailable(await client.get(read_path, headers=PROGRAMME))
        ready = await client.get("/ready")

    assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
    assert "database is unavailable" in ready.json()["reason"]
