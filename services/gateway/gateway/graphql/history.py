"""A factory's timeline across every service, as far as the caller may read each entry."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from gateway.graphql.context import Context
from gateway.graphql.relay import Connection, connection
from gateway.read_models import history
from gateway.read_models.pages import PageRequest


@strawberry.enum(description="The service an entry of a factory's history comes from")
class HistoryService(Enum):
    FACTORY_REGISTRY = "factory-registry"
    ASSESSMENT = "assessment"
    COMMITTEE = "committee"
    TRAINING = "training"


@strawberry.type(description="Something that happened to a factory, in a sentence without personal data")
class HistoryEntry:
    time: datetime = strawberry.field(description="When the owning service recorded it")
    service: HistoryService
    type: str = strawberry.field(
        description="The event's type in the catalogue, e.g. org.betterwork.factory.enrolled.v1"
    )
    summary: str

    @classmethod
    def of(cls, row: Any) -> HistoryEntry:
        return cls(time=row.time, service=HistoryService(row.service), type=row.type, summary=row.summary)


async def history_of(
    factory_id: str,
    info: strawberry.Info[Context, None],
    first: int | None,
    after: str | None,
    service: HistoryService | None,
    since: datetime | None,
) -> Connection[HistoryEntry]:
    loader = info.context.pages(history.history_of_factories)
    only = history.HistoryFilter(service.value if service is not None else None, since)
    return connection(await loader.load(((factory_id, only), PageRequest.of(first, after))), HistoryEntry.of)
