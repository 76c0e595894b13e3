"""End-to-end benchmark of the whole system (`make bench`), every figure beside a baseline measured
in the same run and the issue's target; results in docs/benchmarks.md with plots.

    uv run --frozen python benchmarks/system.py            # the full run (tens of minutes)
    uv run --frozen python benchmarks/system.py --quick    # minutes: small data sets, short phases

It starts its own processes (the five services under uvicorn, relays and consumers inside them as
`make run` has them, and the hand-written baselines of benchmarks/baselines.py) against the shared
PostgreSQL and Kafka, in databases `bench_<run>_*` and topics `bench-<run>.*` of its own, which it
drops at the end. It never stops anything it did not start. Phases, each repeated `--runs` times:

  commands      the demo generator's realistic mix (register, enrol, link, schedule, record findings,
                review, remediate, committees and meetings, training and attendance: deploy/local/demo.py)
                at rising concurrency: commands/s, p50/p99 of each command's HTTP latency; baseline:
                a bare FastAPI route doing one INSERT, at the same concurrency.
  visibility    registrations at a steady 50, 100, 200/s; for a sample of them, the time from the
                accepted command until GraphQL `factory(id)` answers it (relay, Kafka, projection);
                baseline: the command's own latency. Target p99 < 250 ms at 200/s.
  graphql       the programme's factory page (50 factories, their assessments and findings), and
                the supplier dashboard of the brand with the most consenting suppliers, each under
                50 concurrent clients; baseline: a hand-written FastAPI JSON endpoint reading the same
                rows. Target: at least half its throughput.
  event store   libs/events/benchmarks/event_store.py: read_all against a raw select (and appends
                against raw inserts).
  rebuild       every gateway read model rebuilt from the topics into an empty database by a
                consumers worker: events/s; extrapolated to 100,000 factories. Target 50,000 events/s.
  matching      a registration's duplicate matching at 100, 10,000 and 100,000 factories in one
                country (in-process, through the registry's handler: whatever matching it has);
                baseline: the same registration with matching skipped (confirmed_new).
  memory        peak RSS (VmHWM) of every process started, against the pods' 512 MiB limit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import math
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
import demo  # noqa: E402  (the demo data generator, not a package)

PG_PORT = int(os.environ.get("BW_PG_PORT", "25432"))
KAFKA = f"127.0.0.1:{os.environ.get('BW_KAFKA_PORT', '29092')}"
SERVICES = {  # name → (package, database suffix)
    "factory-registry": "factory_registry",
    "assessment": "assessment",
    "committee": "committee",
    "training": "training",
    "gateway": "gateway",
}
DEMO_URL_NAMES = {"factory-registry": "registry"}
COUNTRIES = ("KH", "VN", "BD", "JO")  # the demo's; registrations spread over them as the programme's do
MEMORY_LIMIT_MIB = 512  # the pods' limit in deploy/k8s/base
TARGETS = {
    "visibility_p99_ms": 250.0,
    "graphql_share": 0.5,
    "rebuild_events_per_s": 50_000.0,
    "read_all_events_per_s": 200_000.0,
}
FACTORY_PAGE = (
    "{ factories(first: 50) { nodes { factoryId name country assessments(first: 5) { nodes { assessmentId status "
    "findings(first: 100) { nodes { questionId compliancePointId result } } } } } } }"
)


@dataclass(frozen=True)
class Plan:
    """How big each phase is: `--quick` for a run of minutes, the default for the committed figures."""

    demo_factories: int  # per concurrency level
    demo_cycles: int
    concurrency: tuple[float, ...]  # multiples of the demo's own per-service concurrency (8, 6, 4, 4)
    baseline_requests: int
    rates: tuple[int, ...]
    rate_seconds: float
    graphql_seconds: float
    graphql_clients: int
    matching_sizes: tuple[int, ...]
    event_store_events: int


QUICK = Plan(2, 1, (0.25, 0.5, 1.0), 400, (50, 100, 200), 2.0, 5.0, 50, (100, 1_000, 2_000), 3_000)
FULL = Plan(12, 3, (0.25, 0.5, 1.0, 2.0), 3_000, (50, 100, 200), 20.0, 20.0, 50, (100, 10_000, 100_000), 20_000)


def pg_url(database: str, driver: str = "postgresql+asyncpg") -> str:
    return f"{driver}://postgres@127.0.0.1:{PG_PORT}/{database}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def quantile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def say(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


# --- processes ---------------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    url: str
    popen: subprocess.Popen[bytes]
    log: Path

    def peak_rss_mib(self) -> float:
        """VmHWM: the most resident memory the process has had (read while it still runs)."""
        status = Path(f"/proc/{self.popen.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


class Bench:
    """The run's databases, topics and processes; everything is removed again by `close`."""

    def __init__(self, logs: Path) -> None:
        self.run = uuid.uuid4().hex[:8]
        self.prefix = f"bench-{self.run}."
        self.logs = logs
        self.databases: list[str] = []
        self.processes: list[Process] = []
        self.peaks: dict[str, float] = {}

    async def database(self, name: str, migrations_of: str | None) -> str:
        database = f"bench_{self.run}_{name.replace('-', '_')}"
        admin = await asyncpg.connect(host="127.0.0.1", port=PG_PORT, user="postgres", database="postgres")
        try:
            await admin.execute(f'CREATE DATABASE "{database}"')
        finally:
            await admin.close()
        self.databases.append(database)
        if migrations_of:
            env = os.environ | {"BW_DATABASE_URL": pg_url(database)}
            module = SERVICES[migrations_of]
            await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", f"{module}.migrate"],
                check=True,
                env=env,
                stdout=subprocess.DEVNULL,
            )
        return pg_url(database)

    def environment(self, database_url: str, **more: str) -> dict[str, str]:
        return os.environ | {
            "BW_DATABASE_URL": database_url,
            "BW_KAFKA_BOOTSTRAP": KAFKA,
            "BW_TOPIC_PREFIX": self.prefix,
            "BW_ENVIRONMENT": "development",
            **more,
        }

    async def start(self, name: str, command: list[str], env: dict[str, str], port: int) -> Process:
        log = self.logs / f"{name}.log"
        popen = subprocess.Popen(  # noqa: ASYNC220  (starting it does not wait for it)
            [sys.executable, "-m", *command],
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        process = Process(name, f"http://127.0.0.1:{port}", popen, log)
        self.processes.append(process)
        async with httpx.AsyncClient() as client:
            deadline = time.monotonic() + 120
            while True:
                if popen.poll() is not None:
                    raise SystemExit(f"{name} exited with {popen.returncode}; see {log}")
                try:
                    if (await client.get(f"{process.url}/health")).status_code < 500:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"{name} did not start in 120 s; see {log}")
                await asyncio.sleep(0.2)
        return process

    async def uvicorn(self, name: str, factory: str, env: dict[str, str]) -> Process:
        port = free_port()
        command = [
            "uvicorn",
            "--factory",
            factory,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        return await self.start(name, command, env, port)

    def stop(self, process: Process) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.peaks[process.name] = max(self.peaks.get(process.name, 0.0), process.peak_rss_mib())
        process.stop()
        self.processes.remove(process)

    async def close(self) -> None:
        for process in list(self.processes):
            self.stop(process)
        admin = await asyncpg.connect(host="127.0.0.1", port=PG_PORT, user="postgres", database="postgres")
        try:
            for database in self.databases:
                await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await admin.close()
        from aiokafka.admin import AIOKafkaAdminClient

        kafka = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
        await kafka.start()
        try:
            ours = [t for t in await kafka.list_topics() if t.startswith(self.prefix)]
            if ours:
                await kafka.delete_topics(ours)
        finally:
            await kafka.close()


@dataclass
class Stack:
    urls: dict[str, str]
    services: dict[str, Process]
    gateway_env: dict[str, str]


async def start_stack(bench: Bench) -> Stack:
    databases = {s: await bench.database(s, s) for s in SERVICES}
    say(f"databases bench_{bench.run}_* migrated; starting the services")
    services: dict[str, Process] = {}
    registry_url = ""
    gateway_env: dict[str, str] = {}
    for service, module in SERVICES.items():
        env = bench.environment(databases[service], BW_REGISTRY_URL=registry_url)
        if service == "gateway":
            gateway_env = env
        services[service] = await bench.uvicorn(service, f"{module}.app:create_app", env)
        if service == "factory-registry":
            registry_url = services[service].url
    return Stack({s: p.url for s, p in services.items()}, services, gateway_env)


# --- measurements ------------------------------------------------------------------------------


@dataclass
class Latencies:
    seconds: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.seconds.append(value)

    def ms(self, q: float) -> float:
        return quantile(self.seconds, q) * 1000


def timed_client_class(latencies: Latencies) -> type[httpx.AsyncClient]:
    """An httpx client recording the latency of every successful command (not GET) it sends."""

    async def started(request: httpx.Request) -> None:
        request.extensions["bench_started"] = time.perf_counter()

    async def answered(response: httpx.Response) -> None:
        if response.request.method != "GET" and response.is_success:
            latencies.add(time.perf_counter() - response.request.extensions["bench_started"])

    class TimedClient(httpx.AsyncClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, event_hooks={"request": [started], "response": [answered]}, **kwargs)

    return TimedClient


async def command_mix(stack: Stack, plan: Plan, factor: float, seed: int) -> dict[str, float]:
    """The demo's programme sent at `factor` times its own concurrency; every command timed."""
    latencies = Latencies()
    urls = demo.Urls(**{DEMO_URL_NAMES.get(s, s): u for s, u in stack.urls.items()})
    original_concurrency, original_client = dict(demo.CONCURRENCY), httpx.AsyncClient
    demo.CONCURRENCY.update({s: max(1, round(n * factor)) for s, n in original_concurrency.items()})
    in_flight = sum(demo.CONCURRENCY.values())
    httpx.AsyncClient = timed_client_class(latencies)  # type: ignore[misc]
    original_plan = demo.plan

    def plan_with_own_brands(size: demo.Size, seed: int, today: dt.date | None = None) -> demo.Plan:
        # Every level loads another seed's programme into the same registry, which refuses a brand
        # name twice; the demo's brand names repeat across seeds, so each seed's get its number.
        programme = original_plan(size, seed, today)
        programme.brands = [dataclasses.replace(b, name=f"{b.name} {seed}") for b in programme.brands]
        return programme

    demo.plan = plan_with_own_brands
    try:
        started = time.perf_counter()
        loaded = await demo.load(urls, demo.Size(plan.demo_factories, plan.demo_cycles), seed)
        seconds = time.perf_counter() - started
    finally:
        httpx.AsyncClient = original_client  # type: ignore[misc]
        demo.plan = original_plan
        demo.CONCURRENCY.clear()
        demo.CONCURRENCY.update(original_concurrency)
    return {
        "in_flight": in_flight,
        "commands": loaded.commands,
        "per_s": loaded.commands / seconds,
        "p50_ms": latencies.ms(0.5),
        "p99_ms": latencies.ms(0.99),
    }


async def bare_inserts(url: str, requests: int, in_flight: int) -> dict[str, float]:
    latencies = Latencies()
    body = {"factory_id": "KH-2026-0001-4", "question_id": "OSH-17", "result": "non_compliant", "evidence": "x" * 200}
    queue = iter(range(requests))
    limits = httpx.Limits(max_connections=in_flight)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            for _ in queue:
                t0 = time.perf_counter()
                response = await client.post("/rows", json=body)
                response.raise_for_status()
                latencies.add(time.perf_counter() - t0)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        seconds = time.perf_counter() - started
    return {"per_s": requests / seconds, "p50_ms": latencies.ms(0.5), "p99_ms": latencies.ms(0.99)}


def programme() -> dict[str, str]:
    from betterwork_events.auth import Audience, mint

    return {"Authorization": f"Bearer {mint(demo.SETTINGS, Audience.PROGRAMME, subject='bench-reader')}"}


async def visibility(stack: Stack, rate: int, seconds: float, run: int) -> dict[str, Any]:
    """Registrations sent at a steady `rate` (open loop); every fifth followed until GraphQL shows it."""
    headers = programme()
    accepted, visible = Latencies(), Latencies()
    refused: list[int] = []
    count = int(rate * seconds)
    limits = httpx.Limits(max_connections=400)
    query = "query ($id: ID!) { factory(id: $id) { factoryId } }"
    async with (
        httpx.AsyncClient(base_url=stack.urls["factory-registry"], limits=limits, timeout=60) as registry,
        httpx.AsyncClient(base_url=stack.urls["gateway"], limits=limits, timeout=60) as gateway,
    ):

        async def follow(factory_id: str, accepted_at: float) -> None:
            while time.perf_counter() - accepted_at < 30:
                try:
                    answer = await gateway.post(
                        "/graphql", json={"query": query, "variables": {"id": factory_id}}, headers=headers
                    )
                except httpx.TransportError:
                    answer = None
                if answer is not None and answer.is_success and answer.json()["data"]["factory"] is not None:
                    visible.add(time.perf_counter() - accepted_at)
                    return
                await asyncio.sleep(0.01)

        async def register(i: int) -> None:
            body = {
                "name": f"Visibility {run}-{rate}-{i} Garment Co., Ltd.",
                "country": COUNTRIES[i % len(COUNTRIES)],
                "address": f"Plot {i}, Special Economic Zone",
                "confirmed_new": True,
            }
            t0 = time.perf_counter()
            try:
                response = await registry.post("/factories", json=body, headers=headers)
            except httpx.TransportError:  # the server dropped the connection: refused too
                refused.append(0)
                return
            if not response.is_success:
                refused.append(response.status_code)
                return
            done = time.perf_counter()
            accepted.add(done - t0)
            if i % 5 == 0:
                await follow(response.json()["id"], done)

        started = time.perf_counter()
        tasks = []
        for i in range(count):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(register(i)))
        await asyncio.gather(*tasks)
        sent_seconds = max(time.perf_counter() - started, 1e-9)
    return {
        "rate": rate,
        "achieved_per_s": len(accepted.seconds) / sent_seconds,
        "accepted_p50_ms": accepted.ms(0.5),
        "accepted_p99_ms": accepted.ms(0.99),
        "visible_p50_ms": visible.ms(0.5),
        "visible_p99_ms": visible.ms(0.99),
        "followed": len(visible.seconds),
        "refused": len(refused),
        "refused_statuses": sorted(set(refused)),
    }


