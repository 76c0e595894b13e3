"""The published description of the event streams, generated from the catalogue, never by hand:
a JSON Schema (draft 2020-12) per event type and one AsyncAPI 3.0 document for all topics.

    python -m betterwork_events.docs --out libs/events/docs           # regenerate
    python -m betterwork_events.docs --out libs/events/docs --check   # exit 1 if out of date

The output is committed, so integrators can read it without running Python, and a test fails
when a contract changes without the output being regenerated.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, cast

from betterwork_events import brand_feed
from betterwork_events.catalogue import SCHEMA_URI, Catalogue, EventContract, JsonObject, load_all_contracts
from betterwork_events.envelope import CONTENT_TYPE, SPEC_VERSION
from betterwork_events.kafka import events_topic

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# Say which dialect the payloads are in: AsyncAPI's default schema format is draft-07 based.
PAYLOAD_SCHEMA_FORMAT = "application/schema+json;version=draft-2020-12"
# The latest Kafka bindings version that the AsyncAPI 3.0.0 specification schema accepts.
KAFKA_BINDING_VERSION = "0.4.0"
GENERATED_BY = "Generated from the event catalogue by `python -m betterwork_events.docs`; do not edit."

ASYNCAPI_FILE = "asyncapi.json"
SCHEMA_DIR = "schemas"


def schema_file(event_type: str) -> str:
    return f"{SCHEMA_DIR}/{event_type}.json"


def event_schema(contract: type[EventContract]) -> JsonObject:
    """The JSON Schema of an event's data: what the catalogue accepts when it decodes the event."""
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": SCHEMA_URI.format(type=contract.event_type),
        "$comment": GENERATED_BY,
        **contract.model_json_schema(mode="validation"),
    }


# --- AsyncAPI ------------------------------------------------------------------------------------


def _header(description: str, **schema: Any) -> JsonObject:
    # Kafka header values are bytes; they carry the text form of each attribute.
    return {"type": "string", "description": description, **schema}


POSITIVE_INTEGER = "^[1-9][0-9]*$"
TRACEPARENT = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"


def kafka_headers_schema(contract: type[EventContract]) -> JsonObject:
    """The headers of a message in CloudEvents binary content mode, as `Envelope.kafka_headers` writes them."""
    event_type = contract.event_type
    always = {
        "ce_specversion": _header("CloudEvents specification version.", const=SPEC_VERSION),
        "ce_id": _header(
            "Unique id of the event. Delivery is at least once: a repeated id is the same event again.",
            format="uuid",
        ),
        "ce_source": _header("The service that recorded the event, e.g. /betterwork/factory-registry."),
        "ce_type": _header("The event type, which names the contract of the body.", const=event_type),
        "ce_subject": _header("The stream (aggregate) the event belongs to, e.g. the factory or assessment id."),
        "ce_time": _header("When the event was recorded (RFC 3339, UTC).", format="date-time"),
        "ce_dataschema": _header("The `$id` of the body's JSON Schema.", const=SCHEMA_URI.format(type=event_type)),
        "ce_streamversion": _header(
            "The event's version within its stream, from 1; orders the events of one stream.",
            pattern=POSITIVE_INTEGER,
        ),
        "ce_position": _header(
            "The event's position in the publishing service's event store: unique per service, but "
            "not increasing in publication order (use ce_streamversion to order a stream).",
            pattern=POSITIVE_INTEGER,
        ),
        "content-type": _header("Media type of the body.", const=CONTENT_TYPE),
    }
    if contract.keyed_by_factory and "factory_id" in contract.model_fields:
        always["ce_factoryid"] = _header("The factory the event is about; also the Kafka key.")
    optional = {
        "ce_correlationid": _header("Ties together the events that follow from one request.", format="uuid"),
        "ce_causationid": _header("The id of the message that caused this event.", format="uuid"),
        "ce_traceparent": _header("W3C trace context of the command that recorded the event.", pattern=TRACEPARENT),
        "ce_actor": _header("Who issued the command that recorded the event, as audience:subject."),
        "traceparent": _header(
            "ce_traceparent again under its W3C name, for generic Kafka tracing instrumentation.",
            pattern=TRACEPARENT,
        ),
    }
    return {"type": "object", "properties": always | optional, "required": sorted(always)}


def _pointer(*parts: str) -> str:
    """A JSON Pointer reference into this document (RFC 6901 escaping)."""
    return "#/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def _summary(contract: type[EventContract]) -> str:
    doc = inspect.cleandoc(contract.__doc__ or "")
    return doc.splitlines()[0] if doc else contract.__name__


def _key_description(contract: type[EventContract]) -> str:
    if contract.keyed_by_factory:
        return (
            "The factory id (ce_factoryid), so that one factory's events stay in order in one partition; "
            "the stream id (ce_subject) for an event about no factory."
        )
    return (
        "The stream id (ce_subject), so that the stream's events stay in order in one partition. Not the "
        "factory id: the stream can concern several factories; the body names them."
    )


