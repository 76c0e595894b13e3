"""What every resolver gets: the caller's scope (from policy.py) and the request's DataLoaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from betterwork_events.auth import Principal
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from gateway import policy
from gateway.commands import Services
from gateway.consistency import Consistency
from gateway.graphql.limits import Limits
from gateway.read_models.pages import Page, PageRequest
from gateway.read_models.snapshot import Reader, Snapshot

NestedPages = Callable[[Reader, policy.Scope, Sequence[Any], PageRequest], Awaitable[list[Page]]]
Batch = Callable[[Reader, policy.Scope, Sequence[Any]], Awaitable[list[Any]]]


@dataclass
class Context(BaseContext):
    principal: Principal | None
    engine: AsyncEngine
    # What queries may cost and the callers' budgets (limits.py): the app's one Limits, which every
    # request must carry, or a query would escape them.
    limits: Limits
    # For a brand: the factories the registry says share their reports with it now (see registry.py).
    sharing_now: frozenset[str] = frozenset()
    # For mutations: the caller's own token, which the owning service checks (see commands.py).
    token: str | None = None
    services: Services | None = None
    consistency: Consistency | None = None  # how far the read models are, for read-your-writes
    _loaders: dict[Hashable, DataLoader[Any, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()
        # What resolvers read through: one snapshot for the whole answer (read_models/snapshot.py).
        # Writes (a bulk export's start) go through `engine`.
        self.reads: Reader = Snapshot(self.engine)

    @property
    def scope(self) -> policy.Scope:
        """What this caller may read (policy.AccessDenied is the query's error, in the policy's words)."""
        return policy.scope_of(self.principal, self.sharing_now)

    def loader(self, batch: Batch) -> DataLoader[Any, Any]:
        """One DataLoader per request and batch function: all keys asked at one level, one query."""
        if batch not in self._loaders:
            scope = self.scope

            async def load(keys: Sequence[Any]) -> list[Any]:
                return await batch(self.reads, scope, keys)

            self._loaders[batch] = DataLoader(load_fn=load)
        return self._loaders[batch]

    def pages(self, fetch: NestedPages) -> DataLoader[tuple[Any, PageRequest], Page]:
        """A DataLoader for nested lists: the same page of every parent at one level, one query each
        distinct page request."""
        if fetch not in self._loaders:
            scope = self.scope

            async def load(keys: Sequence[tuple[Any, PageRequest]]) -> list[Page]:
                by_request: dict[PageRequest, list[Any]] = {}
                for parent, request in keys:
                    by_request.setdefault(request, []).append(parent)
                found: dict[tuple[Any, PageRequest], Page] = {}
                for request, parents in by_request.items():
                    for parent, page in zip(parents, await fetch(self.reads, scope, parents, request), strict=True):
                        found[(parent, request)] = page
                return [found[key] for key in keys]

            self._loaders[fetch] = DataLoader(load_fn=load)
        return self._loaders[fetch]
