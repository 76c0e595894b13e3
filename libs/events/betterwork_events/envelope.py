"""The CloudEvents 1.0 envelope of every stored and published event.

On Kafka the envelope travels in binary content mode: the attributes are `ce_*` headers and the
value is the JSON data, so a subscriber can route on the headers without parsing the body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from betterwork_events.catalogue import SCHEMA_URI, EventContract, JsonObject, catalogue

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

# Extension attributes (CloudEvents requires lower-case alphanumeric names).
EXTENSIONS = ("streamversion", "position", "factoryid", "correlationid", "causationid", "traceparent", "actor")


class MalformedEnvelope(ValueError):
    pass


@dataclass(slots=True)
class Envelope:
    """One event with its CloudEvents attributes.

    Treat it as immutable (`dataclasses.replace` makes a changed copy). It is not declared frozen
    because the event store builds one per event it reads, and a frozen dataclass's __init__
    costs three times as much; slots keep it to one object per event for the cyclic GC to walk.
    """

    id: UUID
    source: str
    type: str
    subject: str  # the stream (aggregate) id
    time: datetime
    # The data as JSON text, exactly as stored and as published: the relay passes it through, and
    # only a reader that looks inside pays for decoding it (`data`).
    data_json: str
    streamversion: int
    position: int
    factoryid: str | None = None
    correlationid: UUID | None = None
    causationid: UUID | None = None
    traceparent: str | None = None
    actor: str | None = None
    specversion: str = SPEC_VERSION
    datacontenttype: str = CONTENT_TYPE
    dataschema: str = ""
    _data: JsonObject | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.dataschema:
            self.dataschema = SCHEMA_URI.format(type=self.type)

    @property
    def data(self) -> JsonObject:
        """The data decoded (once, on first use)."""
        if self._data is None:
            decoded = json.loads(self.data_json)
            if not isinstance(decoded, dict):
                raise MalformedEnvelope("event data is not a JSON object")
            self._data = decoded
        return self._data

    @property
    def key(self) -> str:
        """The Kafka key: the factory, so one factory's events stay ordered in one partition."""
        return self.factoryid or self.subject

    def contract(self) -> EventContract:
        """The data as its current contract (old versions are upcast)."""
        return catalogue.decode(self.type, self.data)

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
            "streamversion": self.streamversion,
            "position": self.position,
            "factoryid": self.factoryid,
            "correlationid": self.correlationid,
            "causationid": self.causationid,
            "traceparent": self.traceparent,
            "actor": self.actor,
        }
        headers = [(f"ce_{name}", str(value).encode()) for name, value in attributes.items() if value is not None]
        headers.append(("content-type", self.datacontenttype.encode()))
        # W3C trace context under its own name too, so generic Kafka instrumentation finds it.
        if self.traceparent:
            headers.append(("traceparent", self.traceparent.encode()))
        return headers

    def kafka_value(self) -> bytes:
        return self.data_json.encode()

    @classmethod
    def from_kafka(
        cls, value: bytes | None, headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...]
    ) -> Envelope:
        attributes = {name[3:]: raw.decode() for name, raw in headers if name.startswith("ce_")}
        content_type = next((raw.decode() for name, raw in headers if name == "content-type"), CONTENT_TYPE)
        try:
            envelope = cls(
                id=UUID(attributes["id"]),
                source=attributes["source"],
                type=attributes["type"],
                subject=attributes["subject"],
                time=datetime.fromisoformat(attributes["time"]),
                data_json=(value or b"null").decode(),
                streamversion=int(attributes["streamversion"]),
                position=int(attributes["position"]),
                factoryid=attributes.get("factoryid"),
                correlationid=_uuid_or_none(attributes.get("correlationid")),
                causationid=_uuid_or_none(attributes.get("causationid")),
                traceparent=attributes.get("traceparent"),
                actor=attributes.get("actor"),
                specversion=attributes.get("specversion", SPEC_VERSION),
                datacontenttype=content_type,
                dataschema=attributes.get("dataschema", ""),
            )
            envelope.data  # noqa: B018 - a record whose data is not a JSON object is refused here, not later
            return envelope
        except MalformedEnvelope:
            raise
        except (KeyError, ValueError) as error:
            raise MalformedEnvelope(f"not a Better Work CloudEvent: {error!r}") from error


def _uuid_or_none(value: str | None) -> UUID | None:
    return UUID(value) if value else None
