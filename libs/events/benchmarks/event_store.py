"""Benchmark of the event store against the raw limit of the same PostgreSQL (`make bench`).

    uv run python libs/events/benchmarks/event_store.py [--events N] [--connections 8]

It creates a scratch database `bench_event_store_<pid>` on the server, applies the factory
registry's migrations (the real event store schema), runs the phases below and drops the database
again. Every figure is printed beside a raw baseline measured in the same run:

  raw insert     plain asyncpg INSERTs of the same rows into a bare table (only a primary key; the
                 columns of the events table, `data` as json like it), one autocommit statement
                 per row, from N concurrent connections: the raw limit;
  append new     EventStore.append of one event to a new stream (expected_version=0), from N
                 concurrent tasks sharing one store (its own connection pool of N);
  append next    the same, to the streams just created, at their next version;
  raw select     plain asyncpg SELECTs of the same rows from the bare table, in keyset batches;
  read_all       EventStore.read_all over every event, in batches of the same size, in a process
                 whose startup objects are frozen out of the cyclic GC as the services' are.

Targets (from the issue): appends at least 60% of the raw limit, read-back at least 200,000
events/s. The bench reports whether they are met; it never fails because of them.

The append phases take turns in rounds (`--rounds`), so load from elsewhere on the machine hits
them alike; the reads are the median of `--read-passes` passes.

`--breakdown` adds variants that split the gaps into their causes: plain asyncpg INSERTs into the
events table itself (what its unique and (transaction, position) indexes cost, beside what the
store adds in the client), the raw select with the JSON decoded (what a reader that looks into
every event pays), and read_all with the cyclic GC switched off, and with nothing frozen.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
from betterwork_events.catalogue import EventContract
from betterwork_events.contracts.factory_registry import (
    Contact,
    FactoryProfile,
    FactoryProfileUpdated,
    FactoryRegistered,
    GeoPoint,
    Ownership,
    RegistrationNumber,
    Workforce,
)
from betterwork_events.migrations import upgrade
from betterwork_events.settings import CommonSettings
from betterwork_events.store import Checkpoint, CommandContext, EventStore
from betterwork_events.web import create_engine
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[3]
MIGRATIONS = ROOT / "services" / "factory-registry" / "factory_registry" / "migrations"
SOURCE = "/betterwork/factory-registry"

APPEND_TARGET = 0.60  # of the raw limit
READ_TARGET = 200_000  # events/s

WARM_UP_ROUNDS = 20  # appends per connection before timing

COUNTRIES = ("KH", "BD", "VN", "ID", "JO", "HT", "NI", "EG")

RAW_TABLE = """
CREATE TABLE raw_events (
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        uuid,
    stream_id       text,
    version         integer,
    type            text,
    data            json,
    factory_id      text,
    actor           text,
    correlation_id  uuid,
    causation_id    uuid,
    traceparent     text,
    recorded_at     timestamptz DEFAULT now(),
    transaction_id  xid8 DEFAULT pg_current_xact_id()
)
"""
INSERT_COLUMNS = (
    "event_id, stream_id, version, type, data, factory_id, actor, correlation_id, causation_id, traceparent"
)
RAW_INSERT = f"INSERT INTO raw_events ({INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
# The columns EventStore.read_all selects (see store._COLUMNS).
READ_COLUMNS = f"position, {INSERT_COLUMNS}, recorded_at, transaction_id::text::bigint AS txid"
RAW_SELECT = f"SELECT {READ_COLUMNS} FROM raw_events WHERE position > $1 ORDER BY position LIMIT $2"


# --- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One append: an event for a stream, with what a command handler would pass along."""

    stream_id: str
    event: EventContract
    data: dict[str, Any]  # the event as JSON, for the raw inserts


