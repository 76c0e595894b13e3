"""Rebuilding read models while the gateway serves: queries keep answering throughout, and after
the switch the rebuilt tables hold every event exactly once, those published during the rebuild too."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from betterwork_events.contracts import assessment as ae
from gateway.read_models import PROJECTIONS, directory, history
from gateway.rebuild import Rebuild, RebuildFailed, main, rebuild
from gateway.settings import Settings
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.read_side import PROGRAMME, ReadSide
from tests.support import eventually

TIMELINE = """query ($id: ID!) {
  factory(id: $id) { name history(first: 5) { totalCount nodes { type } } }
  factories(first: 50) { nodes { factoryId } }
}"""
SCHEDULED = "org.betterwork.assessment.scheduled.v1"


def visit(factory_id: str) -> ae.AssessmentScheduled:
    return ae.AssessmentScheduled(
        assessment_id=str(uuid.uuid4()),
        factory_id=factory_id,
        country="KH",
        planned_date=dt.date(2026, 6, 1),
        assessors=("assessor-sokha",),
        tool_version="KH-global-1",
    )


async def history_rows(engine: AsyncEngine, factory_id: str) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT event_id FROM factory_history WHERE factory_id = :f"), {"f": factory_id}
        )
        return [row.event_id for row in rows]


async def indexes_and_schemas(engine: AsyncEngine) -> tuple[set[tuple[str, str]], set[str]]:
    async with engine.connect() as conn:
        indexes = await conn.execute(
            sa.text(
                "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public' "
                "AND tablename IN ('factory_history', 'factories', 'supplier_links', 'report_sharing_consents')"
            )
        )
        schemas = await conn.execute(sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rm\\_%'"))
        return {(r.tablename, r.indexname) for r in indexes}, {r.nspname for r in schemas}


async def test_queries_answer_throughout_a_rebuild_and_the_switch_loses_nothing(read_side: ReadSide) -> None:
    settings: Settings = read_side.gateway_app.state.runtime.settings
    engine: AsyncEngine = read_side.gateway_app.state.runtime.engine
    angkor = await read_side.factory("Angkor Apparel Co., Ltd.")
    mekong = await read_side.factory("Mekong Footwear Ltd.")
    before = [await read_side.publish(visit(angkor), f"assessment-{i}") for i in range(40)]
    await eventually(lambda: _has(engine, angkor, 3 + 40), what="Angkor's 43 history entries")
    registry_events = set(await history_rows(engine, angkor)) - {str(e.id) for e in before}
    assert len(registry_events) == 3  # registered, applied, enrolled
    structure_before, _ = await indexes_and_schemas(engine)

    # A read model gone wrong (a bug, a hand edit): the rebuild replays the topics, not the tables.
    async with engine.begin() as conn:
        await conn.execute(
            sa.text("DELETE FROM factory_history WHERE event_id = ANY(:lost)"),
            {"lost": [str(e.id) for e in before[:5]]},
        )
    assert len(await history_rows(engine, angkor)) == 38

    rebuilding = asyncio.Event()
    answers: list[dict[str, Any]] = []

    async def keep_querying() -> None:
        while True:
            answers.append(await read_side.graphql(TIMELINE, PROGRAMME, {"id": angkor}))
            await asyncio.sleep(0.01)

    during: list[Any] = []

    async def keep_publishing() -> None:
        while rebuilding.is_set() or not during:
            during.append(await read_side.publish(visit(angkor), f"assessment-during-{len(during)}"))
            await asyncio.sleep(0.05)

    querying = asyncio.create_task(keep_querying())
    rebuilding.set()
    publishing = asyncio.create_task(keep_publishing())
    try:
        await rebuild(settings, [directory.projection, history.projection], progress=False)
        rebuilding.clear()
        await publishing
        queried_during = len(answers)
        after = await read_side.publish(visit(angkor), "assessment-after")  # the live consumer, on the new tables
        # One factory's events share a partition: once this one is applied, all before it are.
        await eventually(lambda: _applied(engine, angkor, str(after.id)), what="the event after the switch applied")
    finally:
        querying.cancel()
        publishing.cancel()
        await asyncio.gather(querying, publishing, return_exceptions=True)

    assert len(during) >= 3, "events were published while the rebuild ran"
    assert queried_during >= 20, "queries ran while the rebuild ran"
    failures = [a for a in answers if "errors" in a or not a.get("data")]
    assert failures == []
    for answer in answers:  # never a half-built table: at least what was there before, both factories known
        assert answer["data"]["factory"]["name"] == "Angkor Apparel Co., Ltd."
        assert answer["data"]["factory"]["history"]["totalCount"] >= 38
        assert {angkor, mekong} <= {f["factoryId"] for f in answer["data"]["factories"]["nodes"]}

    rows = await history_rows(engine, angkor)
    expected = registry_events | {str(e.id) for e in [*before, *during, after]}
    assert sorted(rows) == sorted(expected)  # each once, the lost five back, none published during it missing
    structure_after, schemas_left = await indexes_and_schemas(engine)
    assert structure_after == structure_before  # the migrations' index names, for the next migration
    assert schemas_left == set()  # the old tables and the rebuild's own are dropped
    latest = await read_side.graphql(TIMELINE, PROGRAMME, {"id": angkor})
    assert latest["data"]["factory"]["history"]["totalCount"] == len(expected)
    assert latest["data"]["factory"]["history"]["nodes"][0]["type"] == SCHEDULED


async def _has(engine: AsyncEngine, factory_id: str, count: int) -> bool:
    return len(await history_rows(engine, factory_id)) == count


async def _applied(engine: AsyncEngine, factory_id: str, event_id: str) -> bool:
    return event_id in await history_rows(engine, factory_id)


def test_the_command_names_the_read_models_it_can_rebuild(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "factory-history" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["audit-log"])
    assert exit_.value.code == 2
    assert "no read model named audit-log; there are: factory-directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([])
    assert "name the read models to rebuild, or --all" in capsys.readouterr().err


async def snapshot(engine: AsyncEngine) -> dict[str, Any]:
    """Every read model's rows, and the definitions of its tables' indexes and constraints."""
    found: dict[str, Any] = {}
    async with engine.connect() as conn:
        for projection in PROJECTIONS:
            for table in projection.tables:
                rows = await conn.execute(sa.select(table).order_by(*table.primary_key.columns))
                found[table.name] = [tuple(row) for row in rows]
        found["indexes"] = sorted(
            tuple(row)
            for row in await conn.execute(
                sa.text("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")
            )
        )
        found["constraints"] = sorted(
            tuple(row)
            for row in await conn.execute(
                sa.text(
                    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE connamespace = 'public'::regnamespace"
                )
            )
        )
    return found


async def test_every_read_model_rebuilt_is_the_one_it_replaces(read_side: ReadSide) -> None:
    settings: Settings = read_side.gateway_app.state.runtime.settings
    engine: AsyncEngine = read_side.gateway_app.state.runtime.engine
    angkor = await read_side.factory("Angkor Apparel Co., Ltd.", workers=(1900, 500))
    northwind = await read_side.brand("Northwind Outfitters")
    await read_side.supplies(angkor, northwind, consents=True)
    scheduled = visit(angkor)
    stream = f"assessment-{scheduled.assessment_id}"
    await read_side.publish(scheduled, stream)
    started = await read_side.publish(
        ae.AssessmentStarted(assessment_id=scheduled.assessment_id, factory_id=angkor, started_on=dt.date(2026, 6, 1)),
        stream,
    )

    async def projected() -> bool:
        async with engine.connect() as conn:
            status = await conn.scalar(sa.text("SELECT status FROM assessments"))
            consenting = await conn.scalar(sa.text("SELECT count(*) FROM report_sharing_consents"))
        return status == "in-progress" and consenting == 1 and await _applied(engine, angkor, str(started.id))

    await eventually(projected, what="the assessment started, in its read models")
    before = await snapshot(engine)
    assert before["factories"] and before["assessments"] and before["report_sharing_consents"]

    await rebuild(settings, PROJECTIONS, progress=False)

    after = await snapshot(engine)
    assert after == before
    assert (await indexes_and_schemas(engine))[1] == set()


async def test_a_rebuild_during_a_migration_stops_and_leaves_the_serving_tables_as_they_were(
    read_side: ReadSide, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings: Settings = read_side.gateway_app.state.runtime.settings
    engine: AsyncEngine = read_side.gateway_app.state.runtime.engine
    angkor = await read_side.factory("Angkor Apparel Co., Ltd.")
    serving = sorted(await history_rows(engine, angkor))
    copy_tables = Rebuild._create_tables

    async def then_a_migration(self: Rebuild) -> None:
        await copy_tables(self)
        async with engine.begin() as conn:  # as a new revision would, while the copies fill
            await conn.execute(sa.text("INSERT INTO alembic_version VALUES ('history_0002')"))

    monkeypatch.setattr(Rebuild, "_create_tables", then_a_migration)
    with pytest.raises(RebuildFailed, match="the database was migrated during the rebuild; run it again"):
        await rebuild(settings, [history.projection], progress=False)
    assert sorted(await history_rows(engine, angkor)) == serving
    assert (await indexes_and_schemas(engine))[1] == set()  # its own tables dropped
    after = await read_side.publish(visit(angkor), "assessment-after")  # the live consumer goes on
    await eventually(lambda: _applied(engine, angkor, str(after.id)), what="the live consumer applying")
