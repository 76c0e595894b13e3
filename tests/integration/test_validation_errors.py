"""A 422 says what is wrong with the input without echoing it: a 5 MB field is quoted by a short prefix."""

from __future__ import annotations

import httpx
from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings

from tests.e2e.conftest import CAMBODIAN_FACTORY, PROGRAMME
from tests.support import serve

FIVE_MB = "A" * (5 * 1024 * 1024)


async def test_a_422_for_a_5_mb_field_quotes_a_short_prefix_of_it(create_database) -> None:
    app = create_registry(
        RegistrySettings(database_url=await create_database("factory-registry"), run_background_tasks=False)
    )
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        too_long = await client.post("/factories", json=CAMBODIAN_FACTORY | {"name": FIVE_MB}, headers=PROGRAMME)
        unknown = await client.post("/factories", json=CAMBODIAN_FACTORY | {"notes": FIVE_MB}, headers=PROGRAMME)
        short = await client.post("/factories", json=CAMBODIAN_FACTORY | {"name": ""}, headers=PROGRAMME)

    for response in (too_long, unknown):
        assert response.status_code == 422
        assert len(response.content) < 2000, len(response.content)
        [error] = response.json()["detail"]
        assert error["input"].startswith("AAAA") and f"({len(FIVE_MB)} characters)" in error["input"]
    assert too_long.json()["detail"][0]["loc"] == ["body", "name"]
    assert unknown.json()["detail"][0]["loc"] == ["body", "notes"]
    assert short.status_code == 422 and short.json()["detail"][0]["input"] == ""  # a short input is quoted whole
