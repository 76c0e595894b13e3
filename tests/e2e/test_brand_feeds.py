"""Brand feeds over real Kafka and PostgreSQL: each brand's topic carries the published reports of
its consenting suppliers and nothing else; a redelivered event keeps its id."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiokafka.admin import AIOKafkaAdminClient
from assessment.app import create_app as create_assessment
from assessment.settings import Settings as AssessmentSettings
from betterwork_events import brand_feed
from betterwork_events import kafka as kafka_clients
from betterwork_events.auth import Audience
from betterwork_events.catalogue import EventContract
from betterwork_events.contracts import assessment as ae
from betterwork_events.contracts import factory_registry as fr
from betterwork_events.envelope import Envelope
from factory_registry.app import create_app as create_registry
from factory_registry.settings import Settings as RegistrySettings
from fastapi import FastAPI
from gateway.app import create_app as create_gateway
from gateway.settings import Settings as GatewaySettings
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from tests.e2e.conftest import PROGRAMME, bearer
from tests.e2e.test_assessment import TODAY, Services, question
from tests.support import as_read_now, eventually, read_topic, serve

BrandEvents = list[brand_feed.BrandFeedEvent]
NEVER_FOR_BRANDS = {
    c.event_type
    for c in (
        ae.AssessmentScheduled,
        ae.AssessmentStarted,
        ae.FindingRecorded,
        ae.ZeroToleranceIssueRaised,
        ae.AssessmentSubmitted,
        ae.AssessmentReturned,
        ae.AssessmentApproved,
        ae.AssessmentCancelled,
    )
}


def feed_consumer(topic_prefix: str) -> str:
    return f"{topic_prefix}gateway.brand-feeds"


async def forwarded(gateway_db: str, consumer: str, event_id: uuid.UUID) -> bool:
    """Whether the brand feeds recorded the event as processed (forwarded to whom it concerned)."""
    engine = create_async_engine(gateway_db)
    try:
        async with engine.connect() as conn:
            row = await conn.execute(
                sa.text("SELECT 1 FROM processed_events WHERE consumer = :consumer AND event_id = :id"),
                {"consumer": consumer, "id": event_id},
            )
            return row.first() is not None
    finally:
        await engine.dispose()


async def brand_topic(bootstrap: str, topic_prefix: str, brand_id: str) -> BrandEvents:
    records = await read_topic(bootstrap, f"{topic_prefix}{brand_feed.topic(brand_id)}")
    return [brand_feed.BrandFeedEvent.from_kafka(r.value, r.headers) for r in records]


def of_type(events: BrandEvents, contract: type[EventContract]) -> BrandEvents:
    return [e for e in events if e.type == contract.event_type]


# --- Through the services: registry, assessment and gateway over HTTP -----------------------------


@dataclass
class FeedServices(Services):
    gateway_db: str = ""

    async def brand(self, name: str) -> str:
        body = {"name": name, "kind": "retailer", "partnership": "partner"}
        response = await self.registry.post("/brands", json=body, headers=PROGRAMME)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def link(self, factory_id: str, brand_id: str) -> None:
        body = {"brand_id": brand_id, "since": "2025-01-15"}
        staff = await as_read_now(self.registry, f"/factories/{factory_id}", PROGRAMME)
        response = await self.registry.post(f"/factories/{factory_id}/brands", json=body, headers=staff)
        assert response.status_code == 200, response.text

    async def consent(self, factory_id: str, brand_id: str, granted: bool = True) -> None:
        factory = await as_read_now(self.registry, f"/factories/{factory_id}", bearer(Audience.FACTORY, factory_id))
        path = f"/factories/{factory_id}/consents/{brand_id}"
        response = await (self.registry.put if granted else self.registry.delete)(path, headers=factory)
        assert response.status_code == 200, response.text

    async def feed(self, brand_id: str) -> BrandEvents:
        return await brand_topic(self.kafka, self.topic_prefix, brand_id)

    async def receives(self, brand_id: str, contract: type[EventContract], count: int = 1) -> BrandEvents:
        """Wait until the brand's topic holds `count` events of the type; returns them."""

        async def arrived() -> bool:
            return len(of_type(await self.feed(brand_id), contract)) >= count

        await eventually(arrived, what=f"{contract.event_type} on {brand_id}'s feed")
        return of_type(await self.feed(brand_id), contract)

    async def every_brand_topic(self) -> dict[str, list[Any]]:
        """The raw records of every brand topic of this deployment, whoever they are for."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka)
        await admin.start()
        try:
            topics = [
                t
                for t in await admin.list_topics()
                if t.startswith(f"{self.topic_prefix}brand.") and t.endswith(".events")
            ]
        finally:
            await admin.close()
        return {topic: await read_topic(self.kafka, topic) for topic in topics}

    async def source(self, contract: type[EventContract]) -> list[Envelope]:
        return [e for e in await self.events() if e.type == contract.event_type]


@pytest.fixture
async def feeds(create_database, kafka: str, topic_prefix: str) -> AsyncIterator[FeedServices]:
    common = {"kafka_bootstrap": kafka, "topic_prefix": topic_prefix}
    gateway_db = await create_database("gateway")
    registry = create_registry(RegistrySettings(database_url=await create_database("factory-registry"), **common))
    assessment = create_assessment(AssessmentSettings(database_url=await create_database("assessment"), **common))
    async with serve(registry) as registry_url:
        gateway = create_gateway(GatewaySettings(database_url=gateway_db, registry_url=registry_url, **common))
        async with (
            serve(assessment) as assessment_url,
            serve(gateway) as gateway_url,
            httpx.AsyncClient(base_url=registry_url) as r,
            httpx.AsyncClient(base_url=assessment_url) as a,
            httpx.AsyncClient(base_url=gateway_url) as g,
        ):
            yield FeedServices(r, a, g, kafka, topic_prefix, gateway_db)


async def test_each_brand_receives_exactly_what_it_may_read_and_nothing_before_publication(
    feeds: FeedServices,
) -> None:
    factory_id = await feeds.enrolled_factory()
    northwind = await feeds.brand("Northwind Outfitters")  # linked and consenting, until it is revoked
    delta = await feeds.brand("Delta Sports")  # linked and consenting throughout
    heron = await feeds.brand("Blue Heron")  # linked, never consenting
    rival = await feeds.brand("Rival Apparel")  # buys elsewhere
    for brand in (northwind, delta, heron):
        await feeds.link(factory_id, brand)
    await feeds.consent(factory_id, northwind)
    await feeds.consent(factory_id, delta)
    first = await feeds.schedule_when_known(factory_id)
    wage = question(cluster="compensation")
    await feeds.publish_visit(first, {wage})

    # The published report reaches the consenting brands, each with its own id for it.
    [to_northwind] = await feeds.receives(northwind, ae.AssessmentCompleted)
    [to_delta] = await feeds.receives(delta, ae.AssessmentCompleted)
    [completed] = await feeds.source(ae.AssessmentCompleted)
    assert (
        to_northwind.id
        == brand_feed.event_id(northwind, completed.id)
        == uuid.uuid5(brand_feed.ID_NAMESPACE, f"{northwind}/{completed.id}")
    )
    assert to_delta.id == brand_feed.event_id(delta, completed.id) != to_northwind.id
    assert to_northwind.originalid == to_delta.originalid == completed.id
    assert to_northwind.source == "/betterwork/gateway/brand-feed"
    assert to_northwind.factoryid == factory_id and to_northwind.subject == completed.subject
    assert to_northwind.time == completed.time and to_northwind.dataschema == completed.dataschema
    assert to_northwind.data == completed.data
    [record] = [
        r
        for r in await read_topic(feeds.kafka, f"{feeds.topic_prefix}{brand_feed.topic(northwind)}")
        if dict(r.headers)["ce_type"] == ae.AssessmentCompleted.event_type.encode()
    ]
    assert record.key == factory_id.encode()
    assert {name for name, _ in record.headers} == {
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_subject",
        "ce_time",
        "ce_dataschema",
        "ce_factoryid",
        "ce_originalid",
        "content-type",
    }
    assert completed.actor is not None and b"ce_actor" not in {name.encode() for name, _ in record.headers}

    # The relay publishes the same event again (as after a crash): the feeds recognise it.
    producer = kafka_clients.producer(feeds.kafka)
    await producer.start()
    try:
        await producer.send_and_wait(
            f"{feeds.topic_prefix}assessment.events",
            value=completed.kafka_value(),
            key=completed.key.encode(),
            headers=completed.kafka_headers(),
        )
    finally:
        await producer.stop()

    # A second visit is scheduled, started and assessed, but not published.
    planned = TODAY + dt.timedelta(days=37)
    body = {"factory_id": factory_id, "planned_date": str(planned), "assessors": ["assessor-sokha"]}
    second = (await feeds.assessment.post("/assessments", json=body, headers=PROGRAMME)).json()
    started = await feeds.step(second, "start", {"started_on": str(TODAY)})
    version = int(started.headers["etag"].strip('"'))
    child_labour = question(issue="child-labour")
    recorded = await feeds.finding(second["id"], child_labour, "non-compliant", version, "UNPUBLISHED-EVIDENCE")
    assert recorded.status_code == 200, recorded.text

    # The factory then reports a remediation of the first report's finding. The feeds forward a
    # factory's events in order, so once it arrives everything before it has been dealt with.
    factory = bearer(Audience.FACTORY, factory_id)
    remediated = await feeds.step(first, f"findings/{wage}/remediated", {"note": "arrears paid"}, factory)
    assert remediated.status_code == 200, remediated.text
    await feeds.receives(northwind, ae.FindingRemediated)

    assert len(of_type(await feeds.feed(northwind), ae.AssessmentCompleted)) == 1  # not again
    assert {e.type for e in await feeds.feed(heron)} == {fr.BrandLinked.event_type}  # its link, no report
    assert await feeds.feed(rival) == []
    assert {e.type for e in await feeds.feed(northwind)} == {
        fr.BrandLinked.event_type,
        fr.ReportSharingConsentGranted.event_type,
        ae.AssessmentCompleted.event_type,
        ae.PublicReportPublished.event_type,
        ae.FindingRemediated.event_type,
    }
    assert all(e.data["brand_id"] == northwind for e in await feeds.feed(northwind) if "brand_id" in e.data)
    scheduled = await feeds.source(ae.AssessmentScheduled)
    assert {e.data["planned_date"] for e in scheduled} >= {str(planned)}  # on the programme's topic only
    every_brand_topic = await feeds.every_brand_topic()
    assert set(every_brand_topic) == {f"{feeds.topic_prefix}{brand_feed.topic(b)}" for b in (northwind, delta, heron)}
    for topic, records in every_brand_topic.items():
        for r in records:
            raw = (r.value or b"") + b"".join(name.encode() + value for name, value in r.headers)
            for secret in (str(planned), second["id"], "UNPUBLISHED-EVIDENCE", "assessor-", "programme:", "ce_actor"):
                assert secret.encode() not in raw, f"{secret} on {topic}"
            assert dict(r.headers)["ce_type"].decode() not in NEVER_FOR_BRANDS

    # Northwind loses the factory's consent. Once the registry has published that, a later
    # remediation reaches Delta and not Northwind, however far behind the gateway's directory is.
    await feeds.consent(factory_id, northwind, granted=False)

    async def revocation_published() -> bool:
        records = await read_topic(feeds.kafka, f"{feeds.topic_prefix}factory-registry.events")
        return any(dict(r.headers)["ce_type"] == fr.ReportSharingConsentRevoked.event_type.encode() for r in records)

    await eventually(revocation_published, what="the revocation on factory-registry.events")
    verified = await feeds.step(first, f"findings/{wage}/verify")
    assert verified.status_code == 200, verified.text
    [to_delta_verified] = await feeds.receives(delta, ae.RemediationVerified)
    assert to_delta_verified.data["verified_by"] == "programme"  # not which staff member
    [verification] = await feeds.source(ae.RemediationVerified)
    assert await forwarded(feeds.gateway_db, feed_consumer(feeds.topic_prefix), verification.id)
    assert of_type(await feeds.feed(northwind), ae.RemediationVerified) == []
    await feeds.receives(northwind, fr.ReportSharingConsentRevoked)

    # Blue Heron is given consent only now: its topic is first sent what its GraphQL already shows
    # of the factory, in order, then the live flow; nothing of the visit still unpublished.
    heron_reads = bearer(Audience.BRAND, heron)
    await feeds.consent(factory_id, heron)
    await feeds.receives(heron, ae.RemediationVerified)
    assert [r["id"] for r in await feeds.reports_seen_by(heron_reads, factory_id) or []] == [first["id"]]
    assert [e.type for e in await feeds.feed(heron)] == [
        fr.BrandLinked.event_type,
        fr.ReportSharingConsentGranted.event_type,
        ae.AssessmentCompleted.event_type,
        ae.PublicReportPublished.event_type,
        ae.FindingRemediated.event_type,
        ae.RemediationVerified.event_type,
    ]
    [to_heron] = of_type(await feeds.feed(heron), ae.AssessmentCompleted)
    assert to_heron.id == brand_feed.event_id(heron, completed.id) and to_heron.data == completed.data
    assert of_type(await feeds.feed(heron), ae.RemediationVerified)[0].data["verified_by"] == "programme"
    for r in await read_topic(feeds.kafka, f"{feeds.topic_prefix}{brand_feed.topic(heron)}"):
        raw = (r.value or b"") + b"".join(name.encode() + value for name, value in r.headers)
        for secret in (str(planned), second["id"], "UNPUBLISHED-EVIDENCE", "assessor-", "programme:", "ce_actor"):
            assert secret.encode() not in raw, f"{secret} on heron's topic"


# --- The gateway alone, fed events straight onto its topics ---------------------------------------

FACTORY = "KH-2026-0042-5"
NORTHWIND = "BR-0001"
ASSESSMENT_ID = "5b0f8a7e-2c1d-4e3f-9a8b-7c6d5e4f3a2b"
COMPLETED = ae.AssessmentCompleted(
    assessment_id=ASSESSMENT_ID,
    factory_id=FACTORY,
    country="KH",
    tool_version="KH-global-1",
    published_on=dt.date(2026, 4, 2),
    compliance_points=(),
    clusters=(),
)
REMEDIATED = ae.FindingRemediated(
    assessment_id=ASSESSMENT_ID, factory_id=FACTORY, question_id="compensation.minimum-wages.01", note="arrears paid"
)
_positions = itertools.count(1)


@dataclass
class Topics:
    kafka: str
    prefix: str
    gateway_db: str

    async def publish(self, service: str, event: EventContract) -> Envelope:
        """Put an event on a service's topic the way its relay does."""
        position = next(_positions)
        envelope = Envelope(
            id=uuid.uuid4(),
            source=f"/betterwork/{service}",
            type=event.event_type,
            subject=f"{service}-{FACTORY}",
            time=dt.datetime.now(dt.UTC),
            data_json=event.model_dump_json(),
            streamversion=position,
            position=position,
            factoryid=FACTORY,
            actor="programme:assessor-sokha",
        )
        await self.publish_again(envelope)
        return envelope

    async def publish_again(self, envelope: Envelope) -> None:
        """What a relay does when it crashed before saving its checkpoint."""
        producer = kafka_clients.producer(self.kafka)
        await producer.start()
        try:
            await producer.send_and_wait(
                f"{self.prefix}{envelope.source.removeprefix('/betterwork/')}.events",
                value=envelope.kafka_value(),
                key=envelope.key.encode(),
                headers=envelope.kafka_headers(),
            )
        finally:
            await producer.stop()

    def gateway(self) -> FastAPI:
        return create_gateway(
            GatewaySettings(database_url=self.gateway_db, kafka_bootstrap=self.kafka, topic_prefix=self.prefix)
        )

    async def feed(self) -> BrandEvents:
        return await brand_topic(self.kafka, self.prefix, NORTHWIND)

    async def until_on_feed(self, contract: type[EventContract], count: int = 1) -> BrandEvents:
        async def arrived() -> bool:
            return len(of_type(await self.feed(), contract)) >= count

        await eventually(arrived, what=f"{count} {contract.event_type} on the brand's feed")
        return of_type(await self.feed(), contract)

    async def forwarded(self, envelope: Envelope) -> bool:
        return await forwarded(self.gateway_db, feed_consumer(self.prefix), envelope.id)