def embedded_payload_schema(contract: type[EventContract]) -> JsonObject:
    """The event's JSON Schema with its `$defs` written in where they are used, for embedding in the
    AsyncAPI document: there a `#/$defs/...` reference is resolved against the whole document, not
    against the embedded schema's own `$id`, and names nothing. The contracts hold no recursive type."""
    schema = event_schema(contract)
    definitions = schema.pop("$defs", {})

    def inline(node: Any, seen: tuple[str, ...] = ()) -> Any:
        if isinstance(node, list):
            return [inline(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name in seen:
                raise ValueError(f"{contract.event_type}: {name} refers to itself; it cannot be written in")
            rest = {key: inline(value, seen) for key, value in node.items() if key != "$ref"}
            return {**inline(definitions[name], (*seen, name)), **rest}
        return {key: inline(value, seen) for key, value in node.items()}

    return cast(JsonObject, inline(schema))


def asyncapi_message(contract: type[EventContract]) -> JsonObject:
    return {
        "name": contract.event_type,
        "title": contract.event_type,
        "summary": _summary(contract),
        "contentType": CONTENT_TYPE,
        "headers": kafka_headers_schema(contract),
        "payload": {"schemaFormat": PAYLOAD_SCHEMA_FORMAT, "schema": embedded_payload_schema(contract)},
        "correlationId": {
            "description": "Shared by every event that follows from one request.",
            "location": "$message.header#/ce_correlationid",
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": _key_description(contract)},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


# --- The brand feeds ------------------------------------------------------------------------------

BRAND_CHANNEL = "brand-feed"
BRAND_ADDRESS = "brand.{brandId}.events"  # brand_feed.topic(brand id)


def brand_feed_headers_schema(contract: type[EventContract]) -> JsonObject:
    """The headers of a brand's copy of an event, as `BrandFeedEvent.kafka_headers` writes them: these
    and no others."""
    event_type = contract.event_type
    headers = {
        "ce_specversion": _header("CloudEvents specification version.", const=SPEC_VERSION),
        "ce_id": _header(
            "Id of this brand's copy of the event: a UUID v5 of the brand id and ce_originalid. Delivery is "
            "at least once and a repeated event has the same id: ignore an id you have already processed.",
            format="uuid",
        ),
        "ce_source": _header("The Better Work gateway's brand feeds.", const=brand_feed.SOURCE),
        "ce_type": _header("The event type, which names the contract of the body.", const=event_type),
        "ce_subject": _header("The stream (aggregate) the event belongs to, e.g. the factory or assessment id."),
        "ce_time": _header("When the programme recorded the event (RFC 3339, UTC).", format="date-time"),
        "ce_dataschema": _header("The `$id` of the body's JSON Schema.", const=SCHEMA_URI.format(type=event_type)),
        "ce_factoryid": _header("The factory the event is about; also the Kafka key."),
        "ce_originalid": _header(
            "The id of the event in the programme's own streams (the same for every brand that receives it).",
            format="uuid",
        ),
        "content-type": _header("Media type of the body.", const=CONTENT_TYPE),
    }
    return {"type": "object", "properties": headers, "required": sorted(headers), "additionalProperties": False}


def _brand_feed_description(contract: type[EventContract]) -> str:
    if contract in brand_feed.RELATIONSHIP_CONTRACTS:
        who = "Sent only to the brand it names, so that it knows when its feed of the factory starts or stops."
    else:
        who = (
            "Sent to every brand linked to the factory whose report-sharing consent it holds, at that moment, "
            "and to a brand that comes to read the factory later, when it does."
        )
    redacted = brand_feed.STAFF_FIELDS.get(contract, ())
    if redacted:
        fields = ", ".join(f"`{name}`" for name in redacted)
        who += f" {fields} reads `{brand_feed.STAFF}`: brands are not told which staff member acted."
    return who


def brand_feed_message(contract: type[EventContract]) -> JsonObject:
    return {
        "name": contract.event_type,
        "title": contract.event_type,
        "summary": _summary(contract),
        "description": _brand_feed_description(contract),
        "contentType": CONTENT_TYPE,
        "headers": brand_feed_headers_schema(contract),
        "payload": {"schemaFormat": PAYLOAD_SCHEMA_FORMAT, "schema": embedded_payload_schema(contract)},
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": "The factory id (ce_factoryid), so that one factory's events stay in order "
                    "in one partition.",
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def brand_feed_channel() -> JsonObject:
    return {
        "address": BRAND_ADDRESS,
        "title": BRAND_ADDRESS,
        "description": "One topic per brand, written by the gateway: the published assessment reports of the "
        "brand's suppliers that consent to share them with it, how their findings are remedied, and the brand's "
        "own supplier links and consents. Nothing from before a report is published (schedules, planned "
        "dates, findings, reviews) and nothing about other brands. The deployment lets each brand's Kafka user "
        "read its own topic and no other. "
        "Complete: when a brand comes to read a factory (its link, or the factory's consent, arrives after the "
        "factory's reports were published), the event that opens its view is followed by every earlier event of "
        "that factory the brand may now see, in order, then by the live flow; each event is sent to a brand once "
        "(a rare redelivery keeps its ce_id). "
        "A deployment may prefix topic names (BW_TOPIC_PREFIX).",
        "parameters": {
            "brandId": {
                "description": "The brand's programme id: the scope of its `brand` token.",
                "examples": ["BR-0001"],
            }
        },
        "messages": {contract.event_type: brand_feed_message(contract) for contract in brand_feed.CONTRACTS},
    }


def asyncapi_document(catalogue: Catalogue) -> JsonObject:
    by_topic: dict[str, list[type[EventContract]]] = {}
    for contract in catalogue.contracts():
        by_topic.setdefault(events_topic(contract.topic_service), []).append(contract)

    channels: JsonObject = {}
    operations: JsonObject = {}
    for topic, contracts in sorted(by_topic.items()):
        service = contracts[0].topic_service
        order = "factory" if all(c.keyed_by_factory for c in contracts) else "stream (ce_subject)"
        channels[topic] = {
            "address": topic,
            "title": topic,
            "description": f"Every event the {service} service records, in order per {order}. "
            "A deployment may prefix topic names (BW_TOPIC_PREFIX).",
            "messages": {contract.event_type: asyncapi_message(contract) for contract in contracts},
        }
        operations[f"receive.{topic}"] = {
            "action": "receive",
            "title": f"Subscribe to {topic}",
            "channel": {"$ref": _pointer("channels", topic)},
            "messages": [{"$ref": _pointer("channels", topic, "messages", c.event_type)} for c in contracts],
            "bindings": {
                "kafka": {
                    "groupId": {
                        "type": "string",
                        "description": "One consumer group per subscribing system. Ignore repeated ce_id: "
                        "delivery is at least once.",
                    },
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }

    channels[BRAND_CHANNEL] = brand_feed_channel()
    operations[f"receive.{BRAND_CHANNEL}"] = {
        "action": "receive",
        "title": f"Subscribe to {BRAND_ADDRESS}",
        "summary": "A brand integration reads its own topic",
        "channel": {"$ref": _pointer("channels", BRAND_CHANNEL)},
        "messages": [
            {"$ref": _pointer("channels", BRAND_CHANNEL, "messages", c.event_type)} for c in brand_feed.CONTRACTS
        ],
        "bindings": {
            "kafka": {
                "groupId": {
                    "type": "string",
                    "description": "The brand's own consumer group. Ignore a ce_id you have already processed: "
                    "delivery is at least once, and a repeated event has the same ce_id.",
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Better Work event streams",
            "version": metadata.version("betterwork-events"),
            "description": "The events of the Better Work services on Kafka, as CloudEvents 1.0 in binary "
            "content mode: the attributes are `ce_*` headers and the body is the event's JSON data. " + GENERATED_BY,
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
    }


# --- Files, drift check and command line, shared with betterwork_events.openapi --------------------


def to_json(document: Any) -> str:
    """Stable text, so that regenerating unchanged contracts changes no byte."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generated_files(catalogue: Catalogue) -> dict[str, str]:
    """Every generated file: path relative to the output directory -> content."""
    files = {ASYNCAPI_FILE: to_json(asyncapi_document(catalogue))}
    for contract in catalogue.contracts():
        files[schema_file(contract.event_type)] = to_json(event_schema(contract))
    return files


# The files in the output directory that the generator owns; anything else there is left alone.
OWNED = (ASYNCAPI_FILE, f"{SCHEMA_DIR}/*.json")


def _owned_files(out: Path, owned: Sequence[str]) -> set[str]:
    return {path.relative_to(out).as_posix() for pattern in owned for path in out.glob(pattern) if path.is_file()}


def drift(out: Path, files: Mapping[str, str], owned: Sequence[str]) -> list[str]:
    """How the files in `out` differ from `files`; empty when they are up to date."""
    problems = []
    for name, text in sorted(files.items()):
        path = out / name
        if not path.is_file():
            problems.append(f"missing: {name}")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"out of date: {name}")
    problems += [f"not generated (stale): {name}" for name in sorted(_owned_files(out, owned) - files.keys())]
    return problems


def write(out: Path, files: Mapping[str, str], owned: Sequence[str]) -> None:
    for name in _owned_files(out, owned) - files.keys():
        (out / name).unlink()
    for name, text in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def run(
    argv: Sequence[str] | None,
    *,
    prog: str,
    description: str,
    generate: Callable[[], dict[str, str]],
    owned: Sequence[str],
) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory to write to")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if DIR differs from what would be generated"
    )
    args = parser.parse_args(argv)
    files = generate()
    if args.check:
        problems = drift(args.out, files, owned)
        if problems:
            print(f"{args.out} is not what the code generates:", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
            print(f"Regenerate with: python -m {prog} --out {args.out}", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date ({len(files)} files)")
        return 0
    write(args.out, files, owned)
    print(f"wrote {len(files)} files to {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(
        argv,
        prog="betterwork_events.docs",
        description="Generate the JSON Schemas of the event contracts and the AsyncAPI document of the event "
        f"streams ({ASYNCAPI_FILE}, {SCHEMA_DIR}/<event type>.json) from the catalogue.",
        generate=lambda: generated_files(load_all_contracts()),
        owned=OWNED,
    )


if __name__ == "__main__":
    sys.exit(main())
