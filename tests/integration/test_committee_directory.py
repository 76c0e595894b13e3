"""The committee directory is a read model: rebuilt from the committee service's own events (or
filled by its migration from events stored before it existed), it is the one kept live."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys

import sqlalchemy as sa
from betterwork_events.commands import CommandRequest
from betterwork_events.contracts.factory_registry import ServicePackage
from betterwork_events.factories import KnownFactory
from betterwork_events.migrations import upgrade
from betterwork_events.store import CommandContext, EventStore
from committee.directory import Directory
from committee.handlers import Service
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import MIGRATIONS, ROOT

FACTORIES = {
    f.id: f
    for f in [
        KnownFactory("KH-2026-0042-5", "Angkor Apparel Co., Ltd.", "KH", "enrolled", 2400, 1980, ServicePackage.CORE),
        KnownFactory("BD-2026-0007-3", "Dhaka Knit Composite", "BD", "enrolled", 5200, 3900, ServicePackage.CORE),
    ]
}
ESTABLISHED = dt.date(2026, 3, 2)


async def known(factory_id: str) -> KnownFactory:
    return FACTORIES[factory_id]


def sent(name: str) -> CommandRequest:
    return CommandRequest(name, CommandContext(actor="programme:manager-dara"))


async def test_the_directory_rebuilt_from_the_events_equals_the_one_kept_live(create_database) -> None:
    engine = create_async_engine(url := await create_database("committee"))
    store = EventStore(engine, source="/betterwork/committee")
    committees = Service(store, Directory(engine), known)
    try:
        for factory_id in FACTORIES:
            first = await committees.establish_committee(sent("establish"), factory_id, ESTABLISHED)
            await committees.agree_plan(
                sent("agree"),
                factory_id,
                ESTABLISHED,
                ESTABLISHED + dt.timedelta(days=365),
                "Pich Sopheap",
                2,
                [],
                None,
            )
        await committees.change_committee(
            sent("dissolve"), first.aggregate.id, lambda c, today: c.dissolve(dt.date(2026, 4, 1), "resigned", today)
        )
        await committees.establish_committee(sent("establish"), "BD-2026-0007-3", dt.date(2026, 4, 2))
        kept = await committees.directory.everything()
        assert [(e.id, e.dissolved_on) for e in kept if e.factory_id == "BD-2026-0007-3"] == [
            ("BD-2026-0007-3-AP1", None),
            ("BD-2026-0007-3-C1", dt.date(2026, 4, 1)),
            ("BD-2026-0007-3-C2", None),
        ]

        # By the command operators run, with the service stopped.
        environment = {"BW_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
        rebuilt = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "committee.directory", "rebuild"],
            env=environment,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        assert rebuilt.stdout.strip() == "replayed 6 events into the directory"
        assert await committees.directory.everything() == kept

        # The migration that made the directory filled it from the events already there.
        async with engine.begin() as conn:
            await conn.execute(sa.text("DROP TABLE committee_directory, command_requests"))
            await conn.execute(sa.text("UPDATE alembic_version SET version_num = '0006'"))
        await asyncio.to_thread(upgrade, MIGRATIONS["committee"], url)
        assert await committees.directory.everything() == kept
    finally:
        await store.close()
        await engine.dispose()
