"""Rebuild read models from the event streams while the serving ones keep answering.

    python -m gateway.rebuild factory-history        # one read model (or several)
    python -m gateway.rebuild --all

Any read model of `read_models.PROJECTIONS`, by what its Projection declares (name, tables,
events); nothing here names one. For each:

1. New tables beside the serving ones: a schema `rm_<name>_<n>` with a copy of each of the read
   model's tables as the migrations left it (columns, defaults, constraints, and indexes under
   their own names, which later migrations refer to), and its own processed_events and
   consumer_offsets.
2. A consumer of its own (the same projection in another consumer group, its connections finding
   that schema first on their search_path) fills them from the beginning of the topics, while the
   gateway's live consumer goes on applying to the serving tables.
3. Once it has read as far as the topics went when it started, and as far as the live consumer,
   the switch, in one transaction: the live consumer is paused between two batches (its pause
   lock, betterwork_events.consumer.pause_lock, so none is half-applied), then the serving tables
   are locked (queries wait a moment; the lock gives way before any deadlock could fail one); the
   new consumer reads on until it has passed every live offset, and stops; the old tables move out
   of `public` and the new ones in; the live consumer's offsets become the new consumer's and its
   processed events take in the new consumer's. The live consumer then resumes where it was, at
   or before the new offsets, into the new tables: what it reads again is recognised as
   processed, and nothing it had applied is missing from them. A migration meanwhile stops it.
4. The old tables are dropped. Queries name tables, never schemas, so nothing else changes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from betterwork_events import kafka
from betterwork_events.consumer import ProjectionRunner, pause_lock
from betterwork_events.kafka import events_topic
from betterwork_events.web import create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from tqdm import tqdm

from gateway import read_models
from gateway.read_models.projection import Consumer, Projection
from gateway.settings import Settings

log = logging.getLogger(__name__)

Offsets = dict[TopicPartition, int]

# The switch waits this long for a lock, below PostgreSQL's deadlock_timeout (1 s): if a query
# holds one table and waits for another the switch holds, the switch gives way, never the query.
LOCK_TIMEOUT = "200ms"
LOCK_NOT_AVAILABLE = "55P03"
BOOKKEEPING = ("processed_events", "consumer_offsets")


class RebuildFailed(Exception):
    """The rebuild stopped; the serving tables are untouched and its own are dropped."""


class _GaveWay(Exception):
    """The switch let go of its locks, to be tried again a little later."""


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


@dataclass
class Rebuild:
    settings: Settings
    engine: AsyncEngine
    projection: Projection
    progress: bool = True
    # In the switch, how long the new tables may take to pass the live offsets before the locks
    # are let go (and the switch tried again a little later): queries wait that long at most,
    # well below the gateway's wait for a pooled connection (BW_DATABASE_WAIT_SECONDS).
    catch_up_seconds: float = 1.0
    switch_attempts: int = 50

    def __post_init__(self) -> None:
        self.number = time.time_ns() // 1000
        self.schema = f"rm_{_slug(self.projection.name)}_{self.number}"
        self.retired = f"{self.schema}_old"
        self.live = self.projection.consumer(self.settings.topic_prefix).name
        self.rebuilder = Consumer(f"{self.live}.rebuild-{self.number}", self.projection)
        self.topics = [self.settings.topic(events_topic(s)) for s in self.projection.services]
        self.migrated: list[str] = []  # the Alembic heads when the copies were made

    async def run(self) -> None:
        async with self._only_one(), self._kafka_offsets() as offsets:
            await self._drop_abandoned()
            try:
                async with self.engine.connect() as conn:
                    self.migrated = await _migrations(conn)
                await self._create_tables()
                runner = ProjectionRunner(
                    self.engine,
                    self.settings.kafka_bootstrap,
                    self.rebuilder,
                    self.topics,
                    dead_letter_topic=self.settings.topic("gateway.dead-letter"),
                    schema=self.schema,
                )
                consuming = asyncio.create_task(runner.run(), name=f"rebuild {self.projection.name}")
                try:
                    await self._switch_once_caught_up(offsets, consuming)
                finally:
                    await _stop(consuming)
            finally:
                await self._drop(self.schema, self.retired)

    # --- the new tables -------------------------------------------------------------------------

    async def _create_tables(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
            for table in self.projection.tables:
                await _copy_table(conn, table.name, self.schema)
            for table_name in BOOKKEEPING:
                await conn.execute(
                    sa.text(f'CREATE TABLE "{self.schema}".{table_name} (LIKE public.{table_name} INCLUDING ALL)')
                )

    async def _drop_abandoned(self) -> None:
        """Schemas a rebuild of this read model left when it was killed (only one runs at a time)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.text("SELECT nspname FROM pg_namespace WHERE nspname ~ :pattern"),
                {"pattern": f"^rm_{_slug(self.projection.name)}_[0-9]+(_old)?$"},
            )
            abandoned = [row.nspname for row in rows]
        if abandoned:
            log.warning("%s: dropping what an unfinished rebuild left: %s", self.projection.name, abandoned)
            await self._drop(*abandoned)

    async def _drop(self, *schemas: str) -> None:
        async with self.engine.begin() as conn:
            for schema in schemas:
                await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))

    # --- catching up, then switching --------------------------------------------------------------

    async def _switch_once_caught_up(self, offsets: _KafkaOffsets, consuming: asyncio.Task[None]) -> None:
        first = await offsets.beginning(self.topics)
        published = await offsets.end(self.topics)  # as far as the topics went when it started
        total = sum(published[tp] - first[tp] for tp in published)
        with tqdm(
            total=total, desc=self.projection.name, unit="event", disable=not self.progress, file=sys.stderr
        ) as bar:
            for attempt in range(1, self.switch_attempts + 1):
                while True:
                    async with self.engine.connect() as conn:
                        rebuilt = await self._rebuilt_offsets(conn)
                        live = await _offsets_of(conn, "public", self.live)
                    bar.n = sum(min(rebuilt.get(tp, first[tp]), end) - first[tp] for tp, end in published.items())
                    bar.refresh()
                    if _passed(rebuilt, published, first) and _passed(rebuilt, live, first):
                        break
                    await _still_running(consuming)
                    await asyncio.sleep(0.2)
                await self._analyze()
                if await self._switch(first, consuming):
                    bar.n = bar.total
                    return
                log.info("%s: switch attempt %d gave way; trying again", self.projection.name, attempt)
                await asyncio.sleep(0.1 * attempt)
        raise RebuildFailed(f"{self.projection.name}: could not switch after {self.switch_attempts} attempts")

    async def _switch(self, first: Offsets, consuming: asyncio.Task[None]) -> bool:
        """The switch (see the module's description); False if it gave way, to be tried again."""
        serving = ", ".join(f'public."{t.name}"' for t in self.projection.tables)
        try:
            async with self.engine.begin() as conn:
                await conn.execute(sa.text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
                # The live consumer first, between two batches (none half-applied), then the queries.
                await conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": pause_lock(self.live)}
                )
                await conn.execute(sa.text(f"LOCK TABLE {serving} IN ACCESS EXCLUSIVE MODE"))
                if await _migrations(conn) != self.migrated:  # the copies have the tables' former structure
                    raise RebuildFailed("the database was migrated during the rebuild; run it again")
                live = await _offsets_of(conn, "public", self.live)
                deadline = asyncio.get_running_loop().time() + self.catch_up_seconds
                while not _passed(await self._rebuilt_offsets(conn), live, first):
                    await _still_running(consuming)
                    if asyncio.get_running_loop().time() > deadline:
                        raise _GaveWay
                    await asyncio.sleep(0.02)
                await _stop(consuming)  # what it has committed is final now
                await self._swap_tables(conn)
                await self._hand_over_bookkeeping(conn)
        except _GaveWay:
            return False
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE or consuming.done():
                raise
            return False
        log.info("%s: now serving the rebuilt tables", self.projection.name)
        return True

    async def _swap_tables(self, conn: AsyncConnection) -> None:
        await conn.execute(sa.text(f'CREATE SCHEMA "{self.retired}"'))
        for table in self.projection.tables:
            await conn.execute(sa.text(f'ALTER TABLE public."{table.name}" SET SCHEMA "{self.retired}"'))
            await conn.execute(sa.text(f'ALTER TABLE "{self.schema}"."{table.name}" SET SCHEMA public'))

    async def _hand_over_bookkeeping(self, conn: AsyncConnection) -> None:
        names = {"live": self.live, "rebuilder": self.rebuilder.name}
        await conn.execute(
            sa.text(
                "INSERT INTO public.consumer_offsets (consumer, topic, partition, next_offset) "
                f'SELECT :live, topic, partition, next_offset FROM "{self.schema}".consumer_offsets '
                "WHERE consumer = :rebuilder ON CONFLICT (consumer, topic, partition) "
                "DO UPDATE SET next_offset = EXCLUDED.next_offset"
            ),
            names,
        )
        # The live consumer's own rows stay: they are of events before its offsets, all of them
        # read by the new consumer too.
        await conn.execute(
            sa.text(
                "INSERT INTO public.processed_events (consumer, event_id, processed_at) "
                f'SELECT :live, event_id, processed_at FROM "{self.schema}".processed_events '
                "WHERE consumer = :rebuilder ON CONFLICT DO NOTHING"
            ),
            names,
        )

    async def _rebuilt_offsets(self, conn: AsyncConnection) -> Offsets:
        return await _offsets_of(conn, self.schema, self.rebuilder.name)

    async def _analyze(self) -> None:
        """Statistics for the planner before the new tables serve their first query."""
        async with self.engine.connect() as conn:
            for table in self.projection.tables:
                await conn.execute(sa.text(f'ANALYZE "{self.schema}"."{table.name}"'))
            await conn.commit()

    # --- what it needs around it ------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _only_one(self) -> AsyncIterator[None]:
        """One rebuild of a read model at a time (in any process): a session advisory lock."""
        key = {"key": f"bw-rebuild:{self.projection.name}"}
        async with self.engine.connect() as conn:
            got = await conn.scalar(sa.text("SELECT pg_try_advisory_lock(hashtext(:key))"), key)
            await conn.commit()
            if not got:
                raise RebuildFailed(f"a rebuild of {self.projection.name} is already running")
            try:
                yield
            finally:
                await conn.execute(sa.text("SELECT pg_advisory_unlock(hashtext(:key))"), key)
                await conn.commit()

    @contextlib.asynccontextmanager
    async def _kafka_offsets(self) -> AsyncIterator[_KafkaOffsets]:
        await kafka.ensure_topics(self.settings.kafka_bootstrap, *self.topics)
        client = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
            **kafka.client_options(),
        )
        await client.start()
        try:
            yield _KafkaOffsets(client)
        finally:
            await client.stop()


