"""Bulk exports: a brand or the programme exports a whole list as JSON Lines, read through its own
scope, written in keyset pages in the background, downloadable by its starter alone."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from betterwork_events.auth import Audience, mint
from betterwork_events.contracts import assessment as ae
from betterwork_events.settings import CommonSettings

from tests.e2e.read_side import PROGRAMME, ReadSide, bearer
from tests.support import as_read_now, eventually

START = "mutation ($kind: BulkExportKind!) { startBulkExport(kind: $kind) { id kind status rowCount url } }"
POLL = "query ($id: ID!) { bulkExport(id: $id) { id kind status rowCount url completedAt expiresAt } }"
REPORT_FIELDS = """id publishedOn toolVersion recurringQuestions
  compliancePoints { compliancePointId clusterId nonCompliant nonCompliantQuestions remediation }
  clusters { clusterId compliancePointsAssessed compliancePointsNonCompliant nonComplianceRate }"""
FACTORY_FIELDS = "id factoryId name localName country address sector enrollment workforce { total women men }"


@dataclass
class Suppliers:
    angkor: str  # supplies Northwind, consents
    mekong: str  # supplies Northwind, does not consent; supplies Lotus, consents
    saigon: str  # supplies nobody
    northwind: str
    lotus: str
    reports: dict[str, list[str]]  # factory -> its published assessments


def report(factory_id: str, country: str, published_on: dt.date, questions: list[str]) -> ae.AssessmentCompleted:
    return ae.AssessmentCompleted(
        assessment_id=str(uuid.uuid4()),
        factory_id=factory_id,
        country=country,
        tool_version="global-1",
        published_on=published_on,
        compliance_points=(
            ae.CompliancePointSummary(
                compliance_point_id="compensation.minimum-wages",
                cluster_id="compensation",
                non_compliant=bool(questions),
                non_compliant_questions=tuple(questions),
            ),
        ),
        clusters=(),
    )


async def build(read_side: ReadSide) -> Suppliers:
    angkor = await read_side.factory("Angkor Apparel Co., Ltd.", workers=(1900, 500))
    mekong = await read_side.factory("Mekong Footwear Ltd.")
    saigon = await read_side.factory("Saigon Stitch", country="VN")
    northwind, lotus = await read_side.brand("Northwind Outfitters"), await read_side.brand("Lotus Retail Group")
    await read_side.supplies(angkor, northwind, consents=True)
    await read_side.supplies(mekong, northwind, consents=False)
    await read_side.supplies(mekong, lotus, consents=True)
    world = Suppliers(angkor, mekong, saigon, northwind, lotus, {})
    for factory_id, country, dates in [
        (angkor, "KH", [dt.date(2025, 3, 4), dt.date(2026, 3, 9)]),
        (mekong, "KH", [dt.date(2026, 2, 2)]),
        (saigon, "VN", [dt.date(2026, 1, 20)]),
    ]:
        for published_on in dates:
            event = report(factory_id, country, published_on, ["CMW-1", "CMW-3"])
            await read_side.publish(event, f"assessment-{event.assessment_id}")
            world.reports.setdefault(factory_id, []).append(event.assessment_id)
    for factory_id, published in world.reports.items():
        await read_side.until(
            f'{{ factory(id: "{factory_id}") {{ assessmentReports {{ totalCount }} }} }}',
            PROGRAMME,
            reports_counted(len(published)),
            f"{factory_id}'s reports in the gateway",
        )
    # The links and consents too, as the brands read them (an export reads as of its start).
    for brand_id, factory_id in [(northwind, angkor), (lotus, mekong)]:
        await read_side.until(
            f'{{ factory(id: "{factory_id}") {{ assessmentReports {{ totalCount }} }} }}',
            bearer(Audience.BRAND, brand_id),
            reports_counted(len(world.reports[factory_id])),
            f"{factory_id}'s reports shared",
        )
    return world


def reports_counted(n: int) -> Callable[[dict[str, Any]], bool]:
    return lambda data: bool(data["factory"] and data["factory"]["assessmentReports"]["totalCount"] == n)


async def start(read_side: ReadSide, headers: dict[str, str], kind: str) -> dict[str, Any]:
    answer = await read_side.graphql(START, headers, {"kind": kind})
    assert "errors" not in answer, answer
    return dict(answer["data"]["startBulkExport"])


async def ready(read_side: ReadSide, headers: dict[str, str], export_id: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def done() -> bool:
        nonlocal found
        found = (await read_side.graphql(POLL, headers, {"id": export_id}))["data"]["bulkExport"]
        assert found["status"] != "FAILED", found
        return bool(found["status"] == "READY")

    await eventually(done, what=f"export {export_id} ready")
    return found


async def download(read_side: ReadSide, headers: dict[str, str], export_id: str) -> httpx.Response:
    return await read_side.gateway.get(f"/bulk-exports/{export_id}.jsonl", headers=headers)


def lines_of(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/jsonl")
    return [json.loads(line) for line in response.text.splitlines()]


async def reports_as_queried(read_side: ReadSide, headers: dict[str, str], factory_ids: list[str]) -> list[Any]:
    """What the same caller reads of these factories' reports page by page, each with its factory."""
    found = []
    for factory_id in factory_ids:
        query = (
            f'{{ factory(id: "{factory_id}") {{ assessmentReports(first: 100) {{ nodes {{ {REPORT_FIELDS} }} }} }} }}'
        )
        nodes = (await read_side.graphql(query, headers))["data"]["factory"]["assessmentReports"]["nodes"]
        found += [{"factoryId": factory_id, **node} for node in nodes]
    return found


