"""One answer, one state of the read models.

A GraphQL answer is put together by many resolvers, each reading the read models when its turn
comes; on connections of their own they would read while the projections commit, and one answer
could show a committee with four meetings in its regularity and three in its list. A request's
`Snapshot` gives every read the same connection, in one REPEATABLE READ, READ ONLY transaction,
opened at the first read and closed when the answer is done (graphql/consistency.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class Reader(Protocol):
    """What the read models' queries read through: a request's Snapshot, or the engine itself
    where no answer spans several reads (a subscription's event, a bulk export's page)."""

    def connect(self) -> AbstractAsyncContextManager[AsyncConnection]: ...


class Snapshot:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._connection: AsyncConnection | None = None
        self._turn = asyncio.Lock()  # one connection runs one statement at a time

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        async with self._turn:
            if self._connection is None:
                connection = await self.engine.connect()
                self._connection = await connection.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
            try:
                yield self._connection
            except BaseException:
                # A failed statement aborts the transaction: the reads after it start a new one
                # rather than all failing for one.
                await self._drop()
                raise

    async def close(self) -> None:
        async with self._turn:
            await self._drop()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()  # rolls back: nothing was written
