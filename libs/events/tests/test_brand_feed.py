"""A brand's copy of an event: what it keeps, what it leaves inside the programme, and its id."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from betterwork_events import brand_feed
from betterwork_events.catalogue import EventContract
from betterwork_events.contracts import assessment as ae
from betterwork_events.contracts import factory_registry as fr
from betterwork_events.envelope import Envelope

FACTORY = "KH-2026-0042-5"
NORTHWIND, RIVAL = "BR-0001", "BR-0002"
VISIT = {"assessment_id": "5b0f8a7e-2c1d-4e3f-9a8b-7c6d5e4f3a2b", "factory_id": FACTORY}
COMPLETED = ae.AssessmentCompleted(
    **VISIT,
    country="KH",
    tool_version="KH-global-1",
    published_on=dt.date(2026, 4, 2),
    compliance_points=(
        ae.CompliancePointSummary(
            compliance_point_id="compensation.minimum-wages",
            cluster_id="compensation",
            non_compliant=True,
            non_compliant_questions=("compensation.minimum-wages.01",),
        ),
    ),
    clusters=(
        ae.ClusterSummary(
            cluster_id="compensation",
            compliance_points_assessed=1,
            compliance_points_non_compliant=1,
            non_compliance_rate=1.0,
        ),
    ),
)


def sent(event: EventContract) -> Envelope:
    """As the programme's topics carry it: every attribute, the actor among them."""
    return Envelope(
        id=uuid.uuid4(),
        source="/betterwork/assessment",
        type=event.event_type,
        subject=f"assessment-{VISIT['assessment_id']}",
        time=dt.datetime(2026, 4, 2, 9, 30, tzinfo=dt.UTC),
        data_json=event.model_dump_json(),
        streamversion=263,
        position=18422,
        factoryid=FACTORY,
        correlationid=uuid.uuid4(),
        causationid=uuid.uuid4(),
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        actor="programme:assessor-sokha",
    )


def test_a_brand_gets_the_event_without_the_actor_or_anything_else_internal() -> None:
    original = sent(COMPLETED)
    copy = brand_feed.BrandFeedEvent.for_brand(original, NORTHWIND)
    headers = {name: value.decode() for name, value in copy.kafka_headers()}

    assert headers == {
        "ce_specversion": "1.0",
        "ce_id": str(brand_feed.event_id(NORTHWIND, original.id)),
        "ce_source": "/betterwork/gateway/brand-feed",
        "ce_type": "org.betterwork.assessment.completed.v1",
        "ce_subject": original.subject,
        "ce_time": "2026-04-02T09:30:00+00:00",
        "ce_dataschema": "urn:org.betterwork:schema:org.betterwork.assessment.completed.v1",
        "ce_factoryid": FACTORY,
        "ce_originalid": str(original.id),
        "content-type": "application/json",
    }
    assert copy.key == FACTORY
    assert copy.contract() == COMPLETED
    assert b"assessor-sokha" not in copy.kafka_value() + b"".join(v for _, v in copy.kafka_headers())


def test_the_id_is_the_same_every_time_for_one_brand_and_different_for_another() -> None:
    original = sent(COMPLETED)
    first = brand_feed.BrandFeedEvent.for_brand(original, NORTHWIND)
    again = brand_feed.BrandFeedEvent.for_brand(original, NORTHWIND)
    rivals = brand_feed.BrandFeedEvent.for_brand(original, RIVAL)

    assert first.id == again.id == uuid.uuid5(brand_feed.ID_NAMESPACE, f"{NORTHWIND}/{original.id}")
    assert first.id.version == 5
    assert rivals.id != first.id and rivals.originalid == first.originalid == original.id
    assert uuid.uuid5(uuid.NAMESPACE_URL, "urn:org.betterwork:brand-feed") == brand_feed.ID_NAMESPACE


def test_a_brand_is_not_told_which_staff_member_verified_a_remediation() -> None:
    verified = ae.RemediationVerified(**VISIT, question_id="compensation.minimum-wages.01", verified_by="assessor-dara")
    copy = brand_feed.BrandFeedEvent.for_brand(sent(verified), NORTHWIND)

    assert copy.data["verified_by"] == "programme"
    assert b"assessor-dara" not in copy.kafka_value()


@pytest.mark.parametrize(
    "event",
    [
        ae.AssessmentScheduled(
            **VISIT, country="KH", planned_date=dt.date(2026, 3, 10), assessors=("a",), tool_version="x"
        ),
        ae.AssessmentStarted(**VISIT, started_on=dt.date(2026, 3, 10)),
        ae.FindingRecorded(
            **VISIT, question_id="q", compliance_point_id="cp", result=ae.Result.NON_COMPLIANT, evidence="payslips"
        ),
        ae.ZeroToleranceIssueRaised(**VISIT, question_id="q", issue=ae.ZeroToleranceIssue.CHILD_LABOUR),
        ae.AssessmentSubmitted(**VISIT),
        ae.AssessmentReturned(**VISIT, comments="more interviews"),
        ae.AssessmentApproved(**VISIT, reviewer="reviewer-1"),
        ae.AssessmentCancelled(**VISIT, reason="holiday"),
        fr.FactoryEnrolled(
            factory_id=FACTORY, country="KH", service_package=fr.ServicePackage.CORE, enrolled_on=dt.date(2026, 1, 5)
        ),
    ],
    ids=lambda e: e.event_type,
)
def test_nothing_from_before_publication_can_be_made_into_a_brand_event(event: EventContract) -> None:
    with pytest.raises(brand_feed.NotForBrands):
        brand_feed.BrandFeedEvent.for_brand(sent(event), NORTHWIND)


def test_a_brand_integration_reads_its_events_back() -> None:
    copy = brand_feed.BrandFeedEvent.for_brand(
        sent(fr.BrandLinked(factory_id=FACTORY, brand_id=NORTHWIND, since=dt.date(2025, 1, 15))), NORTHWIND
    )

    assert brand_feed.BrandFeedEvent.from_kafka(copy.kafka_value(), copy.kafka_headers()) == copy


@pytest.mark.parametrize("brand_id", ["", "BR 1", "BR.1", "../x", "x" * 101])
def test_a_brand_id_that_cannot_name_a_topic_is_refused(brand_id: str) -> None:
    with pytest.raises(ValueError, match="cannot name a brand topic"):
        brand_feed.topic(brand_id)


def test_a_brands_topic() -> None:
    assert brand_feed.topic(NORTHWIND) == "brand.BR-0001.events"