@dataclass
class _KafkaOffsets:
    client: AIOKafkaConsumer

    async def partitions(self, topics: Sequence[str]) -> list[TopicPartition]:
        await self.client.topics()  # fresh metadata
        return [TopicPartition(t, p) for t in topics for p in sorted(self.client.partitions_for_topic(t) or ())]

    async def beginning(self, topics: Sequence[str]) -> Offsets:
        return dict(await self.client.beginning_offsets(await self.partitions(topics)))

    async def end(self, topics: Sequence[str]) -> Offsets:
        return dict(await self.client.end_offsets(await self.partitions(topics)))


async def _copy_table(conn: AsyncConnection, name: str, schema: str) -> None:
    """`public.<name>`'s structure in `schema`, with its indexes and constraints named as they are."""
    source = f'public."{name}"'
    await conn.execute(sa.text(f'CREATE TABLE "{schema}"."{name}" (LIKE {source} INCLUDING ALL EXCLUDING INDEXES)'))
    constraints = await conn.execute(
        sa.text(
            "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint "
            "WHERE conrelid = CAST(:table AS regclass) AND contype IN ('p', 'u', 'x') ORDER BY conname"
        ),
        {"table": source},
    )
    for constraint in constraints.all():
        await conn.execute(
            sa.text(f'ALTER TABLE "{schema}"."{name}" ADD CONSTRAINT "{constraint.conname}" {constraint.definition}')
        )
    indexes = await conn.execute(
        sa.text(
            "SELECT pg_get_indexdef(i.indexrelid) AS definition FROM pg_index i "
            "WHERE i.indrelid = CAST(:table AS regclass) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conrelid = i.indrelid AND c.conindid = i.indexrelid) "
            "ORDER BY i.indexrelid"
        ),
        {"table": source},
    )
    for index in indexes.all():
        # "CREATE INDEX x ON public.t USING ...": the same index, on the copy (in the copy's schema).
        definition, found = re.subn(
            r" ON (ONLY )?\S+ USING ",
            lambda m: f' ON {m.group(1) or ""}"{schema}"."{name}" USING ',
            index.definition,
            count=1,
        )
        if not found:
            raise RebuildFailed(f"cannot read the definition of an index of {name}: {index.definition}")
        await conn.execute(sa.text(definition))