@pytest.fixture
async def topics(create_database, kafka: str, topic_prefix: str) -> Topics:
    await kafka_clients.ensure_topics(
        kafka, f"{topic_prefix}assessment.events", f"{topic_prefix}factory-registry.events"
    )
    return Topics(kafka, topic_prefix, await create_database("gateway"))


class StopAfterPublishing:
    """The feeds' projection, but the process 'dies' after publishing an event of one type and
    before its transaction records the event as processed."""

    def __init__(self, inner: Any, event_type: str) -> None:
        self.inner, self.event_type = inner, event_type
        self.name, self.handles = inner.name, inner.handles
        self.published = asyncio.Event()

    async def apply(self, conn: AsyncConnection, event: Envelope) -> None:
        await self.inner.apply(conn, event)
        if event.type == self.event_type:
            self.published.set()
            await asyncio.Event().wait()  # until the process is stopped


class Gate:
    """The factory directory's projection, held back while the gate is closed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name, self.handles = inner.name, inner.handles
        self.open = asyncio.Event()
        self.open.set()

    async def apply(self, conn: AsyncConnection, event: Envelope) -> None:
        await self.open.wait()
        await self.inner.apply(conn, event)


async def test_a_crash_between_publishing_and_recording_sends_the_event_again_with_the_same_id(
    topics: Topics,
) -> None:
    await topics.publish("factory-registry", fr.BrandLinked(factory_id=FACTORY, brand_id=NORTHWIND, since=TODAY))
    await topics.publish("factory-registry", fr.ReportSharingConsentGranted(factory_id=FACTORY, brand_id=NORTHWIND))
    completed = await topics.publish("assessment", COMPLETED)

    crashing = topics.gateway()
    runner = crashing.state.brand_feeds_runner
    runner.projection = dying = StopAfterPublishing(runner.projection, ae.AssessmentCompleted.event_type)
    async with serve(crashing):
        await asyncio.wait_for(dying.published.wait(), 60)
    [sent] = await topics.until_on_feed(ae.AssessmentCompleted)
    assert not await topics.forwarded(completed)  # the crash came before the commit

    async with serve(topics.gateway()):  # restarted
        first, again = await topics.until_on_feed(ae.AssessmentCompleted, count=2)
        await eventually(lambda: topics.forwarded(completed), what="the event recorded as forwarded")

        # Once recorded, the relay publishing the same event again changes nothing.
        await topics.publish_again(completed)
        remediated = await topics.publish("assessment", REMEDIATED)
        await topics.until_on_feed(ae.FindingRemediated)
        assert await topics.forwarded(remediated)

    assert first.id == again.id == sent.id == brand_feed.event_id(NORTHWIND, completed.id)
    assert first.originalid == again.originalid == completed.id
    assert first.data == again.data
    assert len(of_type(await topics.feed(), ae.AssessmentCompleted)) == 2


async def test_the_feeds_wait_for_the_directory_to_apply_a_revocation_before_forwarding_later_events(
    topics: Topics,
) -> None:
    gateway = topics.gateway()
    gate = Gate(gateway.state.projection_runners["factory-directory"].projection)
    gateway.state.projection_runners["factory-directory"].projection = gate
    async with serve(gateway):
        await topics.publish("factory-registry", fr.BrandLinked(factory_id=FACTORY, brand_id=NORTHWIND, since=TODAY))
        await topics.publish("factory-registry", fr.ReportSharingConsentGranted(factory_id=FACTORY, brand_id=NORTHWIND))
        await topics.publish("assessment", COMPLETED)
        await topics.until_on_feed(ae.AssessmentCompleted)

        # The directory falls behind: the revocation is on Kafka but not yet in the read model.
        gate.open.clear()
        await topics.publish("factory-registry", fr.ReportSharingConsentRevoked(factory_id=FACTORY, brand_id=NORTHWIND))
        remediated = await topics.publish("assessment", REMEDIATED)
        await asyncio.sleep(2)
        assert not await topics.forwarded(remediated), "forwarded on links the directory had not brought up to date"

        gate.open.set()
        await eventually(lambda: topics.forwarded(remediated), what="the remediation dealt with")
        # The brand itself is told of the revocation (in whichever order the feeds took the two
        # topics' records while the directory was held back).
        await topics.until_on_feed(fr.ReportSharingConsentRevoked)

    assert of_type(await topics.feed(), ae.FindingRemediated) == []


VERIFIED = ae.RemediationVerified(
    assessment_id=ASSESSMENT_ID, factory_id=FACTORY, question_id=REMEDIATED.question_id, verified_by="Sokha Chan"
)
REJECTED = ae.RemediationRejected(
    assessment_id=ASSESSMENT_ID, factory_id=FACTORY, question_id=REMEDIATED.question_id, reason="no payslips"
)


async def test_a_brand_that_comes_to_read_a_factory_is_first_sent_what_it_may_now_see_then_the_live_flow_once(
    topics: Topics,
) -> None:
    def originals(feed: BrandEvents) -> list[uuid.UUID]:
        return [
            e.originalid
            for e in feed
            if e.type
            in brand_feed.TYPES
            - {
                c.event_type
                for c in (
                    fr.BrandLinked,
                    fr.BrandUnlinked,
                    fr.ReportSharingConsentGranted,
                    fr.ReportSharingConsentRevoked,
                )
            }
        ]

    async with serve(topics.gateway()):
        # Northwind buys from the factory, which publishes a report and remediates before consenting.
        linked = await topics.publish(
            "factory-registry", fr.BrandLinked(factory_id=FACTORY, brand_id=NORTHWIND, since=TODAY)
        )
        completed = await topics.publish("assessment", COMPLETED)
        remediated = await topics.publish("assessment", REMEDIATED)
        # The two topics are read side by side: either may be dealt with first.
        for event, what in ((linked, "the link"), (remediated, "the remediation")):
            await eventually(lambda event=event: topics.forwarded(event), what=f"{what} dealt with")
        assert [e.type for e in await topics.until_on_feed(fr.BrandLinked)] == [fr.BrandLinked.event_type]
        assert [e.type for e in await topics.feed()] == [fr.BrandLinked.event_type]

        # Consent: first what the brand may now see, in order, then the live flow.
        granted = await topics.publish(
            "factory-registry", fr.ReportSharingConsentGranted(factory_id=FACTORY, brand_id=NORTHWIND)
        )
        await topics.until_on_feed(ae.FindingRemediated)
        verified = await topics.publish("assessment", VERIFIED)
        [live] = await topics.until_on_feed(ae.RemediationVerified)
        feed = await topics.feed()
        assert [e.originalid for e in feed[1:]] == [granted.id, completed.id, remediated.id, verified.id]
        assert [e.id for e in feed[2:]] == [
            brand_feed.event_id(NORTHWIND, e.id) for e in (completed, remediated, verified)
        ]
        assert (
            feed[2].data == completed.data and feed[2].time == completed.time and feed[2].subject == completed.subject
        )
        assert live.data["verified_by"] == "programme"  # the backlog keeps the event, brands get their copy

        # Revoked: nothing more. Granted again: what came meanwhile, and nothing it was sent already.
        await topics.publish("factory-registry", fr.ReportSharingConsentRevoked(factory_id=FACTORY, brand_id=NORTHWIND))
        rejected = await topics.publish("assessment", REJECTED)
        await eventually(lambda: topics.forwarded(rejected), what="the rejection dealt with")
        assert of_type(await topics.feed(), ae.RemediationRejected) == []
        await topics.publish("factory-registry", fr.ReportSharingConsentGranted(factory_id=FACTORY, brand_id=NORTHWIND))
        await topics.until_on_feed(ae.RemediationRejected)
        # The relay publishing an old event again sends nothing again either.
        await topics.publish_again(completed)
        again = await topics.publish("assessment", REMEDIATED)
        await topics.until_on_feed(ae.FindingRemediated, count=2)

    feed = await topics.feed()
    assert originals(feed) == [completed.id, remediated.id, verified.id, rejected.id, again.id]
    assert len({e.id for e in feed}) == len(feed), "a brand event sent twice"
