"""What the gateway asks the factory registry directly instead of its own read models.

The read models follow the registry's events a moment behind (longer if Kafka or the gateway's
consumer is down). For most reads that is fine; for what a brand may read it is not: a factory
that revokes its consent must be out of the brand's reads as soon as the registry says so.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

TIMEOUT = 5.0  # seconds


class RegistryUnavailable(Exception):
    pass


class Registry:
    def __init__(self, base_url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.client = httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT, transport=transport)

    async def factories_sharing_reports_with(self, brand_id: str, token: str) -> frozenset[str]:
        """Asked with the brand's own token, so the registry applies its own rule to the question."""
        try:
            response = await self.client.get(
                f"/brands/{quote(brand_id, safe='')}/report-sharing", headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as error:
            raise RegistryUnavailable(f"the factory registry did not answer: {error!r}") from error
        if response.status_code == httpx.codes.NOT_FOUND:
            return frozenset()  # a brand the registry does not know reads nothing
        if response.status_code != httpx.codes.OK:
            raise RegistryUnavailable(f"the factory registry answered {response.status_code}")
        return frozenset(response.json()["factory_ids"])

    async def close(self) -> None:
        await self.client.aclose()