def profile(i: int, tag: str, street: str = "National Road 4") -> FactoryProfile:
    """A factory profile of the size the registry records (about 700 bytes of JSON)."""
    country = COUNTRIES[i % len(COUNTRIES)]
    return FactoryProfile(
        name=f"{tag} Garment Factory No. {i} Co., Ltd.",
        country=country,
        address=f"Lot {i}, {street}, Sangkat Kantok, Khan Pou Senchey, Phnom Penh",
        location=GeoPoint(latitude=11.5 + i % 100 / 1000, longitude=104.9 - i % 100 / 1000),
        products=("t-shirts", "knitwear", "sportswear"),
        workforce=Workforce(total=1200 + i % 500, women=950, men=250 + i % 500, migrant=40),
        ownership=Ownership(parent_group="Bench Apparel Holdings", ownership_country="HK"),
        registration_numbers=(RegistrationNumber(authority="Ministry of Commerce", number=f"{tag}-{i:07d}"),),
        contacts=(Contact(name="Sok Dara", role="HR manager", email="hr@example.com", phone="+855 12 345 678"),),
    )


def registrations(count: int, tag: str) -> list[Command]:
    commands = []
    for i in range(count):
        factory_id = f"{COUNTRIES[i % len(COUNTRIES)]}-{tag}-{uuid4().hex[:12]}"  # unique across phases and runs
        event = FactoryRegistered(factory_id=factory_id, profile=profile(i, tag))
        commands.append(Command(f"factory-{factory_id}", event, event.model_dump(mode="json")))
    return commands


def profile_updates(registered: list[Command]) -> list[Command]:
    commands = []
    for i, command in enumerate(registered):
        moved = profile(i, "Bench", street="National Road 3")
        event = FactoryProfileUpdated(
            factory_id=command.event.factory_id_key or "", profile=moved, changed=("address",)
        )
        commands.append(Command(command.stream_id, event, event.model_dump(mode="json")))
    return commands


CONTEXT = CommandContext(actor="programme:bench", correlation_id=uuid4())


def raw_args(command: Command, version: int) -> tuple[Any, ...]:
    return (
        uuid4(),
        command.stream_id,
        version,
        command.event.event_type,
        json.dumps(command.data),
        command.event.factory_id_key,
        CONTEXT.actor,
        CONTEXT.correlation_id,
        CONTEXT.causation_id,
        None,  # traceparent: no trace is active in the bench, so the store writes none either
    )


# --- measuring ----------------------------------------------------------------------------------

Operation = Callable[[int, int], Awaitable[None]]  # (worker number, index of the event)


@dataclass
class Measurement:
    name: str
    events: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # per append, seconds (none for reads)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def latency_ms(self, quantile: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] * 1000


@dataclass
class AppendPhase:
    """One way of appending events, timed in rounds interleaved with the other phases."""

    name: str
    operation: Operation
    warm_up: Operation
    result: Measurement = field(init=False)

    def __post_init__(self) -> None:
        self.result = Measurement(self.name)

    async def run(self, indexes: range, workers: int, bar: tqdm) -> None:
        """operation(worker, i) for every i in `indexes`, from `workers` concurrent tasks."""
        queue = iter(indexes)  # shared: each task takes the next index
        latencies: list[float] = []
        step = 100

        async def worker(number: int) -> None:
            done = 0
            for i in queue:
                started = time.perf_counter()
                await self.operation(number, i)
                latencies.append(time.perf_counter() - started)
                done += 1
                if done % step == 0:
                    bar.update(step)
            bar.update(done % step)

        bar.set_description(f"{self.name:<40.40}")
        started = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(workers)))
        self.result.seconds += time.perf_counter() - started
        self.result.events += len(indexes)
        self.result.latencies += latencies

    async def warm(self, workers: int, rounds: int = WARM_UP_ROUNDS) -> None:
        """Open every connection and prepare every statement before the clock starts."""

        async def worker(number: int) -> None:
            for r in range(rounds):
                await self.warm_up(number, number * rounds + r)

        await asyncio.gather(*(worker(n) for n in range(workers)))


def progress_bar(description: str, total: int, enabled: bool) -> tqdm:
    return tqdm(
        total=total,
        desc=description,
        unit="ev",
        unit_scale=True,
        leave=False,
        mininterval=0.5,
        disable=not enabled,
        file=sys.stderr,
    )


# --- appends ------------------------------------------------------------------------------------