async def hammer(
    send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]], base_url: str, clients: int, seconds: float
) -> tuple[dict[str, float], Any]:
    latencies = Latencies()
    failed: list[int] = []
    last: list[Any] = [None]
    async with httpx.AsyncClient(base_url=base_url, limits=httpx.Limits(max_connections=clients), timeout=60) as http:
        await send(http)  # warm: the first query parses and plans
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    response = await send(http)
                except httpx.TransportError:
                    failed.append(0)
                    continue
                if not response.is_success:  # e.g. 503: no database connection free within 5 s
                    failed.append(response.status_code)
                    continue
                latencies.add(time.perf_counter() - t0)
                last[0] = response.json()

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    figures = {"per_s": len(latencies.seconds) / elapsed, "p50_ms": latencies.ms(0.5), "p99_ms": latencies.ms(0.99)}
    return figures | {"failed": len(failed)}, last[0]


def page_rows(answer: dict[str, Any]) -> tuple[int, int, int]:
    nodes = answer["data"]["factories"]["nodes"]
    assessments = [a for f in nodes for a in f["assessments"]["nodes"]]
    return len(nodes), len(assessments), sum(len(a["findings"]["nodes"]) for a in assessments)


async def graphql_page(stack: Stack, handwritten: Process, plan: Plan) -> dict[str, Any]:
    headers = programme()

    async def graphql(http: httpx.AsyncClient) -> httpx.Response:
        return await http.post("/graphql", json={"query": FACTORY_PAGE}, headers=headers)

    async def plain(http: httpx.AsyncClient) -> httpx.Response:
        return await http.get("/factory-page")

    ours, ours_answer = await hammer(graphql, stack.urls["gateway"], plan.graphql_clients, plan.graphql_seconds)
    base, base_answer = await hammer(plain, handwritten.url, plan.graphql_clients, plan.graphql_seconds)
    if "errors" in ours_answer:
        raise SystemExit(f"the factory page query failed: {ours_answer['errors']}")
    return {
        "graphql": ours,
        "handwritten": base,
        "rows": page_rows(ours_answer),
        "baseline_rows": page_rows(base_answer),
    }


