"""Worker-management committees (PICCs) in GraphQL: projected from the committee service's events
on Kafka; composition, offices, members, elections, meetings, action items and health; pages and
filters; each audience's reach; redelivery; and the country statistics with small cells withheld.

Health is not an event: the committee service judges it on read. The expected figures here are
worked out from the events the test publishes, with the committee service's rules (a meeting
every 31 days with 7 days' grace, women's share within 15 points of the workforce's).
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from betterwork_events import kafka as kafka_clients
from betterwork_events.auth import Audience
from betterwork_events.contracts import committee as ce
from betterwork_events.envelope import Envelope
from gateway.graphql.relay import global_id

from tests.e2e.read_side import PROGRAMME, ReadSide, bearer
from tests.support import eventually

TODAY = dt.date(2026, 4, 20)
D = dt.date.fromisoformat


def person(number: str, name: str, sex: str, job: str) -> ce.Person:
    return ce.Person(employee_number=number, name=name, sex=ce.Sex(sex), job_title=job)


SREYMOM = person("AA-01873", "Chan Sreymom", "female", "sewing operator, line 14")
SOPHEA = person("AA-00412", "Keo Sophea", "female", "quality inspector")
RITHY = person("AA-00977", "Heng Rithy", "male", "mechanic")
DARA = person("AA-00007", "Sok Dara", "female", "HR manager")
VUTHY = person("AA-00019", "Lim Vuthy", "male", "production manager")
MINUTES = "The committee walked the cutting floor; the east exit was blocked by fabric rolls."


class Committee:
    """One committee's events, published on its stream as the committee service's relay would."""

    def __init__(self, read_side: ReadSide, factory_id: str, sequence: int = 1, country: str = "KH") -> None:
        self.read_side, self.factory_id, self.country = read_side, factory_id, country
        self.id = f"{factory_id}-C{sequence}"
        self.meetings = 0
        self.items = 0

    async def publish(self, event_type: type[ce.CommitteeEvent], **fields: Any) -> Envelope:
        event = event_type(committee_id=self.id, factory_id=self.factory_id, **fields)
        return await self.read_side.publish(event, stream=f"committee-{self.id}")

    async def establish(self, on: dt.date) -> None:
        await self.publish(ce.CommitteeEstablished, country=self.country, established_on=on)

    async def elect(self, held_on: dt.date, seats: int, votes: list[tuple[ce.Person, int]], first: int) -> None:
        ranked = sorted(votes, key=lambda v: -v[1])[:seats]
        elected = tuple(
            ce.CommitteeMember(
                member_id=f"M-{first + i}",
                person=p,
                side=ce.Side.WORKERS,
                term_starts_on=held_on,
                term_ends_on=held_on + dt.timedelta(days=700),
                election_id="E-1",
            )
            for i, (p, _) in enumerate(ranked)
        )
        candidates = tuple(ce.Candidate(person=p, votes=n) for p, n in votes)
        await self.publish(
            ce.ElectionRecorded, election_id="E-1", held_on=held_on, seats=seats, candidates=candidates, elected=elected
        )

    async def appoint(self, member_id: str, who: ce.Person, on: dt.date) -> None:
        seat = ce.CommitteeMember(member_id=member_id, person=who, side=ce.Side.MANAGEMENT, term_starts_on=on)
        await self.publish(ce.ManagementRepresentativeAppointed, member=seat)

    async def meet(self, held_on: dt.date, attendees: tuple[str, ...] = ("M-1",)) -> Envelope:
        self.meetings += 1
        topic = ce.AgendaTopic(title="Blocked emergency exit", references=("compliance-point:OSH-emergency-exits",))
        return await self.publish(
            ce.MeetingRecorded,
            meeting_id=f"MT-{self.meetings}",
            held_on=held_on,
            attendees=attendees,
            guests=("Pich Sopheap, Better Work advisor",),
            agenda=(topic,),
            minutes=MINUTES,
            decisions=("Keep the east exit clear at all times",),
        )

    async def raise_item(self, due_on: dt.date, owner: str = "M-1") -> str:
        self.items += 1
        item = f"AI-{self.items}"
        await self.publish(
            ce.ActionItemRaised,
            action_item_id=item,
            meeting_id=f"MT-{self.meetings}",
            description=f"Action {item}: clear the east exit",
            owner=owner,
            due_on=due_on,
        )
        return item


async def republish(read_side: ReadSide, envelope: Envelope) -> None:
    """The very same envelope again, as a relay does after a crash before its checkpoint."""
    producer = kafka_clients.producer(read_side.kafka)
    await producer.start()
    try:
        await producer.send_and_wait(
            f"{read_side.prefix}committee.events",
            value=envelope.kafka_value(),
            key=envelope.key.encode(),
            headers=envelope.kafka_headers(),
        )
    finally:
        await producer.stop()


async def angkors_committee(read_side: ReadSide, factory_id: str) -> tuple[Committee, dict[str, Envelope]]:
    """Established 5 January 2026; Sreymom and Sophea elected, Sophea left on 1 April; Dara and Vuthy
    appointed for management; Sreymom chair, Dara secretary; three meetings; three action items."""
    c = Committee(read_side, factory_id)
    sent: dict[str, Envelope] = {}
    await c.establish(D("2026-01-05"))
    await c.elect(D("2026-01-12"), 2, [(SREYMOM, 412), (SOPHEA, 388), (RITHY, 97)], first=1)
    await c.appoint("M-3", DARA, D("2026-01-12"))
    await c.appoint("M-4", VUTHY, D("2026-01-12"))
    sent["chair"] = await c.publish(ce.MemberOfficeAssigned, member_id="M-1", office=ce.Office.CHAIR)
    await c.publish(ce.MemberOfficeAssigned, member_id="M-3", office=ce.Office.SECRETARY)
    await c.meet(D("2026-01-20"), ("M-1", "M-2", "M-3"))
    await c.raise_item(D("2026-02-01"))
    sent["meeting"] = await c.meet(D("2026-02-18"), ("M-1", "M-3", "M-4"))
    await c.raise_item(D("2026-03-01"), owner="M-3")
    await c.raise_item(D("2026-05-01"))
    sent["closed"] = await c.publish(
        ce.ActionItemClosed, action_item_id="AI-1", closed_on=D("2026-01-30"), outcome="Exit cleared and marked"
    )
    await c.publish(ce.ActionItemStarted, action_item_id="AI-2", note="quotes asked for")
    await c.publish(ce.MemberLeft, member_id="M-2", left_on=D("2026-04-01"), reason="left the factory")
    await c.meet(D("2026-04-10"), ("M-1", "M-3"))
    return c, sent


EVERYTHING = """committeeId factoryId country establishedOn dissolvedOn dissolutionReason status
  composition(today: $today) { members women men womenShare
    workers { members women men } management { members women men } }
  members(today: $today) { memberId name employeeNumber sex jobTitle side office termStartsOn termEndsOn electionId }
  offices(today: $today) { office holder { memberId name } }
  elections { electionId heldOn seats candidates womenCandidates votesCast elected womenElected contested }
  meetings(first: 10) { totalCount nodes { meetingId heldOn attendees guests minutes decisions
    agenda { title references } } }
  meetingRegularity(today: $today) { meetings firstHeldOn lastHeldOn daysSinceLast daysBetweenMeetings
    averageDaysBetween longestDaysBetween perQuarter { quarter meetings } }
  actionItems(first: 10, today: $today) { totalCount nodes { actionItemId meetingId description owner dueOn status
    closedOn outcome overdue } }
  health(today: $today) { name status reason }
  healthy(today: $today)"""
OF_FACTORY = f"""query ($id: ID!, $today: Date) {{ factory(id: $id) {{ committee {{ id {EVERYTHING} }} }} }}"""


def committee_of(data: dict[str, Any]) -> Any:
    return (data.get("factory") or {}).get("committee")


async def settled(
    read_side: ReadSide, query: str, headers: dict[str, str], variables: dict[str, Any], check: Any
) -> dict[str, Any]:
    """Query until `check(data)` holds (the projection catching up); returns the data."""
    answer: dict[str, Any] = {}

    async def holds() -> bool:
        nonlocal answer
        answer = await read_side.graphql(query, headers, variables)
        return bool(answer.get("data") and check(answer["data"]))

    await eventually(holds, within=60, what=f"the committee read model catching up (last answer: {answer})")
    return answer["data"]


async def test_a_committee_is_projected_with_the_figures_its_events_give(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel", workers=(1980, 420))
    c, _ = await angkors_committee(read_side, angkor)
    variables = {"id": angkor, "today": str(TODAY)}

    seen = await settled(
        read_side,
        OF_FACTORY,
        PROGRAMME,
        variables,
        lambda d: bool(
            (found := committee_of(d))
            and found["meetingRegularity"]["meetings"] == 3
            and found["actionItems"]["nodes"][1]["status"] == "IN_PROGRESS"
            and len(found["members"]) == 3
        ),
    )
    seen = committee_of(seen)

    assert seen["committeeId"] == c.id and seen["status"] == "ACTIVE" and seen["country"] == "KH"
    # Seated on 20 April: Sreymom (workers, chair), Dara (management, secretary), Vuthy; Sophea left.
    assert [(m["memberId"], m["name"], m["side"], m["office"]) for m in seen["members"]] == [
        ("M-1", "Chan Sreymom", "WORKERS", "CHAIR"),
        ("M-3", "Sok Dara", "MANAGEMENT", "SECRETARY"),
        ("M-4", "Lim Vuthy", "MANAGEMENT", "MEMBER"),
    ]
    assert seen["composition"] == {
        "members": 3,
        "women": 2,
        "men": 1,
        "womenShare": 2 / 3,
        "workers": {"members": 1, "women": 1, "men": 0},
        "management": {"members": 2, "women": 1, "men": 1},
    }
    assert {o["office"]: (o["holder"] or {}).get("name") for o in seen["offices"]} == {
        "CHAIR": "Chan Sreymom",
        "VICE_CHAIR": None,
        "SECRETARY": "Sok Dara",
    }
    assert seen["elections"] == [
        {
            "electionId": "E-1",
            "heldOn": "2026-01-12",
            "seats": 2,
            "candidates": 3,
            "womenCandidates": 2,
            "votesCast": 412 + 388 + 97,
            "elected": 2,
            "womenElected": 2,
            "contested": True,
        }
    ]
    meeting_days = [D("2026-01-20"), D("2026-02-18"), D("2026-04-10")]
    gaps = [(b - a).days for a, b in itertools.pairwise(meeting_days)]
    assert seen["meetingRegularity"] == {
        "meetings": 3,
        "firstHeldOn": "2026-01-20",
        "lastHeldOn": "2026-04-10",
        "daysSinceLast": (TODAY - meeting_days[-1]).days,
        "daysBetweenMeetings": gaps,
        "averageDaysBetween": round(sum(gaps) / len(gaps), 1),
        "longestDaysBetween": max(gaps),
        "perQuarter": [{"quarter": "2026-Q1", "meetings": 2}, {"quarter": "2026-Q2", "meetings": 1}],
    }
    assert [m["meetingId"] for m in seen["meetings"]["nodes"]] == ["MT-3", "MT-2", "MT-1"]
    assert seen["meetings"]["nodes"][0]["minutes"] == MINUTES and seen["meetings"]["nodes"][0]["guests"] == 1
    items = {i["actionItemId"]: (i["status"], i["overdue"]) for i in seen["actionItems"]["nodes"]}
    assert items == {"AI-1": ("DONE", False), "AI-2": ("IN_PROGRESS", True), "AI-3": ("OPEN", False)}

    # Health, as the committee service judges it: 1 of 3 members on the workers' side is less than
    # half; women are 67% of the members and 82.5% of the workforce, more than 15 points apart.
    women_members, women_workforce = 100 * 2 / 3, 100 * 1980 / 2400
    assert abs(women_members - women_workforce) > 15
    health = {h["name"]: h["status"] for h in seen["health"]}
    assert health == {
        "worker-representatives-elected": "OK",
        "workers-at-least-half": "NOT_MET",
        "women-represented": "NOT_MET",
        "meeting-cadence": "OK",
    }
    assert seen["healthy"] is False
    reasons = {h["name"]: h["reason"] for h in seen["health"]}
    assert reasons["workers-at-least-half"] == "1 of the 3 members are worker representatives; at least half must be"
    assert "under-represented by 16 points" in reasons["women-represented"]

    # Forty days after the last meeting the cadence is not met any more; 35 days is attention.
    later = await read_side.graphql(
        OF_FACTORY, PROGRAMME, {"id": angkor, "today": str(meeting_days[-1] + dt.timedelta(days=35))}
    )
    assert {h["name"]: h["status"] for h in committee_of(later["data"])["health"]}["meeting-cadence"] == "ATTENTION"
    late = await read_side.graphql(
        OF_FACTORY, PROGRAMME, {"id": angkor, "today": str(meeting_days[-1] + dt.timedelta(days=40))}
    )
    assert {h["name"]: h["status"] for h in committee_of(late["data"])["health"]}["meeting-cadence"] == "NOT_MET"
    # Back in February, Sophea still sat: two of four members were workers.
    february = await read_side.graphql(OF_FACTORY, PROGRAMME, {"id": angkor, "today": "2026-02-20"})
    assert committee_of(february["data"])["composition"]["workers"]["members"] == 2
    assert {h["name"]: h["status"] for h in committee_of(february["data"])["health"]}["workers-at-least-half"] == "OK"


async def test_redelivered_and_late_events_change_nothing(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel", workers=(1980, 420))
    c, sent = await angkors_committee(read_side, angkor)
    # Sreymom steps down as chair: an office assigned later than the one redelivered below.
    await c.publish(ce.MemberOfficeAssigned, member_id="M-1", office=ce.Office.MEMBER)
    for envelope in (sent["meeting"], sent["closed"], sent["chair"]):
        await republish(read_side, envelope)
    await c.meet(D("2026-04-15"))  # after the redeliveries on the factory's partition: a marker
    variables = {"id": angkor, "today": str(TODAY)}
    data = await settled(
        read_side,
        OF_FACTORY,
        PROGRAMME,
        variables,
        lambda d: bool((found := committee_of(d)) and found["meetingRegularity"]["meetings"] == 4),
    )
    seen = committee_of(data)
    assert seen["meetings"]["totalCount"] == 4
    assert [m["meetingId"] for m in seen["meetings"]["nodes"]] == ["MT-4", "MT-3", "MT-2", "MT-1"]
    assert {m["memberId"]: m["office"] for m in seen["members"]}["M-1"] == "MEMBER"  # not chair again
    assert {o["office"]: o["holder"] for o in seen["offices"]}["CHAIR"] is None
    assert seen["actionItems"]["totalCount"] == 3
    assert [i["status"] for i in seen["actionItems"]["nodes"]] == ["DONE", "IN_PROGRESS", "OPEN"]


ITEMS = """query ($id: ID!, $first: Int, $after: String, $status: ActionItemStatus, $overdue: Boolean) {
  committee(id: $id) { actionItems(first: $first, after: $after, status: $status, overdue: $overdue,
    today: "2026-04-20") { totalCount pageInfo { hasNextPage endCursor } nodes { actionItemId } } }
}"""
MEETINGS = """query ($id: ID!, $first: Int, $after: String) {
  committee(id: $id) { meetings(first: $first, after: $after) { totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor } nodes { meetingId } } }
}"""


async def test_meetings_and_action_items_page_and_filter(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel", workers=(1980, 420))
    c, _ = await angkors_committee(read_side, angkor)
    await c.publish(ce.ActionItemStarted, action_item_id="AI-3")
    await settled(
        read_side,
        ITEMS,
        PROGRAMME,
        {"id": c.id, "status": "IN_PROGRESS"},
        lambda d: d["committee"] and d["committee"]["actionItems"]["totalCount"] == 2,
    )

    async def items(**variables: Any) -> list[str]:
        answer = await read_side.graphql(ITEMS, PROGRAMME, {"id": c.id} | variables)
        return [n["actionItemId"] for n in answer["data"]["committee"]["actionItems"]["nodes"]]

    assert await items() == ["AI-1", "AI-2", "AI-3"]  # by due date
    assert await items(status="DONE") == ["AI-1"]
    assert await items(status="OPEN") == []
    assert await items(overdue=True) == ["AI-2"]  # due 1 March, still in progress on 20 April
    assert await items(overdue=False) == ["AI-1", "AI-3"]
    assert await items(status="IN_PROGRESS", overdue=False) == ["AI-3"]
    first = (await read_side.graphql(ITEMS, PROGRAMME, {"id": c.id, "first": 2}))["data"]["committee"]["actionItems"]
    assert first["pageInfo"]["hasNextPage"] and first["totalCount"] == 3
    assert await items(first=2, after=first["pageInfo"]["endCursor"]) == ["AI-3"]

    seen: list[str] = []
    after = None
    while True:
        page = (await read_side.graphql(MEETINGS, PROGRAMME, {"id": c.id, "first": 2, "after": after}))["data"]
        meetings = page["committee"]["meetings"]
        assert meetings["totalCount"] == 3 and meetings["pageInfo"]["hasPreviousPage"] == (after is not None)
        seen += [m["meetingId"] for m in meetings["nodes"]]
        if not meetings["pageInfo"]["hasNextPage"]:
            break
        after = meetings["pageInfo"]["endCursor"]
    assert seen == ["MT-3", "MT-2", "MT-1"]
    too_many = await read_side.graphql(MEETINGS, PROGRAMME, {"id": c.id, "first": 101})
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


ROOT = """query ($first: Int, $after: String, $country: String, $status: CommitteeStatus, $healthy: Boolean,
    $factoryId: String) {
  committees(first: $first, after: $after, country: $country, status: $status, healthy: $healthy,
    factoryId: $factoryId, today: "2026-04-20") {
    totalCount pageInfo { hasNextPage endCursor } nodes { id committeeId status dissolvedOn healthy(today: "2026-04-20") }
  }
}"""
OF_FACTORY_ALL = """query ($id: ID!) { factory(id: $id) {
  committee { committeeId } committees { totalCount nodes { committeeId status dissolutionReason } } } }"""


async def healthy_committee(read_side: ReadSide, factory_id: str, country: str = "KH", sequence: int = 1) -> Committee:
    """Two women elected from three candidates, a man appointed, a meeting on 10 April: healthy on
    20 April where women are 52 to 81% of the workforce."""
    c = Committee(read_side, factory_id, sequence, country)
    await c.establish(D("2026-01-05"))
    await c.elect(D("2026-01-12"), 2, [(SREYMOM, 412), (SOPHEA, 388), (RITHY, 97)], first=1)
    await c.appoint("M-3", VUTHY, D("2026-01-12"))
    await c.meet(D("2026-04-10"))
    return c


async def test_root_committees_filter_by_country_status_health_and_factory(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel", workers=(1980, 420))
    bayon = await read_side.factory("Bayon Garments", workers=(800, 200))
    saigon = await read_side.factory("Saigon Stitch", country="VN", workers=(1420, 430))
    # Bayon's first committee was dissolved; its second is healthy.
    first = Committee(read_side, bayon, 1)
    await first.establish(D("2025-03-01"))
    await first.publish(ce.CommitteeDissolved, dissolved_on=D("2025-12-20"), reason="no members left after layoffs")
    second = await healthy_committee(read_side, bayon, sequence=2)
    unhealthy, _ = await angkors_committee(read_side, angkor)
    vietnamese = await healthy_committee(read_side, saigon, country="VN")
    await settled(
        read_side,
        ROOT,
        PROGRAMME,
        {},
        lambda d: (
            d["committees"]["totalCount"] == 4
            and all(n["healthy"] for n in d["committees"]["nodes"] if n["committeeId"] in (second.id, vietnamese.id))
            and any(n["status"] == "DISSOLVED" for n in d["committees"]["nodes"])
        ),
    )
    await read_side.knows(angkor, bayon, saigon)  # the factories' own fields come from the directory

    async def listed(**variables: Any) -> set[str]:
        answer = await read_side.graphql(ROOT, PROGRAMME, variables)
        connection = answer["data"]["committees"]
        assert connection["totalCount"] == len(connection["nodes"])
        return {n["committeeId"] for n in connection["nodes"]}

    assert await listed() == {first.id, second.id, unhealthy.id, vietnamese.id}
    assert await listed(country="VN") == {vietnamese.id}
    assert await listed(status="DISSOLVED") == {first.id}
    assert await listed(status="ACTIVE") == {second.id, unhealthy.id, vietnamese.id}
    assert await listed(healthy=True) == {second.id, vietnamese.id}
    assert await listed(healthy=False) == {first.id, unhealthy.id}  # a dissolved committee is not healthy
    assert await listed(factoryId=bayon) == {first.id, second.id}
    assert await listed(factoryId=bayon, healthy=True, country="KH") == {second.id}

    # Newest first, in pages that neither skip nor repeat.
    walked: list[str] = []
    after = None
    while True:
        page = (await read_side.graphql(ROOT, PROGRAMME, {"first": 3, "after": after}))["data"]["committees"]
        walked += [n["committeeId"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert walked[-1] == first.id and sorted(walked) == sorted(await listed())

    # Through the factory: its active committee, and every one it has had.
    bayons = (await read_side.graphql(OF_FACTORY_ALL, PROGRAMME, {"id": bayon}))["data"]["factory"]
    assert bayons["committee"] == {"committeeId": second.id}
    assert [(n["committeeId"], n["status"]) for n in bayons["committees"]["nodes"]] == [
        (second.id, "ACTIVE"),
        (first.id, "DISSOLVED"),
    ]
    assert bayons["committees"]["nodes"][1]["dissolutionReason"] == "no members left after layoffs"
    health = await read_side.graphql(
        'query ($id: ID!) { committee(id: $id) { members { name } health(today: "2026-04-20") { name status reason } } }',
        PROGRAMME,
        {"id": first.id},
    )
    assert health["data"]["committee"]["members"] == []  # nobody sits on a dissolved committee
    assert health["data"]["committee"]["health"] == [
        {
            "name": "committee-active",
            "status": "NOT_MET",
            "reason": "dissolved on 2025-12-20: no members left after layoffs",
        }
    ]


NAMES = ("Chan Sreymom", "Sok Dara", "Lim Vuthy", MINUTES)
ANY_WAY_IN = """query ($factory: ID!, $committee: ID!, $node: ID!) {
  factory(id: $factory) { factoryId committee { committeeId members { name } meetings { nodes { minutes } } }
    committees { nodes { committeeId } } }
  committee(id: $committee) { committeeId members { name } }
  node(id: $node) { id ... on Committee { members { name } } }
}"""
LISTED = "{ committees { totalCount nodes { committeeId members { name } } } }"


async def test_only_programme_staff_and_the_factory_itself_read_a_committee(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel", workers=(1980, 420))
    mekong = await read_side.factory("Mekong Footwear", workers=(1300, 350))
    consenting, silent, unlinked = [await read_side.brand(n) for n in ("Northwind", "Lotus Retail", "Harbour & Pine")]
    await read_side.supplies(angkor, consenting, consents=True)
    await read_side.supplies(angkor, silent, consents=False)
    c, _ = await angkors_committee(read_side, angkor)
    variables = {"factory": angkor, "committee": c.id, "node": str(global_id("Committee", c.id))}
    await settled(
        read_side,
        ANY_WAY_IN,
        PROGRAMME,
        variables,
        lambda d: (
            d["factory"]["committee"]
            and len(d["factory"]["committee"]["meetings"]["nodes"]) == 3
            and len(d["committee"]["members"]) == 3
        ),
    )
    # The brand's view of the factory itself needs the consent projected first.
    await read_side.until(
        f'{{ factory(id: "{angkor}") {{ factoryId }} }}',
        bearer(Audience.BRAND, consenting),
        lambda d: d["factory"] is not None,
        "the consent projected",
    )

    for who, headers in [("programme", PROGRAMME), ("factory itself", bearer(Audience.FACTORY, angkor))]:
        answer = await read_side.graphql(ANY_WAY_IN, headers, variables)
        assert "errors" not in answer, (who, answer)
        text = str(answer)
        assert all(secret in text for secret in NAMES), who
        assert answer["data"]["committee"]["committeeId"] == c.id and answer["data"]["node"]["id"] == variables["node"]
        listed = await read_side.graphql(LISTED, headers)
        assert [n["committeeId"] for n in listed["data"]["committees"]["nodes"]] == [c.id], who

    # Another factory: Angkor's committee does not exist for it, exactly like a missing one.
    other = bearer(Audience.FACTORY, mekong)
    answer = await read_side.graphql(ANY_WAY_IN, other, variables)
    missing = await read_side.graphql(
        ANY_WAY_IN, other, variables | {"committee": f"{mekong}-C1", "node": str(global_id("Committee", "KH-9"))}
    )
    assert answer["data"] == missing["data"] == {"factory": None, "committee": None, "node": None}
    assert (await read_side.graphql(LISTED, other))["data"]["committees"] == {"totalCount": 0, "nodes": []}

    # Brands: refused before any lookup (as the committee service refuses them), whatever their link.
    for brand in (consenting, silent, unlinked):
        headers = bearer(Audience.BRAND, brand)
        answer = await read_side.graphql(ANY_WAY_IN, headers, variables)
        assert not any(secret in str(answer) for secret in NAMES), brand
        assert {e["extensions"]["code"] for e in answer["errors"]} == {"FORBIDDEN"}
        assert answer["data"]["committee"] is None and answer["data"]["node"] is None
        factory = answer["data"]["factory"]
        assert factory is None or (factory["committee"] is None and factory["committees"] is None), brand
        assert (factory is not None) == (brand == consenting)  # the factory itself: only the consenting brand
        listed = await read_side.graphql(LISTED, headers)
        assert listed["data"] is None and listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        # A committee that does not exist answers the same.
        absent = await read_side.graphql(ANY_WAY_IN, headers, variables | {"committee": f"{mekong}-C1"})
        assert [e["message"] for e in absent["errors"]] == [e["message"] for e in answer["errors"]]

    # Governments: nothing individual, their own country's statistics only.
    for country in ("KH", "VN"):
        headers = bearer(Audience.GOVERNMENT, country)
        for query in (ANY_WAY_IN, LISTED):
            answer = await read_side.graphql(query, headers, variables)
            assert not any(secret in str(answer) for secret in NAMES), country
            assert {e["extensions"]["code"] for e in answer["errors"]} == {"FORBIDDEN"}
    statistics = '{ committeeStatistics(country: "KH") { country suppressed } }'
    own = await read_side.graphql(statistics, bearer(Audience.GOVERNMENT, "KH"))
    assert own["data"]["committeeStatistics"] == {"country": "KH", "suppressed": True}
    for headers in (
        bearer(Audience.GOVERNMENT, "VN"),
        bearer(Audience.BRAND, consenting),
        bearer(Audience.FACTORY, angkor),
    ):
        refused = await read_side.graphql(statistics, headers)
        assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


STATISTICS = """query ($country: String!) { committeeStatistics(country: $country, today: "2026-04-20") {
  country factoriesWithACommittee active meetingRegularly workersSideWomenShare healthy
  meetingsByQuarter { quarter committees meetings meetingsPerCommittee suppressed } suppressed } }"""


async def test_country_statistics_count_factories_and_withhold_small_cells(read_side: ReadSide) -> None:
    # Seven Cambodian factories with a committee: one dissolved, one that last met in February.
    # Their factories need not be in the directory: the committee events carry the country.
    women_elected = workers_side = 0
    for n in range(1, 8):
        c = Committee(read_side, f"KH-2026-01{n:02d}-1")
        await c.establish(D("2026-01-05"))
        pair = [(SREYMOM, 300), (RITHY, 200 + n)] if n % 2 else [(SREYMOM, 300), (SOPHEA, 250)]
        await c.elect(D("2026-01-12"), 2, [*pair, (VUTHY, 3)], first=1)
        if n == 7:
            await c.publish(ce.CommitteeDissolved, dissolved_on=D("2026-03-01"), reason="the factory closed")
            continue
        workers_side += 2
        women_elected += 1 if n % 2 else 2
        await c.meet(D("2026-02-10") if n == 6 else D("2026-04-10"))
    # Four Vietnamese ones: a cell too small to show.
    for n in range(1, 5):
        c = Committee(read_side, f"VN-2026-02{n:02d}-1", country="VN")
        await c.establish(D("2026-01-05"))
    expected = {
        "country": "KH",
        "factoriesWithACommittee": 7,
        "active": 6,
        "meetingRegularly": 5,
        "workersSideWomenShare": round(women_elected / workers_side, 2),
        # The first quarter: seven committees sat (one dissolved in March), one met (in February);
        # the second, to 20 April: six sat, five met.
        "meetingsByQuarter": [
            {"quarter": "2026-Q1", "committees": 7, "meetings": 1, "meetingsPerCommittee": round(1 / 7, 2),
             "suppressed": False},
            {"quarter": "2026-Q2", "committees": 6, "meetings": 5, "meetingsPerCommittee": round(5 / 6, 2),
             "suppressed": False},
        ],
        "suppressed": False,
    }  # fmt: skip

    def but_healthy(figures: dict[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in figures.items() if name != "healthy"}

    await settled(
        read_side, STATISTICS, PROGRAMME, {"country": "KH"}, lambda d: but_healthy(d["committeeStatistics"]) == expected
    )
    # Healthy: as each committee's own health says (tested with the committee), counted by factory.
    query = '{ committees(country: "KH", healthy: true, today: "2026-04-20") { nodes { factoryId } } }'
    healthy = (await read_side.graphql(query, PROGRAMME))["data"]["committees"]["nodes"]
    expected["healthy"] = len({c["factoryId"] for c in healthy})
    assert 0 < expected["healthy"] < 6  # one active committee has not met since February
    government = await read_side.graphql(STATISTICS, bearer(Audience.GOVERNMENT, "KH"), {"country": "KH"})
    assert government["data"]["committeeStatistics"] == expected
    await settled(
        read_side,
        '{ committees(country: "VN") { totalCount } }',
        PROGRAMME,
        {},
        lambda d: d["committees"]["totalCount"] == 4,
    )
    small = await read_side.graphql(STATISTICS, bearer(Audience.GOVERNMENT, "VN"), {"country": "VN"})
    assert small["data"]["committeeStatistics"] == {
        "country": "VN",
        "factoriesWithACommittee": None,
        "active": None,
        "meetingRegularly": None,
        "workersSideWomenShare": None,
        "healthy": None,
        "meetingsByQuarter": [
            {"quarter": q, "committees": None, "meetings": None, "meetingsPerCommittee": None, "suppressed": True}
            for q in ("2026-Q1", "2026-Q2")
        ],
        "suppressed": True,
    }
