"""The committee service's directory: each factory's committees and advisory plans, in order, kept
in step with the events in the same transaction as each append. It answers what a command or a
read must know across streams (the factory's committees and plans, whose a committee or plan is)
without loading every stream. Like every read model it can be rebuilt from the events:

    python -m committee.directory rebuild      # with the service stopped; --help
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from betterwork_events.commands import rebuild_directory
from betterwork_events.contracts.advisory import AdvisoryPlanAgreed
from betterwork_events.contracts.committee import CommitteeDissolved, CommitteeEstablished
from betterwork_events.memory import Transaction
from betterwork_events.store import EventStore
from betterwork_events.web import create_engine
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class Kind(StrEnum):
    COMMITTEE = "committee"
    ADVISORY_PLAN = "advisory-plan"


metadata = sa.MetaData()
entries = sa.Table(
    "committee_directory",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("factory_id", sa.Text, nullable=False),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("number", sa.Integer, nullable=False),  # the committee's sequence, the plan's cycle
    sa.Column("dissolved_on", sa.Date),
)


@dataclass(frozen=True)
class Entry:
    id: str
    kind: Kind
    factory_id: str
    country: str
    number: int
    dissolved_on: dt.date | None = None


def committee_number(committee_id: str) -> int:
    """`KH-2026-0042-5-C2` → 2 (see domain.committee_id)."""
    return int(committee_id.rpartition("-C")[2])


def changes(events: Sequence[Any]) -> tuple[list[Entry], dict[str, dt.date]]:
    """What the events change in the directory: new entries, and committees dissolved (id → day)."""
    new: list[Entry] = []
    dissolved: dict[str, dt.date] = {}
    for event in events:
        match event:
            case CommitteeEstablished():
                number = committee_number(event.committee_id)
                new.append(Entry(event.committee_id, Kind.COMMITTEE, event.factory_id, event.country, number))
            case AdvisoryPlanAgreed():
                new.append(Entry(event.plan_id, Kind.ADVISORY_PLAN, event.factory_id, event.country, event.cycle))
            case CommitteeDissolved():
                dissolved[event.committee_id] = event.dissolved_on
    return new, dissolved


class Directory:
    """In the service's PostgreSQL database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def record(self, conn: AsyncConnection, events: Sequence[Any]) -> None:
        new, dissolved = changes(events)
        if new:
            await conn.execute(insert(entries).values([vars(entry) for entry in new]))
        for committee_id, day in dissolved.items():
            await conn.execute(entries.update().where(entries.c.id == committee_id).values(dissolved_on=day))

    async def entry(self, aggregate_id: str, kind: Kind) -> Entry | None:
        async with self.engine.connect() as conn:
            query = sa.select(entries).where(entries.c.id == aggregate_id, entries.c.kind == kind)
            row = (await conn.execute(query)).first()
        return _entry(row) if row else None

    async def of_factory(self, factory_id: str, kind: Kind) -> list[Entry]:
        """The factory's committees or plans, oldest first."""
        query = sa.select(entries).where(entries.c.factory_id == factory_id, entries.c.kind == kind)
        async with self.engine.connect() as conn:
            return [_entry(row) for row in await conn.execute(query.order_by(entries.c.number))]

    async def everything(self) -> list[Entry]:
        async with self.engine.connect() as conn:
            return [_entry(row) for row in await conn.execute(sa.select(entries).order_by(entries.c.id))]

    async def rebuild(self, store: EventStore) -> int:
        """Empty the directory and replay every event into it; how many events were replayed."""
        return await rebuild_directory(store, "committee_directory", self.record)


def _entry(row: sa.Row[Any]) -> Entry:
    return Entry(row.id, Kind(row.kind), row.factory_id, row.country, row.number, row.dissolved_on)


class InMemoryDirectory:
    """The same directory beside an InMemoryEventStore, for handler tests without PostgreSQL."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    async def record(self, transaction: Transaction, events: Sequence[Any]) -> None:
        new, dissolved = changes(events)

        def commit() -> None:
            self.entries |= {entry.id: entry for entry in new}
            for committee_id, day in dissolved.items():
                self.entries[committee_id] = replace(self.entries[committee_id], dissolved_on=day)

        transaction.on_commit.append(commit)

    async def entry(self, aggregate_id: str, kind: Kind) -> Entry | None:
        entry = self.entries.get(aggregate_id)
        return entry if entry is not None and entry.kind is kind else None

    async def of_factory(self, factory_id: str, kind: Kind) -> list[Entry]:
        found = [e for e in self.entries.values() if e.factory_id == factory_id and e.kind is kind]
        return sorted(found, key=lambda e: e.number)


def main() -> None:
    from committee.app import SERVICE
    from committee.settings import Settings

    parser = argparse.ArgumentParser(
        prog="python -m committee.directory",
        description="The committee service's directory of committees and advisory plans.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "rebuild",
        help="empty it and replay the service's own events into it (stop the service first); "
        "BW_DATABASE_URL names the database",
    )
    parser.parse_args()

    async def rebuild() -> None:
        engine = create_engine(Settings())
        store = EventStore(engine, source=f"/betterwork/{SERVICE}")
        try:
            print(f"replayed {await Directory(engine).rebuild(store)} events into the directory")
        finally:
            await store.close()
            await engine.dispose()

    asyncio.run(rebuild())


if __name__ == "__main__":
    main()
