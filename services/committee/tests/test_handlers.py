"""The committee service's command handlers on the in-memory event store and directory: no database.

Angkor Apparel (a Cambodian garment factory, 2,400 workers) gets its committee and advisory plans."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from betterwork_events.commands import CommandRequest
from betterwork_events.contracts.advisory import AdvisoryTopic
from betterwork_events.contracts.committee import AgendaTopic, Candidate, MeetingRecorded, Person, Sex
from betterwork_events.contracts.factory_registry import ServicePackage
from betterwork_events.errors import IdempotencyKeyReused, IllegalStep, InvalidRequest, NotFound
from betterwork_events.factories import KnownFactory, unknown_factory
from betterwork_events.memory import InMemoryEventStore
from betterwork_events.store import CommandContext, VersionConflict
from committee.advisory import NewPriority
from committee.directory import InMemoryDirectory, Kind
from committee.domain import NewActionItem
from committee.handlers import Service

ANGKOR = KnownFactory("KH-2026-0042-5", "Angkor Apparel Co., Ltd.", "KH", "enrolled", 2400, 1980, ServicePackage.CORE)
# 20:00 UTC on 14 June is 15 June in Phnom Penh (UTC+7): the factory's day is what counts.
NOW = dt.datetime(2026, 6, 14, 20, 0, tzinfo=dt.UTC)
PHNOM_PENH_TODAY = dt.date(2026, 6, 15)
MANAGER = CommandContext(actor="programme:KH:manager-dara")


def worker(number: str, name: str, sex: Sex = Sex.FEMALE) -> Person:
    return Person(employee_number=number, name=name, sex=sex, job_title="sewing operator")


BALLOT = [
    Candidate(person=worker("AA-01873", "Chan Sreymom"), votes=412),
    Candidate(person=worker("AA-00412", "Keo Sophea"), votes=388),
    Candidate(person=worker("AA-02291", "Lim Bopha"), votes=301),
    Candidate(person=worker("AA-00977", "Heng Rithy", Sex.MALE), votes=287),
]
DARA = worker("AA-00007", "Sok Dara")
EXIT_TOPIC = AgendaTopic(title="Blocked emergency exit on the cutting floor")


async def factories(factory_id: str) -> KnownFactory:
    if factory_id != ANGKOR.id:
        raise unknown_factory(factory_id)
    return ANGKOR


@pytest.fixture
def committees() -> Service:
    return Service(InMemoryEventStore("/betterwork/committee"), InMemoryDirectory(), factories, clock=lambda: NOW)


def sent(name: str, key: str | None = None, version: int | None = None, asked: object = None) -> CommandRequest:
    return CommandRequest(name, MANAGER, expected_version=version, idempotency_key=key, asked=asked)


async def established(committees: Service, on: dt.date = dt.date(2026, 3, 2), key: str | None = None) -> str:
    outcome = await committees.establish_committee(sent("establish", key, asked=str(on)), ANGKOR.id, on)
    return outcome.aggregate.id


async def staffed(committees: Service) -> str:
    committee_id = await established(committees)
    await committees.change_committee(
        sent("elect"),
        committee_id,
        lambda c, today: c.record_election(dt.date(2026, 3, 16), 4, BALLOT, dt.date(2028, 3, 15), today),
    )
    await committees.change_committee(
        sent("appoint"), committee_id, lambda c, today: c.appoint(DARA, dt.date(2026, 3, 16), None)
    )
    return committee_id


def meeting_on(day: dt.date) -> object:
    return lambda c, today: c.record_meeting(day, ["M-1", "M-2", "M-5"], [EXIT_TOPIC], "Walked the floor.", today)


async def test_a_factorys_committees_are_numbered_through_the_directory_one_active_at_a_time(
    committees: Service,
) -> None:
    first = await established(committees)
    with pytest.raises(IllegalStep, match=f"already has a committee, {first}"):
        await established(committees, dt.date(2026, 4, 1))

    await committees.change_committee(
        sent("dissolve"), first, lambda c, today: c.dissolve(dt.date(2026, 5, 1), "members resigned", today)
    )
    with pytest.raises(NotFound, match="has no active committee"):
        await committees.active_committee(ANGKOR.id)
    second = await established(committees, dt.date(2026, 5, 2))

    assert (first, second) == (f"{ANGKOR.id}-C1", f"{ANGKOR.id}-C2")
    assert [c.id for c in await committees.committees_of(ANGKOR.id)] == [first, second]
    assert (await committees.active_committee(ANGKOR.id)).id == second
    listed = await committees.directory.of_factory(ANGKOR.id, Kind.COMMITTEE)
    assert [(e.id, e.dissolved_on) for e in listed] == [(first, dt.date(2026, 5, 1)), (second, None)]


async def test_a_retried_establishment_answers_the_first_committee_and_a_reused_key_is_refused(
    committees: Service,
) -> None:
    once = await established(committees, key="angkor-picc")
    twice = await established(committees, key="angkor-picc")

    assert once == twice == f"{ANGKOR.id}-C1"
    with pytest.raises(IdempotencyKeyReused):
        await established(committees, dt.date(2026, 3, 3), key="angkor-picc")
    assert len(await committees.store.load(f"committee-{once}")) == 1


async def test_a_meeting_is_recorded_on_the_factorys_day_at_the_version_read(committees: Service) -> None:
    committee_id = await staffed(committees)

    with pytest.raises(VersionConflict):
        await committees.change_committee(sent("meet", version=1), committee_id, meeting_on(PHNOM_PENH_TODAY))
    with pytest.raises(InvalidRequest, match="held_on"):
        await committees.change_committee(sent("meet"), committee_id, meeting_on(PHNOM_PENH_TODAY + dt.timedelta(1)))
    outcome = await committees.change_committee(sent("meet", version=3), committee_id, meeting_on(PHNOM_PENH_TODAY))

    [meeting] = outcome.created(MeetingRecorded)
    assert (meeting.held_on, outcome.version) == (PHNOM_PENH_TODAY, 4)
    assert outcome.consistency_token.startswith("committee:")
    assert len(await committees.store.load(f"committee-{committee_id}")) == 4


async def test_an_unknown_factory_gets_no_committee_and_nothing_is_written(committees: Service) -> None:
    with pytest.raises(NotFound, match="no factory KH-2026-9999-1 is known here"):
        await committees.establish_committee(sent("establish"), "KH-2026-9999-1", dt.date(2026, 3, 2))
    withdrawn = replace(ANGKOR, enrollment="withdrawn")

    async def only_withdrawn(factory_id: str) -> KnownFactory:
        return withdrawn

    committees.factories = only_withdrawn
    with pytest.raises(IllegalStep, match="is withdrawn"):
        await established(committees)
    assert await committees.directory.of_factory(ANGKOR.id, Kind.COMMITTEE) == []


async def test_advisory_plans_follow_one_another_by_cycle_and_link_the_committees_action_items(
    committees: Service,
) -> None:
    committee_id = await staffed(committees)
    await committees.change_committee(
        sent("meet"),
        committee_id,
        lambda c, today: c.record_meeting(
            dt.date(2026, 6, 1),
            ["M-1", "M-2", "M-5"],
            [EXIT_TOPIC],
            "Walked the floor.",
            today,
            action_items=[NewActionItem("Clear the east exit", "M-5", dt.date(2026, 7, 1), ())],
        ),
    )
    link = f"action-item:{committee_id}/AI-1"
    priority = NewPriority(AdvisoryTopic.OSH_MANAGEMENT, "Clear the exits", (link,))

    first = await committees.agree_plan(
        sent("agree"), ANGKOR.id, dt.date(2026, 6, 1), dt.date(2027, 5, 31), "Pich Sopheap", 2, [priority], None
    )
    second = await committees.agree_plan(
        sent("agree"), ANGKOR.id, dt.date(2027, 6, 1), dt.date(2028, 5, 31), "Pich Sopheap", 2, [], None
    )

    assert [p.id for p in await committees.plans_of(ANGKOR.id)] == [first.aggregate.id, second.aggregate.id]
    assert (first.aggregate.cycle, second.aggregate.cycle) == (1, 2)
    assert [p.links for p in first.aggregate.priorities.values()] == [(link,)]
    planned = await committees.change_plan(
        sent("plan-visit"),
        first.aggregate.id,
        ANGKOR.id,
        lambda p, now: p.plan_visit(now.factory, now.today, dt.date(2026, 7, 1), now.today),
    )
    assert [v.planned_on for v in planned.aggregate.visits.values()] == [PHNOM_PENH_TODAY]
