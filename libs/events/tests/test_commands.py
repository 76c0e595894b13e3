"""The command runner on the in-memory event store: no database.

The aggregate is a small one of its own, Angkor Apparel's committee (KH, Phnom Penh), that can
be established and dissolved."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from betterwork_events.commands import CommandRequest, CommandRunner, Repository
from betterwork_events.contracts.committee import CommitteeDissolved, CommitteeEstablished
from betterwork_events.errors import IdempotencyKeyReused, IllegalStep, InvalidRequest, NotFound
from betterwork_events.memory import InMemoryEventStore
from betterwork_events.store import CommandContext, VersionConflict

FACTORY = "KH-2026-0042-5"
# 20:00 UTC on 3 March is already 4 March in Phnom Penh (UTC+7).
NOW = dt.datetime(2026, 3, 3, 20, 0, tzinfo=dt.UTC)
SOKHA = CommandContext(actor="programme:KH:country-manager-sokha")


@dataclass
class Picc:
    id: str
    factory_id: str = ""
    country: str = ""
    dissolved_on: dt.date | None = None
    version: int = 0

    def dissolve(self, on: dt.date, reason: str, today: dt.date) -> list[CommitteeDissolved]:
        if on > today:
            raise IllegalStep(f"dissolved_on {on} is after today ({today})")
        if self.dissolved_on is not None:
            raise IllegalStep(f"{self.id} was dissolved on {self.dissolved_on}")
        return [CommitteeDissolved(committee_id=self.id, factory_id=self.factory_id, dissolved_on=on, reason=reason)]

    def apply(self, event: Any) -> None:
        match event:
            case CommitteeEstablished():
                self.factory_id, self.country = event.factory_id, event.country
            case CommitteeDissolved():
                self.dissolved_on = event.dissolved_on
        self.version += 1

    @classmethod
    def rebuild(cls, picc_id: str, events: Sequence[Any]) -> Picc:
        picc = cls(picc_id)
        for event in events:
            picc.apply(event)
        return picc


class Directory:
    """What a service's directory sees: the events of each committed append."""

    def __init__(self) -> None:
        self.recorded: list[Any] = []

    async def record(self, transaction: Any, events: Sequence[Any]) -> None:
        transaction.on_commit.append(lambda: self.recorded.extend(events))


@dataclass
class World:
    store: InMemoryEventStore
    runner: CommandRunner
    piccs: Repository[Picc]
    directory: Directory

    async def established(self) -> str:
        async def establish(transaction: Any, now: dt.datetime) -> tuple[str, list[Any]]:
            picc_id = f"{FACTORY}-C1"
            return picc_id, [
                CommitteeEstablished(committee_id=picc_id, factory_id=FACTORY, country="KH", established_on=now.date())
            ]

        return (await self.runner.create(self.piccs, request("POST /committees"), establish)).aggregate.id


@pytest.fixture
def world() -> World:
    store = InMemoryEventStore("/betterwork/committee")
    directory = Directory()
    piccs = Repository(store, Picc.rebuild, lambda picc_id: f"committee-{picc_id}", "committee", directory.record)
    return World(store, CommandRunner(store, clock=lambda: NOW), piccs, directory)


def request(name: str, **kwargs: Any) -> CommandRequest:
    return CommandRequest(name=name, context=SOKHA, **kwargs)


def dissolving(on: dt.date, reason: str = "the members resigned") -> Any:
    return lambda picc, today: picc.dissolve(on, reason, today)


DISSOLVE = "POST /committees/{committee_id}/dissolution"


async def test_a_change_appends_what_the_domain_decided_on_the_factorys_day_and_answers_version_and_token(
    world: World,
) -> None:
    picc_id = await world.established()
    phnom_penh_today = dt.date(2026, 3, 4)

    outcome = await world.runner.change(world.piccs, picc_id, request(DISSOLVE), dissolving(phnom_penh_today))

    assert outcome.version == 2 and outcome.aggregate.dissolved_on == phnom_penh_today
    assert [type(e) for e in outcome.events] == [CommitteeDissolved]
    assert outcome.consistency_token == f"committee:{world.store.envelopes[-1].position}"
    assert [e.type for e in await world.store.load(f"committee-{picc_id}")] == [
        "org.betterwork.committee.established.v1",
        "org.betterwork.committee.dissolved.v1",
    ]
    assert [type(e) for e in world.directory.recorded] == [CommitteeEstablished, CommitteeDissolved]