BRAND_DASHBOARD = (
    "{ brandDashboard { countries { country clusters { clusterId suppliers { nonComplianceRate factories } "
    "country { nonComplianceRate factories suppressed } } } } }"
)


async def busiest_brand(gateway_database_url: str) -> tuple[str, int]:
    """The brand with the most consenting suppliers, and how many."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(gateway_database_url)
    try:
        async with engine.connect() as conn:
            found = (
                await conn.execute(
                    sa.text(
                        "SELECT l.brand_id, count(*) AS suppliers FROM supplier_links l JOIN report_sharing_consents c "
                        "ON c.factory_id = l.factory_id AND c.brand_id = l.brand_id "
                        "GROUP BY l.brand_id ORDER BY count(*) DESC, l.brand_id LIMIT 1"
                    )
                )
            ).first()
    finally:
        await engine.dispose()
    if found is None:
        raise SystemExit("no brand has a consenting supplier: the commands phase loads them")
    return str(found.brand_id), int(found.suppliers)


def dashboard_cells(answer: dict[str, Any]) -> int:
    return sum(len(c["clusters"]) for c in answer["data"]["brandDashboard"]["countries"])


async def brand_dashboard(stack: Stack, handwritten: Process, plan: Plan) -> dict[str, Any]:
    from betterwork_events.auth import Audience, mint

    brand, suppliers = await busiest_brand(stack.gateway_env["BW_DATABASE_URL"])
    headers = {"Authorization": f"Bearer {mint(demo.SETTINGS, Audience.BRAND, brand, subject='bench-buyer')}"}

    async def graphql(http: httpx.AsyncClient) -> httpx.Response:
        return await http.post("/graphql", json={"query": BRAND_DASHBOARD}, headers=headers)

    async def plain(http: httpx.AsyncClient) -> httpx.Response:
        return await http.get("/brand-dashboard", params={"brand": brand})

    ours, ours_answer = await hammer(graphql, stack.urls["gateway"], plan.graphql_clients, plan.graphql_seconds)
    base, base_answer = await hammer(plain, handwritten.url, plan.graphql_clients, plan.graphql_seconds)
    if "errors" in ours_answer:
        raise SystemExit(f"the brand dashboard query failed: {ours_answer['errors']}")
    return {
        "graphql": ours,
        "handwritten": base,
        "suppliers": suppliers,
        "cells": dashboard_cells(ours_answer),
        "baseline_cells": dashboard_cells(base_answer),
    }


async def event_store(plan: Plan) -> dict[str, Any]:
    command = [
        sys.executable,
        str(ROOT / "libs" / "events" / "benchmarks" / "event_store.py"),
        "--events",
        str(plan.event_store_events),
        "--no-progress",
    ]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, check=True)
    figures: dict[str, Any] = {"output": done.stdout}
    for line in done.stdout.splitlines():
        numbers = [float(n.replace(",", "")) for n in re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w])", line)]
        if line.startswith("read_all"):
            figures["read_all_per_s"] = numbers[3]
        elif line.startswith("raw select"):
            figures["raw_select_per_s"] = numbers[3]
        elif line.startswith("append, new"):
            figures["append_per_s"] = numbers[3]
        elif line.startswith("raw insert"):
            figures["raw_insert_per_s"] = numbers[2]
    return figures


async def end_offsets(topics: Sequence[str]) -> dict[Any, int]:
    """Every partition of these topics (those that exist) and its end offset: how many records it holds."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    partitions = [
        TopicPartition(t["topic"], p["partition"]) for t in described if t["error_code"] == 0 for p in t["partitions"]
    ]
    if not partitions:
        return {}
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def rebuild(bench: Bench, stack: Stack) -> dict[str, float]:
    """A consumers worker on an empty gateway database replays every topic (the gateway API, in the
    same consumer groups, is stopped by then)."""
    from gateway.read_models import PROJECTIONS

    expected: dict[str, list[str]] = {
        c.name: [f"{bench.prefix}{s}.events" for s in c.projection.services]
        for c in (p.consumer(bench.prefix) for p in PROJECTIONS)
    }
    topics = sorted({t for ts in expected.values() for t in ts})
    ends = await end_offsets(topics)
    on_topic = {t: sum(n for tp, n in ends.items() if tp.topic == t) for t in topics}
    applications = sum(on_topic[t] for ts in expected.values() for t in ts)
    database = await bench.database(f"rebuild_{len(bench.databases)}", "gateway")
    env = stack.gateway_env | {"BW_DATABASE_URL": database}
    port = free_port()
    worker = await bench.start(
        f"gateway-rebuild-{len(bench.databases)}",
        ["betterwork_events.worker", "gateway", "consumers", "--port", str(port)],
        env,
        port,
    )
    conn = await asyncpg.connect(database.replace("postgresql+asyncpg", "postgresql"))
    first: float | None = None
    try:
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            rows = await conn.fetch("SELECT consumer, topic, partition, next_offset FROM consumer_offsets")
            if rows and first is None:
                first = time.perf_counter()
            done = {(r["consumer"], r["topic"], r["partition"]): r["next_offset"] for r in rows}
            behind = [
                (name, tp)
                for name, ts in expected.items()
                for tp, end in ends.items()
                if tp.topic in ts and end > 0 and done.get((name, tp.topic, tp.partition), 0) < end
            ]
            if not behind:
                break
            await asyncio.sleep(0.05)
        else:
            raise SystemExit("the rebuild did not finish in 30 minutes")
        finished = time.perf_counter()
        factories = await conn.fetchval("SELECT count(*) FROM factories")
    finally:
        await conn.close()
    bench.stop(worker)
    seconds = finished - (first or finished)
    events = sum(on_topic.values())
    return {
        "events": events,
        "applications": applications,
        "seconds": seconds,
        "events_per_s": events / seconds if seconds else float("nan"),
        "applications_per_s": applications / seconds if seconds else float("nan"),
        "factories": factories,
    }