def raw_phase(name: str, connections: list[asyncpg.Connection], table: str, count: int, workers: int) -> AppendPhase:
    """Plain asyncpg: one autocommit INSERT per row on the worker's own connection."""
    statement = RAW_INSERT.replace("raw_events", table, 1)
    commands, warm_up = registrations(count, name), registrations(workers * WARM_UP_ROUNDS, "Warm-up")

    async def one(worker: int, i: int) -> None:
        await connections[worker].execute(statement, *raw_args(commands[i], 1))

    async def warm(worker: int, i: int) -> None:
        await connections[worker].execute(statement, *raw_args(warm_up[i], 1))

    return AppendPhase(name, one, warm)


def store_phase(
    name: str, store: EventStore, commands: list[Command], expected_version: int, workers: int
) -> AppendPhase:
    warm_up = registrations(workers * WARM_UP_ROUNDS, "Warm-up")  # fresh streams: never collide

    async def one(worker: int, i: int) -> None:
        command = commands[i]
        await store.append(command.stream_id, [command.event], expected_version, context=CONTEXT)

    async def warm(worker: int, i: int) -> None:
        await store.append(warm_up[i].stream_id, [warm_up[i].event], 0, context=CONTEXT)

    return AppendPhase(name, one, warm)


# --- reads --------------------------------------------------------------------------------------


async def all_readable(store: EventStore, expected: int, patience: float = 120.0) -> None:
    """Wait until read_all can hand out every event (untimed).

    read_all stops below the oldest transaction still running anywhere in the cluster, so a long
    transaction in another database on the same server (another test run, say) can hold the
    bench's last events back for a while. Once readable they stay readable.
    """
    deadline = time.monotonic() + patience
    checkpoint, seen = Checkpoint(), 0
    while True:
        batch = await store.read_all(checkpoint, limit=50_000)
        checkpoint, seen = batch.checkpoint, seen + len(batch.events)
        if seen >= expected:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"after {patience:.0f}s read_all still hands out only {seen} of {expected} events: "
                "a transaction older than them is open in the cluster (see pg_stat_activity.backend_xid)"
            )
        if len(batch.events) < 50_000:
            await asyncio.sleep(0.05)


async def read_all(
    store: EventStore, expected: int, limit: int, passes: int, progress: bool, name: str = "read_all"
) -> Measurement:
    await all_readable(store, expected)
    times = []
    for n in range(passes):
        with progress_bar(f"read_all (pass {n + 1}/{passes})", expected, progress) as bar:
            started = time.perf_counter()
            checkpoint, seen = Checkpoint(), 0
            while seen < expected:
                batch = await store.read_all(checkpoint, limit=limit)
                checkpoint = batch.checkpoint
                seen += len(batch.events)
                bar.update(len(batch.events))
                if len(batch.events) < limit and seen < expected:
                    raise RuntimeError(f"read_all found {seen} events, expected {expected}")
            times.append(time.perf_counter() - started)
    return Measurement(f"{name} (limit {limit:,})", expected, statistics.median(times))


async def raw_selects(
    url: str, expected: int, limit: int, passes: int, progress: bool, decode: bool = False
) -> Measurement:
    """Keyset SELECTs of the bare table; `data` stays JSON text unless `decode` (json.loads, kept)."""
    connection = await asyncpg.connect(url)
    times = []
    try:
        for n in range(passes):
            with progress_bar(f"raw select (pass {n + 1}/{passes})", expected, progress) as bar:
                started = time.perf_counter()
                position, seen = 0, 0
                while True:
                    rows = await connection.fetch(RAW_SELECT, position, limit)
                    if decode:
                        decoded = [json.loads(row["data"]) for row in rows]
                        del decoded
                    seen += len(rows)
                    bar.update(len(rows))
                    if len(rows) < limit:
                        break
                    position = rows[-1]["position"]
                times.append(time.perf_counter() - started)
            if seen != expected:
                raise RuntimeError(f"raw select found {seen} rows, expected {expected}")
    finally:
        await connection.close()
    name = f"raw select, asyncpg{' + json.loads' if decode else ''} (limit {limit:,})"
    return Measurement(name, expected, statistics.median(times))


# --- report -------------------------------------------------------------------------------------