async def _migrations(conn: AsyncConnection) -> list[str]:
    rows = await conn.execute(sa.text("SELECT version_num FROM alembic_version ORDER BY version_num"))
    return [row.version_num for row in rows]


async def _offsets_of(conn: AsyncConnection, schema: str, consumer: str) -> Offsets:
    rows = await conn.execute(
        sa.text(f'SELECT topic, partition, next_offset FROM "{schema}".consumer_offsets WHERE consumer = :consumer'),
        {"consumer": consumer},
    )
    return {TopicPartition(r.topic, r.partition): r.next_offset for r in rows}


def _passed(rebuilt: Offsets, goal: Offsets, first: Offsets) -> bool:
    """Whether the rebuild has read every partition up to `goal`; one it has no offset for yet it
    has read up to the partition's first offset (nothing, or all a retention left)."""
    return all(rebuilt.get(tp, first.get(tp, 0)) >= offset for tp, offset in goal.items())


async def _still_running(consuming: asyncio.Task[None]) -> None:
    if consuming.done():
        consuming.result()  # its error, if it had one
        raise RebuildFailed("the rebuild's consumer stopped")


async def _stop(consuming: asyncio.Task[None]) -> None:
    if not consuming.done():
        consuming.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consuming


async def rebuild(settings: Settings, projections: Sequence[Projection], *, progress: bool = True) -> None:
    """Rebuild each read model in turn, while the gateway keeps serving."""
    engine = create_engine(settings)
    try:
        for projection in projections:
            await Rebuild(settings, engine, projection, progress=progress).run()
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    by_name = {p.name: p for p in read_models.PROJECTIONS}
    parser = argparse.ArgumentParser(
        prog="python -m gateway.rebuild",
        description=(
            "Rebuild read models from the beginning of the event topics into new tables while the "
            "serving ones keep answering, switch once the new ones have caught up with the live "
            "consumer, and drop the old ones. Settings come from BW_* variables, like the gateway's."
        ),
        epilog="read models: " + ", ".join(by_name),
    )
    parser.add_argument("read_models", nargs="*", metavar="READ_MODEL", help="a read model to rebuild")
    parser.add_argument("--all", action="store_true", help="rebuild every read model, one after the other")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.all == bool(args.read_models):
        parser.error("name the read models to rebuild, or --all")
    unknown = [name for name in args.read_models if name not in by_name]
    if unknown:
        parser.error(f"no read model named {', '.join(unknown)}; there are: {', '.join(by_name)}")
    chosen = list(by_name.values()) if args.all else [by_name[name] for name in args.read_models]
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        asyncio.run(rebuild(Settings(), chosen, progress=not args.quiet))
    except RebuildFailed as error:
        sys.exit(f"rebuild stopped: {error}")


if __name__ == "__main__":
    main()