async def relay_backlog(bench: Bench, database_url: str, run: int) -> dict[str, float]:
    """A relay worker publishing a registry's whole event store (a backlog, as after an outage) to a
    topic of its own: events/s from its first record on Kafka to its last."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        events = int(await conn.fetchval("SELECT count(*) FROM events"))
        await conn.execute("DELETE FROM relay_checkpoints")  # from the start of the store again
    finally:
        await conn.close()
    prefix = f"{bench.prefix}relay{run}."  # a topic of its own, empty
    port = free_port()
    env = bench.environment(database_url) | {"BW_TOPIC_PREFIX": prefix}
    worker = await bench.start(
        f"factory-registry-relay-{run}",
        ["betterwork_events.worker", "factory-registry", "relay", "--port", str(port)],
        env,
        port,
    )
    first: float | None = None
    try:
        topic = f"{prefix}factory-registry.events"
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            published = sum((await end_offsets([topic])).values())
            if published and first is None:
                first = time.perf_counter()
            if published >= events:
                break
            await asyncio.sleep(0.05)
        else:
            raise SystemExit("the relay did not publish its backlog in 30 minutes")
        seconds = time.perf_counter() - (first or time.perf_counter())
    finally:
        bench.stop(worker)
    return {"events": events, "seconds": seconds, "events_per_s": events / seconds if seconds else float("nan")}


async def matching(bench: Bench, sizes: Sequence[int], runs: int) -> tuple[list[dict[str, Any]], str]:
    """Registrations in a country of N factories, with the registry's duplicate matching and without."""
    from betterwork_events.contracts.factory_registry import FactoryProfile
    from betterwork_events.errors import IllegalStep
    from betterwork_events.store import CommandContext, EventStore
    from factory_registry import handlers
    from sqlalchemy.ext.asyncio import create_async_engine

    database_url = await bench.database("matching", "factory-registry")
    engine = create_async_engine(database_url, pool_size=8, max_overflow=0)
    store = EventStore(engine, source="/betterwork/factory-registry")
    context = CommandContext(actor="bench")
    rng = random.Random(2026)
    words = [w for names in (demo.BRAND_PREFIXES, demo.BRAND_SUFFIXES) for w in names] + [
        "Garment", "Apparel", "Textile", "Knitwear", "Fashion", "Footwear", "Industrial", "Manufacturing",
    ]  # fmt: skip

    def profile(tag: str) -> FactoryProfile:
        name = " ".join(rng.sample(words, 3)) + f" {tag} Co., Ltd."
        return FactoryProfile(name=name, country="KH", address=f"{rng.randint(1, 999)} Street {tag}, Phnom Penh")

    async def populate(count: int) -> None:
        # Registrations in one country take the next number in turn: concurrent ones collide and
        # retry (handlers.ALLOCATION_ATTEMPTS), so a few workers only, and a collision is retried.
        queue = iter(range(count))

        async def worker() -> None:
            for i in queue:
                while True:
                    command = handlers.RegisterFactory(profile(f"P{i}"), confirmed_new=True)
                    try:
                        await handlers.register_factory(command, store, context)
                        break
                    except IllegalStep:
                        continue

        await asyncio.gather(*(worker() for _ in range(3)))

    async def timed(confirmed_new: bool, n: int) -> list[float]:
        out = []
        for i in range(n):
            command = handlers.RegisterFactory(profile(f"T{uuid.uuid4().hex[:6]}"), confirmed_new=confirmed_new)
            t0 = time.perf_counter()
            with contextlib.suppress(handlers.LikelyDuplicates):
                await handlers.register_factory(command, store, context)
            out.append((time.perf_counter() - t0) * 1000)
            del i
        return out

    results: list[dict[str, Any]] = []
    have = 0
    try:
        for size in sizes:
            say(f"matching: registering up to {size:,} factories in KH")
            await populate(size - have)
            have = size
            per_run = []
            for _ in range(runs):
                matched, skipped = await timed(False, 10), await timed(True, 10)
                per_run.append((statistics.median(matched), statistics.median(skipped)))
                have += 20
            results.append(
                {
                    "factories": size,
                    "matched_ms": [m for m, _ in per_run],
                    "skipped_ms": [s for _, s in per_run],
                }
            )
    finally:
        await store.close()
        await engine.dispose()
    return results, database_url