def by_id(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: r["id"])


async def test_a_brands_export_holds_its_consenting_suppliers_reports_and_is_its_own(read_side: ReadSide) -> None:
    world = await build(read_side)
    read_side.gateway_app.state.bulk_exporter.page_size = 1  # one keyset page per report
    northwind = bearer(Audience.BRAND, world.northwind)
    started = await start(read_side, northwind, "SUPPLIER_REPORTS")
    assert started["kind"] == "SUPPLIER_REPORTS" and started["status"] in ("PENDING", "RUNNING")
    assert started["url"] is None
    export = await ready(read_side, northwind, started["id"])
    assert export["rowCount"] == 2  # Angkor's two; not Mekong's (no consent) nor Saigon's (not a supplier)
    assert export["url"].endswith(f"/bulk-exports/{started['id']}.jsonl")
    assert export["expiresAt"] > export["completedAt"]

    lines = lines_of(await read_side.gateway.get(export["url"], headers=northwind))
    assert {line["id"] for line in lines} == set(world.reports[world.angkor])
    assert by_id(lines) == by_id(await reports_as_queried(read_side, northwind, [world.angkor]))
    assert lines[0]["compliancePoints"][0]["remediation"] == ["open", "open"]

    # Nobody else reaches it: another brand, another token of the programme, another user of Northwind.
    others = {
        "Lotus": bearer(Audience.BRAND, world.lotus),
        "programme": PROGRAMME,
        "another Northwind user": {
            "Authorization": f"Bearer {mint(CommonSettings(database_url='unused'), Audience.BRAND, world.northwind, subject='intern')}"
        },
    }
    missing = str(uuid.uuid4())
    for who, headers in others.items():
        assert (await read_side.graphql(POLL, headers, {"id": started["id"]}))["data"]["bulkExport"] is None, who
        refused = await download(read_side, headers, started["id"])
        assert refused.status_code == 404, (who, refused.text)
        unknown = await download(read_side, headers, missing)  # answers alike, but for the id
        assert refused.json()["detail"].replace(started["id"], "?") == unknown.json()["detail"].replace(missing, "?")
    # Governments and factories start none, poll none, download none.
    for who, headers in {
        "government": bearer(Audience.GOVERNMENT, "KH"),
        "factory": bearer(Audience.FACTORY, world.angkor),
    }.items():
        refused_start = await read_side.graphql(START, headers, {"kind": "SUPPLIER_REPORTS"})
        assert refused_start["data"] is None, who
        assert refused_start["errors"][0]["extensions"]["code"] == "FORBIDDEN", who
        assert "bulk exports are for the programme and brands" in refused_start["errors"][0]["message"]
        polled = await read_side.graphql(POLL, headers, {"id": started["id"]})
        assert polled["errors"][0]["extensions"]["code"] == "FORBIDDEN", who
        assert (await download(read_side, headers, started["id"])).status_code == 403, who
    assert (await download(read_side, {}, started["id"])).status_code == 401
    assert (await download(read_side, northwind, "not-an-id")).status_code == 404

    # Lotus's own export: Mekong's report only.
    lotus = others["Lotus"]
    of_lotus = await ready(read_side, lotus, (await start(read_side, lotus, "SUPPLIER_REPORTS"))["id"])
    assert [line["id"] for line in lines_of(await download(read_side, lotus, of_lotus["id"]))] == world.reports[
        world.mekong
    ]

    # Angkor revokes its consent: Northwind's export, already written, no longer gives its reports.
    angkor = await as_read_now(read_side.registry, f"/factories/{world.angkor}", bearer(Audience.FACTORY, world.angkor))
    revoked = await read_side.registry.delete(f"/factories/{world.angkor}/consents/{world.northwind}", headers=angkor)
    assert revoked.status_code in (200, 204), revoked.text
    assert lines_of(await download(read_side, northwind, started["id"])) == []


