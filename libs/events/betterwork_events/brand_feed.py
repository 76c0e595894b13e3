"""Brand feeds: what a brand integration receives on its own Kafka topic, `brand.<brand id>.events`.

The gateway writes these topics (services/gateway/gateway/brand_feeds.py decides who receives
what); this module is their public contract, shared by the gateway, the AsyncAPI document and
brand integrations:

- Which event types a brand topic may ever carry (`CONTRACTS`): published assessment data, and
  the registry's events about the brand's own relationship with a factory. Nothing from before
  a report is published (schedules, planned dates, findings, reviews) is in this list, and
  nothing else can be written to a brand topic: `for_brand` refuses it.
- What a brand's copy of an event carries: a CloudEvent in binary content mode like the
  programme's own topics, but with only `id`, `source`, `type`, `subject`, `time`,
  `dataschema`, `factoryid` and `originalid`. The `actor` (it names programme staff),
  correlation and causation ids, trace context and event-store positions stay inside the
  programme, and so do staff names in the body (`verified_by`).
- Its id, a uuid5 of the brand and the original event id: the same event delivered again (the
  gateway publishes before it records the event as forwarded, so a crash in between sends it
  again) has the same id, and brands ignore an id they have already seen.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias

from betterwork_events.catalogue import SCHEMA_URI, EventContract, JsonObject, catalogue
from betterwork_events.contracts import assessment as ae
from betterwork_events.contracts import factory_registry as fr
from betterwork_events.envelope import CONTENT_TYPE, SPEC_VERSION, Envelope, MalformedEnvelope

SOURCE = "/betterwork/gateway/brand-feed"
# uuid5(NAMESPACE_URL, "urn:org.betterwork:brand-feed"), written out so that it can never change.
ID_NAMESPACE = uuid.UUID("415a7867-a1dd-535c-97e5-b9043b1c2185")

# Published assessment data: every brand that may read the factory's reports receives these.
ASSESSMENT_CONTRACTS: tuple[type[ae.AssessmentEvent], ...] = (
    ae.AssessmentCompleted,
    ae.PublicReportPublished,
    ae.FindingRemediated,
    ae.RemediationVerified,
    ae.RemediationRejected,
)
# A brand's relationship with a factory: only the brand concerned receives these, so it knows
# when its feed of that factory starts and stops.
Relationship: TypeAlias = (
    fr.BrandLinked | fr.BrandUnlinked | fr.ReportSharingConsentGranted | fr.ReportSharingConsentRevoked
)
RELATIONSHIP_CONTRACTS: tuple[type[Relationship], ...] = (
    fr.BrandLinked,
    fr.BrandUnlinked,
    fr.ReportSharingConsentGranted,
    fr.ReportSharingConsentRevoked,
)
CONTRACTS: tuple[type[EventContract], ...] = (*ASSESSMENT_CONTRACTS, *RELATIONSHIP_CONTRACTS)
TYPES = frozenset(c.event_type for c in CONTRACTS)

# Body fields that name programme staff, and what a brand reads there instead.
STAFF = "programme"
STAFF_FIELDS: dict[type[EventContract], tuple[str, ...]] = {ae.RemediationVerified: ("verified_by",)}

BRAND_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


class NotForBrands(ValueError):
    """The event is of a type no brand may receive."""


def topic(brand_id: str) -> str:
    """The brand's topic (without a deployment's topic prefix)."""
    if not BRAND_ID.fullmatch(brand_id):
        raise ValueError(f"{brand_id!r} cannot name a brand topic")
    return f"brand.{brand_id}.events"


def event_id(brand_id: str, original_id: uuid.UUID) -> uuid.UUID:
    """The id of a brand's copy of an event: the same every time that event is sent to that brand."""
    return uuid.uuid5(ID_NAMESPACE, f"{brand_id}/{original_id}")


def redacted(contract: EventContract) -> EventContract:
    """The event as a brand may read it: staff names replaced by the role."""
    fields = STAFF_FIELDS.get(type(contract), ())
    return contract.model_copy(update=dict.fromkeys(fields, STAFF)) if fields else contract


@dataclass(frozen=True)
class BrandFeedEvent:
    id: uuid.UUID
    type: str
    subject: str
    time: datetime
    factoryid: str
    originalid: uuid.UUID
    data: JsonObject
    source: str = SOURCE
    specversion: str = SPEC_VERSION
    datacontenttype: str = CONTENT_TYPE
    dataschema: str = field(default="")

    def __post_init__(self) -> None:
        if not self.dataschema:
            object.__setattr__(self, "dataschema", SCHEMA_URI.format(type=self.type))

    @classmethod
    def for_brand(cls, envelope: Envelope, brand_id: str) -> BrandFeedEvent:
        """The brand's copy of one of the programme's events. Raises NotForBrands for any other type."""
        contract = envelope.contract()  # the current version: brands never see old ones
        if type(contract) not in CONTRACTS:
            raise NotForBrands(f"{contract.event_type} is not for brands")
        factory_id = getattr(contract, "factory_id", None)
        assert isinstance(factory_id, str), "every brand feed contract is about one factory"
        return cls(
            id=event_id(brand_id, envelope.id),
            type=contract.event_type,
            subject=envelope.subject,
            time=envelope.time,
            factoryid=factory_id,
            originalid=envelope.id,
            data=redacted(contract).model_dump(mode="json"),
        )

    def contract(self) -> EventContract:
        return catalogue.decode(self.type, self.data)

    @property
    def key(self) -> str:
        """The Kafka key: the factory, so one factory's events stay in order in one partition."""
        return self.factoryid

    # --- Kafka binary content mode ---------------------------------------------------------

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        attributes: dict[str, Any] = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": self.time.isoformat(),
            "dataschema": self.dataschema,
            "factoryid": self.factoryid,
            "originalid": self.originalid,
        }
        headers = [(f"ce_{name}", str(value).encode()) for name, value in attributes.items()]
        headers.append(("content-type", self.datacontenttype.encode()))
        return headers

    def kafka_value(self) -> bytes:
        return json.dumps(self.data, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_kafka(
        cls, value: bytes | None, headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...]
    ) -> BrandFeedEvent:
        """Read a record of a brand topic (what a brand integration written in Python would do)."""
        attributes = {name[3:]: raw.decode() for name, raw in headers if name.startswith("ce_")}
        content_type = next((raw.decode() for name, raw in headers if name == "content-type"), CONTENT_TYPE)
        try:
            data = json.loads(value or b"null")
            if not isinstance(data, dict):
                raise MalformedEnvelope("event data is not a JSON object")
            return cls(
                id=uuid.UUID(attributes["id"]),
                type=attributes["type"],
                subject=attributes["subject"],
                time=datetime.fromisoformat(attributes["time"]),
                factoryid=attributes["factoryid"],
                originalid=uuid.UUID(attributes["originalid"]),
                data=data,
                source=attributes["source"],
                specversion=attributes.get("specversion", SPEC_VERSION),
                datacontenttype=content_type,
                dataschema=attributes.get("dataschema", ""),
            )
        except (KeyError, ValueError) as error:
            raise MalformedEnvelope(f"not a Better Work brand feed event: {error!r}") from error
