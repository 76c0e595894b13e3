"""What the read models have just committed, told to whoever listens in this process (subscriptions).

Each projection runner calls `Notices.committed` once a transaction of its read model has
committed, with the events it applied: a listener told of an event can read its effect with a
query at once, so a subscription delivers nothing a query could not show yet.

A listener has a bounded queue; one that falls that far behind (a client that stopped reading)
is cut off with `FellBehind` rather than let memory grow or slow the projections, which never
wait for a listener.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass

from betterwork_events.envelope import Envelope

# Notices a listener may have waiting: far above a burst of one factory's events, small in memory.
QUEUE = 1_000


@dataclass(frozen=True)
class Notice:
    read_model: str  # the projection's name, e.g. "assessment-reports"
    event: Envelope


class FellBehind(Exception):
    pass


class Listener:
    def __init__(self, read_models: frozenset[str]) -> None:
        self.read_models = read_models
        self.queue: asyncio.Queue[Notice | None] = asyncio.Queue(QUEUE + 1)

    async def __aiter__(self) -> AsyncIterator[Notice]:
        while (notice := await self.queue.get()) is not None:
            yield notice
        raise FellBehind(f"more than {QUEUE} events were waiting for this subscription")


class Notices:
    def __init__(self) -> None:
        self._listeners: set[Listener] = set()

    def committed(self, read_model: str) -> Callable[[Sequence[Envelope]], None]:
        """The runner's `on_committed` for this read model."""

        def tell(events: Sequence[Envelope]) -> None:
            for listener in [listener for listener in self._listeners if read_model in listener.read_models]:
                for event in events:
                    if listener.queue.qsize() >= QUEUE:
                        listener.queue.put_nowait(None)  # the one slot kept for saying so
                        self._listeners.discard(listener)
                        break
                    listener.queue.put_nowait(Notice(read_model, event))

        return tell

    @contextlib.contextmanager
    def listening(self, *read_models: str) -> Iterator[Listener]:
        listener = Listener(frozenset(read_models))
        self._listeners.add(listener)
        try:
            yield listener
        finally:
            self._listeners.discard(listener)