async def test_a_stale_if_match_is_a_version_conflict_and_appends_nothing(world: World) -> None:
    picc_id = await world.established()

    with pytest.raises(VersionConflict, match="has changed since version 3"):
        await world.runner.change(
            world.piccs, picc_id, request(DISSOLVE, expected_version=3), dissolving(dt.date(2026, 3, 1))
        )

    assert len(world.store.envelopes) == 1
    current = await world.runner.change(
        world.piccs, picc_id, request(DISSOLVE, expected_version=1), dissolving(dt.date(2026, 3, 1))
    )
    assert current.version == 2


async def test_a_retry_with_the_same_key_and_request_gets_the_first_answer_and_appends_nothing(world: World) -> None:
    picc_id = await world.established()
    first = request(DISSOLVE, expected_version=1, idempotency_key="angkor-picc-dissolution").asking(
        {"dissolved_on": "2026-03-01"}
    )

    once = await world.runner.change(world.piccs, picc_id, first, dissolving(dt.date(2026, 3, 1)))
    # The retry carries the If-Match its own first attempt made stale: it is recognised first.
    twice = await world.runner.change(world.piccs, picc_id, first, dissolving(dt.date(2026, 3, 1)))

    assert twice.events == once.events and twice.version == once.version == 2
    assert twice.consistency_token == once.consistency_token
    assert len(world.store.envelopes) == 2


async def test_retries_sent_at_once_take_effect_once(world: World) -> None:
    picc_id = await world.established()
    sent = request(DISSOLVE, idempotency_key="angkor-picc-dissolution").asking({"dissolved_on": "2026-03-01"})

    outcomes = await asyncio.gather(
        *(world.runner.change(world.piccs, picc_id, sent, dissolving(dt.date(2026, 3, 1))) for _ in range(5))
    )

    assert {o.version for o in outcomes} == {2} and len(world.store.envelopes) == 2


async def test_the_same_key_with_a_different_request_is_refused_and_says_so(world: World) -> None:
    picc_id = await world.established()
    key = "angkor-picc-dissolution"
    await world.runner.change(
        world.piccs,
        picc_id,
        request(DISSOLVE, idempotency_key=key).asking({"dissolved_on": "2026-03-01"}),
        dissolving(dt.date(2026, 3, 1)),
    )

    with pytest.raises(IdempotencyKeyReused, match="'angkor-picc-dissolution' was already used for a different"):
        await world.runner.change(
            world.piccs,
            picc_id,
            request(DISSOLVE, idempotency_key=key).asking({"dissolved_on": "2026-03-02"}),
            dissolving(dt.date(2026, 3, 2)),
        )
    with pytest.raises(IdempotencyKeyReused):  # the same key on another command
        await world.runner.create(world.piccs, request("POST /committees", idempotency_key=key), _never)
    assert len(world.store.envelopes) == 2


async def _never(transaction: Any, now: dt.datetime) -> tuple[str, list[Any]]:
    raise AssertionError("a reused key must not reach the decision")


async def test_a_domain_refusal_leaves_nothing_appended_and_the_key_free(world: World) -> None:
    picc_id = await world.established()
    key = "angkor-picc-dissolution"

    with pytest.raises(IllegalStep, match=r"after today \(2026-03-04\)"):
        await world.runner.change(
            world.piccs, picc_id, request(DISSOLVE, idempotency_key=key), dissolving(dt.date(2026, 3, 5))
        )

    assert len(world.store.envelopes) == 1 and len(world.directory.recorded) == 1
    assert world.store.requests == {}
    fixed = request(DISSOLVE, idempotency_key=key).asking({"dissolved_on": "2026-03-04"})
    assert (await world.runner.change(world.piccs, picc_id, fixed, dissolving(dt.date(2026, 3, 4)))).version == 2


async def test_a_failing_directory_update_takes_the_append_with_it(world: World) -> None:
    picc_id = await world.established()

    async def broken(transaction: Any, events: Sequence[Any]) -> None:
        raise RuntimeError("the directory is out of order")

    world.piccs.record = broken
    with pytest.raises(RuntimeError):
        await world.runner.change(world.piccs, picc_id, request(DISSOLVE), dissolving(dt.date(2026, 3, 1)))

    assert len(world.store.envelopes) == 1


async def test_an_unknown_aggregate_is_not_found(world: World) -> None:
    with pytest.raises(NotFound, match=f"no committee {FACTORY}-C9"):
        await world.runner.change(world.piccs, f"{FACTORY}-C9", request(DISSOLVE), dissolving(dt.date(2026, 3, 1)))


async def test_two_creations_of_one_stream_make_one_and_the_other_conflicts(world: World) -> None:
    await world.established()

    with pytest.raises(VersionConflict):
        await world.established()
    with pytest.raises(InvalidRequest, match="If-Match"):
        await world.runner.create(world.piccs, request("POST /committees", expected_version=1), _never)

    assert len(world.store.envelopes) == 1
