"""An aggregate's history as its readers see it: every change, oldest first, with when and by whom.

Programme staff read the whole record. Anyone else reads only what a `Disclosure` names: the event
types they may know of and, of each, the fields they may read; an event or a field it does not name
is not shown, so a field added to a contract later stays hidden until someone decides otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from betterwork_events.catalogue import EventContract
from betterwork_events.envelope import Envelope


class Change(BaseModel):
    version: int = Field(description="The aggregate's version after this change")
    type: str = Field(description="The CloudEvents type of the event", examples=["org.betterwork.factory.enrolled.v1"])
    time: dt.datetime
    actor: str | None = Field(
        description="Who made it: `audience:scope:subject` for programme staff, else the audience"
    )
    data: dict[str, Any]


# Event type → the fields a reader outside the programme may read of it; a callable decides per event.
Disclosure = Mapping[type[EventContract], Sequence[str] | Callable[[EventContract], Sequence[str] | None]]


def whole(envelopes: Sequence[Envelope]) -> list[Change]:
    """The whole record, for programme staff."""
    return [Change(version=e.streamversion, type=e.type, time=e.time, actor=e.actor, data=e.data) for e in envelopes]


def disclosed(envelopes: Sequence[Envelope], disclosure: Disclosure) -> list[Change]:
    """What `disclosure` lets a reader outside the programme see; staff are named only by audience."""
    changes = []
    for envelope in envelopes:
        event = envelope.contract()
        rule = disclosure.get(type(event))
        fields = rule(event) if callable(rule) else rule
        if fields is None:
            continue
        data = envelope.data
        changes.append(
            Change(
                version=envelope.streamversion,
                type=envelope.type,
                time=envelope.time,
                actor=(envelope.actor or "").partition(":")[0] or None,
                data={name: data[name] for name in fields if name in data},
            )
        )
    return changes
