"""The read side on real sockets: the registry and the gateway as services, the other services'
events put on their Kafka topics exactly as their relays would put them.

For tests of the gateway's read models: factories, brands, links and consents go through the
registry's REST API (so the registry's own answer to "who shares with this brand" is real);
assessment, committee and training events are published as CloudEvents on their topics.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from betterwork_events import kafka as kafka_clients
from betterwork_events.auth import Audience, mint
from betterwork_events.catalogue import EventContract
from betterwork_events.envelope import Envelope
from betterwork_events.settings import CommonSettings
from fastapi import FastAPI

from tests.support import as_read_now, eventually, graphql_answer, if_match

SERVICES = ("factory-registry", "assessment", "committee", "training")
_SETTINGS = CommonSettings(database_url="unused")


def bearer(audience: Audience, scope: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(_SETTINGS, audience, scope)}"}


PROGRAMME = bearer(Audience.PROGRAMME)


@dataclass
class ReadSide:
    kafka: str
    prefix: str
    registry: httpx.AsyncClient
    gateway: httpx.AsyncClient
    gateway_app: FastAPI
    _versions: dict[str, itertools.count[int]] = field(default_factory=dict)

    # --- the registry, through its API ------------------------------------------------------------

    async def factory(self, name: str, country: str = "KH", workers: tuple[int, int] | None = None) -> str:
        """An enrolled factory, once the gateway's directory has it; `workers` is (women, men)."""
        body: dict[str, Any] = {"name": name, "country": country, "address": f"{name} road", "confirmed_new": True}
        if workers is not None:
            women, men = workers
            body["workforce"] = {"total": women + men, "women": women, "men": men}
        created = await self.registry.post("/factories", json=body, headers=PROGRAMME)
        assert created.status_code == 201, created.text
        factory_id = str(created.json()["id"])
        await self.registry.post(f"/factories/{factory_id}/enrollment/apply", headers=PROGRAMME | if_match(1))
        enrol = {"service_package": "core", "enrolled_on": "2025-03-01"}
        enrolled = await self.registry.post(
            f"/factories/{factory_id}/enrollment/enroll", json=enrol, headers=PROGRAMME | if_match(2)
        )
        assert enrolled.status_code == 200, enrolled.text
        await self.knows(factory_id)  # other read models' factory fields resolve through the directory
        return factory_id

    async def brand(self, name: str) -> str:
        body = {"name": name, "kind": "retailer", "partnership": "partner"}
        created = await self.registry.post("/brands", json=body, headers=PROGRAMME)
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    async def supplies(self, factory_id: str, brand_id: str, consents: bool) -> None:
        body = {"brand_id": brand_id, "since": "2025-01-15"}
        staff = await as_read_now(self.registry, f"/factories/{factory_id}", PROGRAMME)
        linked = await self.registry.post(f"/factories/{factory_id}/brands", json=body, headers=staff)
        assert linked.status_code == 200, linked.text
        if consents:
            path = f"/factories/{factory_id}/consents/{brand_id}"
            own = bearer(Audience.FACTORY, factory_id) | if_match(linked.json()["version"])
            granted = await self.registry.put(path, headers=own)
            assert granted.status_code == 200, granted.text

    # --- the other services' events, on their topics ---------------------------------------------

    async def publish(self, event: EventContract, stream: str, actor: str = "programme:assessor-sokha") -> Envelope:
        """Put an event of `stream` on its service's topic the way the service's relay does."""
        envelope = self.envelope(event, stream, actor)
        await self.send(envelope)
        return envelope

    def envelope(self, event: EventContract, stream: str, actor: str = "programme:assessor-sokha") -> Envelope:
        """The event as the next of `stream`, the way the service's event store would write it."""
        version = next(self._versions.setdefault(stream, itertools.count(1)))
        return Envelope(
            id=uuid.uuid4(),
            source=f"/betterwork/{event.topic_service}",
            type=event.event_type,
            subject=stream,
            time=dt.datetime.now(dt.UTC),
            data_json=event.model_dump_json(),
            streamversion=version,
            position=version,
            factoryid=event.factory_id_key,
            actor=actor,
        )

    async def send(self, *envelopes: Envelope) -> None:
        """Put envelopes on their services' topics, in order, with one producer (again, to redeliver)."""
        producer = kafka_clients.producer(self.kafka)
        await producer.start()
        try:
            for envelope in envelopes:
                await producer.send_and_wait(
                    f"{self.prefix}{envelope.contract().topic_service}.events",
                    value=envelope.kafka_value(),
                    key=envelope.key.encode(),
                    headers=envelope.kafka_headers(),
                )
        finally:
            await producer.stop()

    # --- the gateway --------------------------------------------------------------------------------

    async def graphql(
        self, query: str, headers: dict[str, str], variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"query": query} | ({"variables": variables} if variables else {})
        return graphql_answer(await self.gateway.post("/graphql", json=body, headers=headers))

    async def knows(self, *factory_ids: str) -> None:
        """Wait until the gateway's factory directory has these factories."""
        query = "{ factories(first: 100) { nodes { factoryId } } }"

        def known(data: dict[str, Any]) -> bool:
            return set(factory_ids) <= {f["factoryId"] for f in data["factories"]["nodes"]}

        await self.until(query, PROGRAMME, known, "the factories in the gateway's directory")

    async def until(
        self, query: str, headers: dict[str, str], check: Any, what: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Query until `check(data)` holds (the projections catching up); returns the data."""
        answer: dict[str, Any] = {}

        async def holds() -> bool:
            nonlocal answer
            answer = await self.graphql(query, headers, variables)
            return bool(answer.get("data") and check(answer["data"]))

        await eventually(holds, what=what)
        return answer["data"]