async def test_the_programme_exports_every_factory_and_report_in_keyset_pages(read_side: ReadSide) -> None:
    world = await build(read_side)
    read_side.gateway_app.state.bulk_exporter.page_size = 2  # factories over two pages
    factories = await ready(read_side, PROGRAMME, (await start(read_side, PROGRAMME, "FACTORIES"))["id"])
    reports = await ready(read_side, PROGRAMME, (await start(read_side, PROGRAMME, "SUPPLIER_REPORTS"))["id"])

    queried = (await read_side.graphql(f"{{ factories(first: 100) {{ nodes {{ {FACTORY_FIELDS} }} }} }}", PROGRAMME))[
        "data"
    ]["factories"]["nodes"]
    exported = lines_of(await download(read_side, PROGRAMME, factories["id"]))
    assert factories["rowCount"] == len(exported) == 3
    assert exported == queried  # the same factories, fields and order (by name) as the query's pages
    assert [f["workforce"] for f in exported if f["factoryId"] == world.angkor] == [
        {"total": 2400, "women": 1900, "men": 500}
    ]

    every_report = [world.angkor, world.mekong, world.saigon]
    exported_reports = lines_of(await download(read_side, PROGRAMME, reports["id"]))
    assert reports["rowCount"] == len(exported_reports) == 4
    assert by_id(exported_reports) == by_id(await reports_as_queried(read_side, PROGRAMME, every_report))
    assert len({r["id"] for r in exported_reports}) == 4  # keyset pages: none twice, none skipped


async def test_an_export_is_forgotten_once_it_expires(read_side: ReadSide) -> None:
    await read_side.factory("Angkor Apparel Co., Ltd.")
    read_side.gateway_app.state.bulk_exporter.lifetime = dt.timedelta(seconds=1)
    export = await ready(read_side, PROGRAMME, (await start(read_side, PROGRAMME, "FACTORIES"))["id"])
    assert len(lines_of(await download(read_side, PROGRAMME, export["id"]))) == 1

    async def forgotten() -> bool:
        return (await read_side.graphql(POLL, PROGRAMME, {"id": export["id"]}))["data"]["bulkExport"] is None

    await eventually(forgotten, within=10, what="the export forgotten")
    assert (await download(read_side, PROGRAMME, export["id"])).status_code == 404


async def test_a_caller_has_at_most_three_exports_unfinished(read_side: ReadSide) -> None:
    exporter = read_side.gateway_app.state.bulk_exporter
    exporter.poll_seconds = 3600.0
    await asyncio.sleep(1.0)  # longer than the poll it was in: it now sleeps for good
    for _ in range(3):
        assert (await start(read_side, PROGRAMME, "FACTORIES"))["status"] == "PENDING"
    refused = await read_side.graphql(START, PROGRAMME, {"kind": "FACTORIES"})
    assert refused["errors"][0]["message"] == (
        "you have 3 exports still running; wait for one to finish before starting another"
    )
    # Another caller's count is its own.
    northwind = bearer(Audience.BRAND, await read_side.brand("Northwind Outfitters"))
    assert (await start(read_side, northwind, "FACTORIES"))["status"] == "PENDING"