# --- the report --------------------------------------------------------------------------------


def spread(values: Sequence[float], digits: int = 0) -> str:
    """Median and the range of the runs: `1,234 (1,100-1,300)`."""
    values = [v for v in values if v == v]  # drop NaN
    if not values:
        return "-"
    fmt = f"{{:,.{digits}f}}"
    median = fmt.format(statistics.median(values))
    if len(values) == 1:
        return median
    return f"{median} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def plots(results: dict[str, Any], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    made = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        made.append(name)

    if results.get("commands"):
        levels = results["commands"]
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        xs = [lv["in_flight"] for lv in levels]
        for key, label in (("per_s", "commands/s"),):
            left.errorbar(xs, *_median_err([lv["runs"] for lv in levels], key), marker="o", label="services (demo mix)")
            left.errorbar(
                xs, *_median_err([lv["baseline"] for lv in levels], key), marker="s", label="bare INSERT route"
            )
            left.set_ylabel(label)
        for key, style in (("p50_ms", "-"), ("p99_ms", "--")):
            right.errorbar(
                xs,
                *_median_err([lv["runs"] for lv in levels], key),
                marker="o",
                linestyle=style,
                label=f"services {key[:3]}",
            )
            right.errorbar(
                xs,
                *_median_err([lv["baseline"] for lv in levels], key),
                marker="s",
                linestyle=style,
                label=f"bare {key[:3]}",
            )
        right.set_ylabel("ms")
        right.set_yscale("log")
        for ax in (left, right):
            ax.set_xlabel("commands in flight")
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
        fig.suptitle("Command throughput and latency over HTTP")
        save(fig, "commands.png")

    if results.get("visibility"):
        rates = results["visibility"]
        fig, ax = plt.subplots(figsize=(6, 4))
        xs = [r["rate"] for r in rates]
        for key, label in (
            ("visible_p50_ms", "visible p50"),
            ("visible_p99_ms", "visible p99"),
            ("accepted_p99_ms", "accepted p99 (baseline)"),
        ):
            ax.errorbar(xs, *_median_err([r["runs"] for r in rates], key), marker="o", label=label)
        ax.axhline(TARGETS["visibility_p99_ms"], color="red", linestyle=":", label="target p99")
        ax.set_xlabel("registrations/s offered")
        ax.set_ylabel("ms after the command was accepted")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        ax.set_title("Command to GraphQL visibility")
        save(fig, "visibility.png")

    if results.get("graphql"):
        fig, ax = plt.subplots(figsize=(6, 4))
        labels = ["GraphQL factory page", "hand-written JSON"]
        values = [
            [r["graphql"]["per_s"] for r in results["graphql"]],
            [r["handwritten"]["per_s"] for r in results["graphql"]],
        ]
        medians = [statistics.median(v) for v in values]
        ax.bar(
            labels,
            medians,
            yerr=[
                [m - min(v) for m, v in zip(medians, values, strict=True)],
                [max(v) - m for m, v in zip(medians, values, strict=True)],
            ],
            capsize=6,
        )
        ax.set_ylabel("pages/s (50 clients)")
        ax.set_title("Programme factory page: 50 factories, assessments, findings")
        save(fig, "graphql.png")

    if results.get("matching"):
        sizes = results["matching"]
        fig, ax = plt.subplots(figsize=(6, 4))
        xs = [s["factories"] for s in sizes]
        for key, label in (("matched_ms", "with duplicate matching"), ("skipped_ms", "confirmed_new (baseline)")):
            ys = [statistics.median(s[key]) for s in sizes]
            err = [
                [y - min(s[key]) for y, s in zip(ys, sizes, strict=True)],
                [max(s[key]) - y for y, s in zip(ys, sizes, strict=True)],
            ]
            ax.errorbar(xs, ys, yerr=err, marker="o", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("factories in the country")
        ax.set_ylabel("ms per registration (median)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        ax.set_title("Duplicate matching cost")
        save(fig, "matching.png")
    return made


def _median_err(runs: Sequence[Sequence[dict[str, float]]], key: str) -> tuple[list[float], list[list[float]]]:
    ys, low, high = [], [], []
    for r in runs:
        values = [x[key] for x in r if x[key] == x[key]]
        m = statistics.median(values) if values else float("nan")
        ys.append(m)
        low.append(m - min(values) if values else 0)
        high.append(max(values) - m if values else 0)
    return ys, [low, high]


def demo_events_per_factory_cycle(results: dict[str, Any], args: argparse.Namespace) -> float:
    """Events per demo factory and cycle: the topics' events less the visibility phase's registrations
    (one event each), over the demo factories the commands phase loaded."""
    plan: Plan = args.plan
    registrations = sum(
        rate["rate"] * plan.rate_seconds - run["refused"]
        for rate in results.get("visibility", [])
        for run in rate["runs"]
    )
    demo_factories = plan.demo_factories * len(results.get("commands", [])) * args.runs
    return (results["rebuild"][-1]["events"] - registrations) / max(demo_factories * plan.demo_cycles, 1)


def against_handwritten(runs: Sequence[dict[str, Any]], unit: str, ours: str, baseline: str) -> tuple[list[str], float]:
    """A GraphQL query's table beside its hand-written baseline, and the median share of its throughput."""

    def row(label: str, figures: list[dict[str, float]]) -> str:
        rate, p50, p99 = ([f[k] for f in figures] for k in ("per_s", "p50_ms", "p99_ms"))
        failed = [f.get("failed", math.nan) for f in figures]
        return f"| {label} | {spread(rate, 1)} | {spread(p50)} | {spread(p99)} | {spread(failed)} |"

    mine, theirs = [r["graphql"] for r in runs], [r["handwritten"] for r in runs]
    share = statistics.median(o["per_s"] / b["per_s"] for o, b in zip(mine, theirs, strict=True))
    header = [f"| | {unit}/s | p50 ms | p99 ms | failed |", "| --- | ---: | ---: | ---: | ---: |"]
    return [*header, row(ours, mine), row(baseline, theirs)], share


def report(results: dict[str, Any], args: argparse.Namespace, images: list[str]) -> str:
    lines: list[str] = []
    add = lines.append
    meta = results["meta"]
    add("# Benchmarks")
    add("")
    add(
        f"The latest `make bench` ({'`--quick`' if args.quick else 'full'}, {args.runs} runs), {meta['date']}: "
        f"{meta['cpus']} CPUs shared by PostgreSQL, Kafka, the services and the load generator; load average "
        f"{meta['load_start']} at the start, {meta['load_end']} at the end. Each figure is the median of the runs "
        "with their range in brackets, beside a baseline measured in the same run and the issue's target. "
        "`uv run --frozen python benchmarks/system.py --help` says what each phase does."
    )
    if args.note:
        add("")
        add(f"**{args.note}**")
    add("")
    add("## Commands over HTTP (the demo's realistic mix)")
    add("")
    if not results.get("commands"):
        add(f"Not measured in this run: {results.get('failed', {}).get('commands', 'left out (--phases)')}")
        add("")
    else:
        add("| in flight | commands/s | p50 ms | p99 ms | bare INSERT route /s | p50 ms | p99 ms | share |")
        add("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for level in results["commands"]:
            ours, base = level["runs"], level["baseline"]
            share = statistics.median(o["per_s"] / b["per_s"] for o, b in zip(ours, base, strict=True))
            add(
                f"| {level['in_flight']} | {spread([o['per_s'] for o in ours], 1)} | {spread([o['p50_ms'] for o in ours])} | "
                f"{spread([o['p99_ms'] for o in ours])} | {spread([b['per_s'] for b in base], 1)} | "
                f"{spread([b['p50_ms'] for b in base])} | {spread([b['p99_ms'] for b in base])} | {share:.0%} |"
            )
        add("")
        add(
            "Commands per level: "
            + ", ".join(str(int(statistics.median(o["commands"] for o in lv["runs"]))) for lv in results["commands"])
            + ". The mix waits where the demo's users would (a service that has not yet learnt of a new factory "
            "answers 404 until the registry's event reaches it, and the demo retries), so its throughput includes "
            "the event path. No target in the issue: the bare route is the ceiling."
        )
        add("")
        add("![commands](benchmarks/commands.png)")
        add("")
    add("## From an accepted command to GraphQL")
    add("")
    if not results.get("visibility"):
        add(f"Not measured in this run: {results.get('failed', {}).get('visibility', 'left out (--phases)')}")
        add("")
    else:
        add(
            "| offered /s | achieved /s | refused | accepted p50 ms | accepted p99 ms | visible p50 ms | visible p99 ms | target p99 | |"
        )
        add("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for rate in results["visibility"]:
            runs = rate["runs"]
            p99 = statistics.median(r["visible_p99_ms"] for r in runs)
            met = "" if rate["rate"] != 200 else verdict(p99 < TARGETS["visibility_p99_ms"])
            add(
                f"| {rate['rate']} | {spread([r['achieved_per_s'] for r in runs], 1)} | {spread([r['refused'] for r in runs])} | "
                f"{spread([r['accepted_p50_ms'] for r in runs])} | "
                f"{spread([r['accepted_p99_ms'] for r in runs])} | {spread([r['visible_p50_ms'] for r in runs])} | "
                f"{spread([r['visible_p99_ms'] for r in runs])} | {TARGETS['visibility_p99_ms']:.0f} | {met} |"
            )
        add("")
        add(
            "Registrations (with `confirmed_new`, so matching is left to its own phase) sent open-loop at the offered "
            "rate; every fifth is followed with `factory(id)` queries every 10 ms until it appears. The baseline is the "
            "command's own latency: the rest is the relay, Kafka and the projection. Where *achieved* is below "
            "*offered*, the services could not take the rate and commands queued; *refused* counts the commands answered 503 "
            "(no database connection free within 5 s) or dropped, and are left out of the latencies."
        )
        add("")
        add("![visibility](benchmarks/visibility.png)")
        add("")
    add("## GraphQL: the programme's factory page")
    add("")
    if not results.get("graphql"):
        add(f"Not measured in this run: {results.get('failed', {}).get('graphql', 'left out (--phases)')}")
        add("")
    else:
        g = results["graphql"]
        rows, base_rows = g[-1]["rows"], g[-1]["baseline_rows"]
        table, share = against_handwritten(
            g,
            "pages",
            "GraphQL `factories(first: 50)` with assessments and findings",
            "hand-written FastAPI JSON, same rows (baseline)",
        )
        for line in table:
            add(line)
        add("")
        add(
            f"GraphQL reaches {share:.0%} of the hand-written endpoint's throughput; target at least "
            f"{TARGETS['graphql_share']:.0%}: {verdict(share >= TARGETS['graphql_share'])}. {args.plan.graphql_clients} "
            f"concurrent clients. A page held {rows[0]} factories, {rows[1]} assessments and {rows[2]} findings "
            f"(the baseline's: {base_rows[0]}, {base_rows[1]}, {base_rows[2]}). *failed*: requests answered 503 (no "
            "database connection free within 5 s) or dropped, left out of the rates and latencies."
        )
        add("")
        add("![graphql](benchmarks/graphql.png)")
        add("")
    add("## GraphQL: a brand's supplier dashboard")
    add("")
    if not results.get("brand_dashboard"):
        add(f"Not measured in this run: {results.get('failed', {}).get('graphql', 'left out (--phases)')}")
        add("")
    else:
        d = results["brand_dashboard"]
        table, share = against_handwritten(
            d,
            "dashboards",
            "GraphQL `brandDashboard`, a brand's token",
            "hand-written FastAPI JSON, same rows, one query (baseline)",
        )
        for line in table:
            add(line)
        add("")
        add(
            f"GraphQL reaches {share:.0%} of the hand-written endpoint's throughput; target at least "
            f"{TARGETS['graphql_share']:.0%}: {verdict(share >= TARGETS['graphql_share'])}. The brand with the most "
            f"consenting suppliers ({d[-1]['suppliers']}), {args.plan.graphql_clients} concurrent clients, "
            f"{d[-1]['cells']} country-and-cluster cells (the baseline's: {d[-1]['baseline_cells']}). Each GraphQL "
            "request also asks the registry which factories share their reports with the brand now (the gateway's "
            "rule for brands); the baseline trusts its own copy of the consents."
        )
        add("")
    add("## Event store read-back")
    add("")
    if not results.get("event_store"):
        add(f"Not measured in this run: {results.get('failed', {}).get('event_store', 'left out (--phases)')}")
        add("")
    else:
        es = results["event_store"]
        add("| | events/s | baseline (raw asyncpg) | ratio | target |")
        add("| --- | ---: | ---: | ---: | --- |")
        read = [e["read_all_per_s"] for e in es]
        raw = [e["raw_select_per_s"] for e in es]
        add(
            f"| `read_all` | {spread(read)} | {spread(raw)} raw select | "
            f"{statistics.median(r / s for r, s in zip(read, raw, strict=True)):.0%} | 200,000/s: "
            f"{verdict(statistics.median(read) >= TARGETS['read_all_events_per_s'])} |"
        )
        app = [e["append_per_s"] for e in es]
        ins = [e["raw_insert_per_s"] for e in es]
        add(
            f"| `append` (new streams) | {spread(app)} | {spread(ins)} raw insert | "
            f"{statistics.median(a / i for a, i in zip(app, ins, strict=True)):.0%} | 60% of raw: "
            f"{verdict(statistics.median(a / i for a, i in zip(app, ins, strict=True)) >= 0.6)} |"
        )
        add("")
        add(f"From `libs/events/benchmarks/event_store.py --events {args.plan.event_store_events}`; its last output:")
        add("")
        add("```")
        add(es[-1]["output"].strip())
        add("```")
        add("")
    add("## Rebuilding the read models")
    add("")
    if not results.get("rebuild"):
        add(f"Not measured in this run: {results.get('failed', {}).get('rebuild', 'left out (--phases)')}")
        add("")
    else:
        rb = results["rebuild"]
        per_s = [r["events_per_s"] for r in rb]
        app_s = [r["applications_per_s"] for r in rb]
        rate = statistics.median(per_s)
        add("| events on the topics | seconds | events/s | projection applications/s | target | |")
        add("| ---: | ---: | ---: | ---: | ---: | --- |")
        add(
            f"| {int(rb[-1]['events']):,} | {spread([r['seconds'] for r in rb], 1)} | {spread(per_s)} | {spread(app_s)} | "
            f"50,000 | {verdict(rate >= TARGETS['rebuild_events_per_s'])} |"
        )
        add("")
        factories = int(rb[-1]["factories"])
        cycle = demo_events_per_factory_cycle(results, args)
        add(
            f"Every gateway read model (its {len(results['meta']['projections'])} projections, each reading the topics "
            f"it needs) rebuilt by one consumers worker into an empty database, timed from its first stored offset to "
            f"the last partition caught up; *projection applications* count an event once for each projection that "
            f"reads its topic. The data: {factories:,} factories, most of them the visibility phase's bare "
            f"registrations (one event each); the demo's factories carry about {cycle:,.0f} events per factory and "
            f"assessment cycle. At the measured rate, a programme-sized set (1,700 factories, five cycles: "
            f"{1_700 * 5 * cycle:,.0f} events) rebuilds in {1_700 * 5 * cycle / rate / 60:,.1f} minutes, and an "
            f"industry-sized one (100,000 factories, five cycles: {100_000 * 5 * cycle:,.0f} events) in "
            f"{100_000 * 5 * cycle / rate / 3600:,.1f} hours, with one consumers worker. Each projection's consumer "
            "group spreads over up to 12 partitions, so up to 12 workers replay in parallel, as far as the read-model "
            "database keeps up."
        )
        add("")
    add("## Duplicate matching")
    add("")
    if not results.get("matching"):
        add(f"Not measured in this run: {results.get('failed', {}).get('matching', 'left out (--phases)')}")
        add("")
    else:
        add(
            "| factories in the country | registration with matching, ms | without (confirmed_new), ms | matching costs, ms |"
        )
        add("| ---: | ---: | ---: | ---: |")
        for size in results["matching"]:
            cost = [m - s for m, s in zip(size["matched_ms"], size["skipped_ms"], strict=True)]
            add(
                f"| {size['factories']:,} | {spread(size['matched_ms'], 1)} | {spread(size['skipped_ms'], 1)} | {spread(cost, 1)} |"
            )
        add("")
        add(
            "Through the registry's own handler (`handlers.register_factory`), in-process, so what is measured is "
            "whatever matching the registry has; the median of 10 registrations per run. Target: flat in the number "
            "of factories (it should go through an index)."
        )
        add("")
        add("![matching](benchmarks/matching.png)")
        add("")
    add("## One relay")
    add("")
    if not results.get("relay"):
        add(f"Not measured in this run: {results.get('failed', {}).get('matching', 'left out (--phases)')}")
        add("")
    else:
        relay = results["relay"]
        add("| events in the store | seconds | events/s to Kafka |")
        add("| ---: | ---: | ---: |")
        add(
            f"| {int(relay[-1]['events']):,} | {spread([r['seconds'] for r in relay], 1)} | "
            f"{spread([r['events_per_s'] for r in relay])} |"
        )
        add("")
        add(
            "A relay worker (`python -m betterwork_events.worker factory-registry relay`) publishing the matching "
            "phase's event store to a topic of its own, from its first record on Kafka to its last: the rate one "
            "relay catches up at after an outage. Its baseline is the event store's own `read_all` above (the relay "
            "cannot publish faster than it reads). No target in the issue."
        )
        add("")
    add("## Memory")
    add("")
    add("| process | peak RSS MiB | limit in deploy/k8s | |")
    add("| --- | ---: | ---: | --- |")
    for name, mib in sorted(results["memory"].items()):
        add(f"| {name} | {mib:,.0f} | {MEMORY_LIMIT_MIB} | {verdict(mib < MEMORY_LIMIT_MIB)} |")
    add("")
    add(
        "VmHWM of each process over the whole run (the services with their relays and consumers inside, as "
        "`make run` has them; the baselines for comparison)."
    )
    add("")
    return "\n".join(lines) + "\n"


# --- main --------------------------------------------------------------------------------------


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    logs = (
        ROOT / ".local" / "bench" if not os.environ.get("BW_LOCAL_DIR") else Path(os.environ["BW_LOCAL_DIR"]) / "bench"
    )
    logs = Path(args.logs) if args.logs else logs
    logs.mkdir(parents=True, exist_ok=True)
    bench = Bench(logs)
    load_start = " ".join(f"{x:.1f}" for x in os.getloadavg())
    results: dict[str, Any] = {}
    try:
        stack = await start_stack(bench)
        baseline_db = await bench.database("bare", None)
        bare = await bench.uvicorn("bare-insert", "benchmarks.baselines:bare_insert", bench.environment(baseline_db))
        gateway_db = stack.gateway_env["BW_DATABASE_URL"]
        handwritten = await bench.uvicorn(
            "portal-pages", "benchmarks.baselines:portal_pages", bench.environment(gateway_db)
        )
        for phase in args.phases:
            try:
                await PHASES[phase](bench, stack, args, results, bare=bare, handwritten=handwritten)
            except Exception as error:  # one phase failing leaves the others' figures standing
                say(f"{phase} failed: {error!r}")
                results.setdefault("failed", {})[phase] = repr(error)[:500]
            (logs / "results-so-far.json").write_text(json.dumps(results, indent=2, default=str))
        for process in list(bench.processes):
            bench.stop(process)
        results["memory"] = bench.peaks
    finally:
        await bench.close()
    from gateway.read_models import PROJECTIONS

    results["meta"] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "load_start": load_start,
        "load_end": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "projections": [p.name for p in PROJECTIONS],
    }
    return results


Phase = Callable[..., Awaitable[None]]


async def commands_phase(
    bench: Bench, stack: Stack, args: argparse.Namespace, results: dict[str, Any], **kw: Any
) -> None:
    plan: Plan = args.plan
    for i, factor in enumerate(plan.concurrency):
        level: dict[str, Any] = {"runs": [], "baseline": []}
        for run in range(args.runs):
            say(f"commands: concurrency x{factor}, run {run + 1}")
            figures = await command_mix(stack, plan, factor, seed=9000 + 100 * i + run)
            level["runs"].append(figures)
            level["in_flight"] = figures["in_flight"]
            level["baseline"].append(
                await bare_inserts(kw["bare"].url, plan.baseline_requests, int(figures["in_flight"]))
            )
        results.setdefault("commands", []).append(level)


async def visibility_phase(
    bench: Bench, stack: Stack, args: argparse.Namespace, results: dict[str, Any], **kw: Any
) -> None:
    for rate in args.plan.rates:
        entry: dict[str, Any] = {"rate": rate, "runs": []}
        for run in range(args.runs):
            say(f"visibility: {rate}/s, run {run + 1}")
            entry["runs"].append(await visibility(stack, rate, args.plan.rate_seconds, run))
        results.setdefault("visibility", []).append(entry)


async def graphql_phase(
    bench: Bench, stack: Stack, args: argparse.Namespace, results: dict[str, Any], **kw: Any
) -> None:
    for run in range(args.runs):
        say(f"graphql: factory page, run {run + 1}")
        results.setdefault("graphql", []).append(await graphql_page(stack, kw["handwritten"], args.plan))
        say(f"graphql: brand dashboard, run {run + 1}")
        results.setdefault("brand_dashboard", []).append(await brand_dashboard(stack, kw["handwritten"], args.plan))


async def event_store_phase(
    bench: Bench, stack: Stack, args: argparse.Namespace, results: dict[str, Any], **kw: Any
) -> None:
    for run in range(args.runs):
        say(f"event store, run {run + 1}")
        results.setdefault("event_store", []).append(await event_store(args.plan))


async def rebuild_phase(
    bench: Bench, stack: Stack, args: argparse.Namespace, results: dict[str, Any], **kw: Any
) -> None:
    if "gateway" in {p.name for p in bench.processes}:  # the phases after this one need no gateway
        bench.stop(stack.services["gateway"])
    for run in range(args.runs):
        say(f"rebuild, run {run + 1}")
        results.setdefault("rebuild", []).append(await rebuild(bench, stack))


async def matching_phase(
    bench: Bench, stack: Stack, args: argparse.Namespace, results: dict[str, Any], **kw: Any
) -> None:
    results["matching"], database_url = await matching(bench, args.plan.matching_sizes, args.runs)
    for run in range(args.runs):
        say(f"relay: the matching phase's backlog, run {run + 1}")
        results.setdefault("relay", []).append(await relay_backlog(bench, database_url, run))


PHASES: dict[str, Phase] = {
    "commands": commands_phase,
    "visibility": visibility_phase,
    "graphql": graphql_phase,
    "event_store": event_store_phase,
    "rebuild": rebuild_phase,
    "matching": matching_phase,
}


def merged(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Several invocations' results as one: each phase from the last that measured it."""
    result: dict[str, Any] = {"failed": {}, "memory": {}}
    for run in runs:
        for phase, figures in run.items():
            if phase in ("failed", "memory"):
                continue
            if phase == "meta" and "meta" in result:
                figures = figures | {"load_start": result["meta"]["load_start"]}
            if figures:
                result[phase] = figures
                result["failed"].pop(phase, None)
        for phase, error in run.get("failed", {}).items():
            if not run.get(phase):
                result["failed"][phase] = error
        for name, mib in run.get("memory", {}).items():
            result["memory"][name] = max(mib, result["memory"].get(name, 0.0))
    return result


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/system.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small data sets and short phases (minutes)")
    parser.add_argument("--runs", type=int, default=3, help="repetitions of every phase (default %(default)s)")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "docs" / "benchmarks.md",
        help="the report (default %(default)s); plots beside it",
    )
    parser.add_argument("--no-report", action="store_true", help="print the figures as JSON only; write no files")
    parser.add_argument(
        "--report-from",
        type=Path,
        nargs="+",
        help="measure nothing: write the report from runs' results.json (later files' phases win; same flags)",
    )
    parser.add_argument("--note", default="", help="a sentence for the report, e.g. how busy the machine was")
    parser.add_argument("--logs", help="where the started processes log (default .local/bench/)")
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help="which phases, comma-separated (default: all; graphql and rebuild need the data commands loads)",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    args.plan = QUICK if args.quick else FULL
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if unknown := [p for p in args.phases if p not in PHASES]:
        parser.error(f"no such phase: {', '.join(unknown)} (phases: {', '.join(PHASES)})")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    results = merged([json.loads(f.read_text()) for f in args.report_from]) if args.report_from else None
    results = results or asyncio.run(measure(args))
    if args.no_report:
        print(json.dumps({k: v for k, v in results.items()}, indent=2, default=str))
        return
    images = plots(results, args.out.parent / "benchmarks")
    text = report(results, args, images)
    args.out.write_text(text)
    (args.out.parent / "benchmarks" / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(text)


if __name__ == "__main__":
    main()