def report(
    server: dict[str, str],
    args: argparse.Namespace,
    raw_in: Measurement,
    appends: list[Measurement],
    raw_out: Measurement,
    read: Measurement,
    extra: list[Measurement],
    extra_reads: list[Measurement],
) -> None:
    print()
    print(
        f"PostgreSQL {server['server_version']}, synchronous_commit={server['synchronous_commit']}; "
        f"{os.cpu_count()} CPUs shared by server and client; {args.connections} connections; "
        f"appends timed in {args.rounds} interleaved rounds; reads: median of {args.read_passes} passes"
    )
    # Other work on the machine moves every figure (the ratios less, as the phases take turns).
    print(
        "load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}, at end: {:.2f} {:.2f} {:.2f}".format(
            *args.load, *os.getloadavg()
        )
    )
    header = (
        f"{'':44} {'events':>8} {'seconds':>8} {'events/s':>10} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'raw ev/s':>10} {'ratio':>6}  target"
    )
    print(header)
    print("-" * (len(header) + 30))

    def line(m: Measurement, baseline: Measurement | None = None, verdict: str = "") -> None:
        raw = f"{baseline.rate:>10,.0f}" if baseline else f"{'':>10}"
        ratio = f"{m.rate / baseline.rate:>6.0%}" if baseline and baseline.rate else f"{'':>6}"
        latency = f"{m.latency_ms(0.5):>7.2f} {m.latency_ms(0.99):>7.2f}" if m.latencies else f"{'':>7} {'':>7}"
        print(f"{m.name:44} {m.events:>8,} {m.seconds:>8.2f} {m.rate:>10,.0f} {latency} {raw} {ratio}  {verdict}")

    line(raw_in)
    for m in appends:
        met = m.rate >= APPEND_TARGET * raw_in.rate
        line(m, raw_in, f"appends >= {APPEND_TARGET:.0%} of raw: {'met' if met else 'MISSED'}")
    line(raw_out)
    met = read.rate >= READ_TARGET
    line(read, raw_out, f"read-back >= {READ_TARGET:,}/s: {'met' if met else 'MISSED'}")
    if extra:
        print()
        print("breakdown of the append path (each beside the raw insert)")
        for m in extra:
            line(m, raw_in)
    if extra_reads:
        print()
        print("breakdown of the read path (each beside the raw select)")
        for m in extra_reads:
            line(m, raw_out)


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    port = os.environ.get("BW_PG_PORT", "25432")
    parser = argparse.ArgumentParser(
        description="Benchmark EventStore.append and read_all against the raw limit of the same PostgreSQL.",
        epilog="Targets: appends >= 60% of raw inserts; read-back >= 200,000 events/s. A report only: the exit "
        "status does not depend on them.",
    )
    parser.add_argument("--events", type=int, default=20_000, help="events per append phase (default: %(default)s)")
    parser.add_argument(
        "--connections", type=int, default=8, help="concurrent connections and tasks (default: %(default)s)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="the append phases take turns in this many rounds, so background load hits them alike (default: %(default)s)",
    )
    parser.add_argument("--read-limit", type=int, default=5_000, help="batch size of the reads (default: %(default)s)")
    parser.add_argument(
        "--read-passes",
        type=int,
        default=3,
        help="reads are timed as the median of this many passes (default: %(default)s)",
    )
    parser.add_argument(
        "--server",
        default=f"postgresql://postgres@127.0.0.1:{port}",
        help="PostgreSQL server URL without a database; a scratch database bench_event_store_<pid> is created "
        "there and dropped afterwards (default: %(default)s)",
    )
    parser.add_argument(
        "--breakdown", action="store_true", help="also time variants between raw inserts and EventStore.append"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if min(args.events, args.connections, args.rounds, args.read_limit, args.read_passes) < 1:
        parser.error("counts must be positive")
    args.rounds = min(args.rounds, args.events)
    args.load = os.getloadavg()
    return args


async def scratch_database(admin: asyncpg.Connection, name: str, server_url: str, databases: list[str]) -> str:
    """Create a database (dropped at the end); returns its SQLAlchemy URL."""
    await admin.execute(f'CREATE DATABASE "{name}"')
    databases.append(name)
    return f"{server_url}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)


async def main(args: argparse.Namespace) -> None:
    progress = not args.no_progress
    server_url = args.server.rstrip("/")
    database = f"bench_event_store_{os.getpid()}"
    url = f"{server_url}/{database}"
    n, workers = args.events, args.connections

    admin = await asyncpg.connect(f"{server_url}/postgres")
    databases: list[str] = []
    cleanups: list[Callable[[], Awaitable[Any]]] = []
    try:
        engine_url = await scratch_database(admin, database, server_url, databases)
        await asyncio.to_thread(upgrade, MIGRATIONS, engine_url)
        setup = await asyncpg.connect(url)
        cleanups.append(setup.close)
        await setup.execute(RAW_TABLE)
        server = {name: await setup.fetchval(f"SHOW {name}") for name in ("server_version", "synchronous_commit")}

        print("preparing events …", file=sys.stderr)
        connections = [await asyncpg.connect(url) for _ in range(workers)]
        cleanups += [c.close for c in connections]
        engine = create_engine(CommonSettings(database_url=engine_url))  # the services' own settings
        store = EventStore(engine, SOURCE, pool_size=max(10, workers))
        cleanups += [engine.dispose, store.close]
        new_streams = registrations(n, "Bench")

        raw = raw_phase("raw insert (asyncpg, autocommit)", connections, "raw_events", n, workers)
        appends = [
            store_phase("append, new streams (v=0)", store, new_streams, 0, workers),
            store_phase("append, existing streams (next v)", store, profile_updates(new_streams), 1, workers),
        ]
        extra: list[AppendPhase] = []
        if args.breakdown:
            extra = [raw_phase("raw insert into the events table", connections, "events", n, workers)]
        phases = [raw, *appends, *extra]
        for phase in phases:
            await phase.warm(workers)

        # (a) and (b): every phase in turn, round after round, so load from elsewhere hits them alike.
        with progress_bar("appends", n * len(phases), progress) as bar:
            bounds = [n * r // args.rounds for r in range(args.rounds + 1)]
            for start, stop in itertools.pairwise(bounds):
                for phase in phases:
                    await phase.run(range(start, stop), workers, bar)
        raw_in, appended, extra_results = raw.result, [p.result for p in appends], [p.result for p in extra]
        # The prepared commands (about a hundred objects each) are the bench's, not the store's: a
        # service reading its events does not hold them, so the cyclic GC should not walk them.
        del raw, appends, extra, phases, new_streams
        gc.collect()
        gc.freeze()  # as a service does once it has started (see web.service_app)

        # (c) read-back: the bare table gets exactly the event store's rows, so both read the same rows.
        await setup.execute(
            f"TRUNCATE raw_events; INSERT INTO raw_events OVERRIDING SYSTEM VALUE "
            f"SELECT position, {INSERT_COLUMNS}, recorded_at, transaction_id FROM events ORDER BY position"
        )
        await setup.execute("VACUUM (ANALYZE) events")
        await setup.execute("VACUUM (ANALYZE) raw_events")
        stored = await setup.fetchval("SELECT count(*) FROM events")
        raw_out = await raw_selects(url, stored, args.read_limit, args.read_passes, progress)
        read = await read_all(store, stored, args.read_limit, args.read_passes, progress)
        extra_reads = []
        if args.breakdown:
            extra_reads.append(await raw_selects(url, stored, args.read_limit, args.read_passes, progress, decode=True))
            gc.disable()  # how much of read_all is the cyclic GC walking the decoded events
            try:
                extra_reads.append(
                    await read_all(store, stored, args.read_limit, args.read_passes, progress, "read_all, gc disabled")
                )
            finally:
                gc.enable()
            gc.unfreeze()  # and how much more when every full collection walks the whole process again
            extra_reads.append(
                await read_all(store, stored, args.read_limit, args.read_passes, progress, "read_all, nothing frozen")
            )

        report(server, args, raw_in, appended, raw_out, read, extra_results, extra_reads)
    finally:
        for cleanup in reversed(cleanups):
            await cleanup()
        for name in databases:
            if args.keep:
                print(f"kept database {name}", file=sys.stderr)
            else:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
