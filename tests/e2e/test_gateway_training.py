"""Training sessions in GraphQL: projected from training.events, each audience's reach (a factory
sees only its own people of a shared session), pages and filters, redelivery, and a country's
aggregates with small cells withheld."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from betterwork_events.auth import Audience
from betterwork_events.contracts import training as te
from betterwork_events.envelope import Envelope
from training.courses import COURSES
from training.domain import TrainingSession

from tests.e2e.read_side import PROGRAMME, ReadSide, bearer
from tests.support import eventually

FIRST_DAY = dt.date(2026, 3, 10)
DAYS = (FIRST_DAY, FIRST_DAY + dt.timedelta(days=1))
TRAINER = "Pich Sopheap, enterprise advisor"
VENUE = "Better Factories Cambodia training room, Phnom Penh"
NO_SUCH_SESSION = base64.urlsafe_b64encode(b"TrainingSession:TS-NOSUCH0001").decode()
COMMENT = "The fire drill part was the most useful; our floor manager should attend too"


def scheduled(
    session_id: str,
    factory_ids: tuple[str, ...],
    course: str = "OSH",
    days: tuple[dt.date, ...] = DAYS,
    country: str = "KH",
) -> te.TrainingSessionScheduled:
    return te.TrainingSessionScheduled(
        session_id=session_id,
        factory_ids=factory_ids,
        country=country,
        course=COURSES[course].as_scheduled(),
        days=days,
        venue=VENUE,
        trainer=TRAINER,
    )


class Session:
    """One session's events, published in order and applied to the training service's own domain,
    so that the delivery the test publishes is the one the service would."""

    def __init__(self, read_side: ReadSide, event: te.TrainingSessionScheduled) -> None:
        self.read_side = read_side
        self.id = event.session_id
        self.factory_ids = event.factory_ids
        self.stream = f"training-session-{self.id}"
        self.state = TrainingSession(id=self.id)
        self.first = event

    async def publish(self, event: Any) -> Envelope:
        self.state.apply(event)
        return await self.read_side.publish(event, stream=self.stream)

    async def scheduled(self) -> Envelope:
        return await self.publish(self.first)

    def common(self) -> dict[str, Any]:
        return {"session_id": self.id, "factory_ids": self.factory_ids}

    async def register(self, pid: str, factory_id: str, role: str, sex: str, name: str | None = None) -> Envelope:
        return await self.publish(
            te.ParticipantRegistered(
                **self.common(),
                participant_id=pid,
                factory_id=factory_id,
                role=te.Role(role),
                sex=te.Sex(sex),
                name=name,
            )
        )

    async def present(self, day: dt.date, *present: str) -> Envelope:
        return await self.publish(te.AttendanceRecorded(**self.common(), day=day, present=present))

    async def score(self, pid: str, pre: int, post: int) -> None:
        factory_id = self.state.participants[pid].factory_id
        for phase, score in ((te.TestPhase.PRE, pre), (te.TestPhase.POST, post)):
            await self.publish(
                te.TestScoreRecorded(
                    **self.common(), participant_id=pid, factory_id=factory_id, phase=phase, score=score
                )
            )

    async def rate(self, pid: str, rating: int, comment: str | None = None) -> None:
        factory_id = self.state.participants[pid].factory_id
        await self.publish(
            te.FeedbackGiven(**self.common(), participant_id=pid, factory_id=factory_id, rating=rating, comment=comment)
        )

    async def deliver(self) -> te.TrainingDelivered:
        [delivered] = self.state.deliver(self.state.days[-1])
        await self.publish(delivered)
        assert isinstance(delivered, te.TrainingDelivered)
        return delivered


HEADCOUNT = "total bySex { female male otherOrUndisclosed } byRole { worker supervisor manager } "
HEADCOUNT += "womenSupervisorsAndManagers"
SESSION = f"""id sessionId country course {{ code title catalogueVersion hours }} days firstDay lastDay venue
  trainer status cancellationReason factoryIds
  participants(first: 100) {{ totalCount nodes {{ participantId factoryId role sex name daysPresent sessionDays
    attendanceRate preTestScore postTestScore improvement rating comment }} }}
  participation {{ registered {{ {HEADCOUNT} }} attendanceRate tested averagePreTestScore averagePostTestScore
    averageImprovement rated averageRating }}
  delivery {{ hours registered attended {{ {HEADCOUNT} }} completed attendedShare completedShare participantHours
    factories {{ factoryId registered attended {{ {HEADCOUNT} }} attendedShare participantHours }} }}"""
SESSIONS = f"""query ($first: Int, $after: String, $country: String, $course: String, $status: TrainingStatus,
  $factoryId: ID, $from: Date, $to: Date) {{
  trainingSessions(first: $first, after: $after, country: $country, course: $course, status: $status,
    factoryId: $factoryId, from: $from, to: $to) {{
    totalCount pageInfo {{ hasNextPage hasPreviousPage endCursor }} nodes {{ {SESSION} }} }} }}"""


def headcount(people: list[tuple[str, str]]) -> dict[str, Any]:
    """(sex, role) pairs counted the way the GraphQL answer has them."""
    sexes = [s for s, _ in people]
    roles = [r for _, r in people]
    return {
        "total": len(people),
        "bySex": {"female": sexes.count("female"), "male": sexes.count("male"), "otherOrUndisclosed": 0},
        "byRole": {r: roles.count(r) for r in ("worker", "supervisor", "manager")},
        "womenSupervisorsAndManagers": sum(1 for s, r in people if s == "female" and r != "worker"),
    }


# Who is in the shared session: (id, factory, role, sex, name, days present, pre, post, rating).
ANGKOR_PEOPLE = [
    ("AA-W-0417", "angkor", "worker", "female", "Chan Sreymom", 2, 40, 75, 5),
    ("AA-S-0022", "angkor", "supervisor", "male", None, 1, 55, 60, 3),
]
MEKONG_PEOPLE = [
    ("MF-S-0101", "mekong", "supervisor", "female", "Keo Sophea", 2, 50, 90, 4),
    ("MF-M-0007", "mekong", "manager", "female", None, 1, 70, 80, None),
    ("MF-W-0999", "mekong", "worker", "male", "Heng Rithy", 0, 30, None, None),
]


async def shared_world(read_side: ReadSide) -> dict[str, Any]:
    angkor = await read_side.factory("Angkor Apparel")
    mekong = await read_side.factory("Mekong Footwear")
    ids = {"angkor": angkor, "mekong": mekong}
    consenting, silent, unlinked = [
        await read_side.brand(n) for n in ("Northwind Outfitters", "Lotus Retail", "Harbour & Pine")
    ]
    await read_side.supplies(angkor, consenting, consents=True)
    await read_side.supplies(angkor, silent, consents=False)

    shared = Session(read_side, scheduled("TS-SHARED0001", (angkor, mekong)))
    await shared.scheduled()
    for pid, factory, role, sex, name, *_ in ANGKOR_PEOPLE + MEKONG_PEOPLE:
        await shared.register(pid, ids[factory], role, sex, name)
    everyone = ANGKOR_PEOPLE + MEKONG_PEOPLE
    await shared.present(DAYS[0], *(p[0] for p in everyone if p[5] >= 1))
    await shared.present(DAYS[1], *(p[0] for p in everyone if p[5] == 2))
    for pid, *_, pre, post, rating in everyone:
        if post is not None:
            await shared.score(pid, pre, post)
        if rating is not None:
            await shared.rate(pid, rating, COMMENT if pid == "AA-W-0417" else None)
    delivered = await shared.deliver()

    mekong_only = Session(read_side, scheduled("TS-MEKONG0001", (mekong,), course="SST"))
    await mekong_only.scheduled()
    await mekong_only.register("MF-S-0500", mekong, "supervisor", "female", "Sok Dara")
    cancelled = Session(read_side, scheduled("TS-ANGKOR0001", (angkor,), course="WRR", days=(dt.date(2026, 4, 2),)))
    await cancelled.scheduled()
    await cancelled.publish(
        te.TrainingSessionCancelled(**cancelled.common(), reason="the factory closed for Khmer New Year")
    )

    await read_side.until(
        SESSIONS,
        PROGRAMME,
        lambda d: (
            d["trainingSessions"]["totalCount"] == 3
            and any(n["status"] == "DELIVERED" for n in d["trainingSessions"]["nodes"])
            and any(n["status"] == "CANCELLED" for n in d["trainingSessions"]["nodes"])
            and any(n["participants"]["totalCount"] == 1 for n in d["trainingSessions"]["nodes"])
        ),
        "the sessions projected",
    )
    await read_side.knows(*ids.values())
    return {
        "ids": ids,
        "brands": {"consenting": consenting, "silent": silent, "unlinked": unlinked},
        "delivered": delivered,
        "shared": shared,
    }


async def sessions_as(read_side: ReadSide, headers: dict[str, str], **variables: Any) -> dict[str, Any]:
    answer = await read_side.graphql(SESSIONS, headers, variables or None)
    assert "errors" not in answer, answer
    return {n["sessionId"]: n for n in answer["data"]["trainingSessions"]["nodes"]}


def expected_participants(people: list[Any], ids: dict[str, str], with_comments: bool) -> list[dict[str, Any]]:
    return [
        {
            "participantId": pid,
            "factoryId": ids[factory],
            "role": role,
            "sex": sex,
            "name": name,
            "daysPresent": present,
            "sessionDays": 2,
            "attendanceRate": present / 2,
            "preTestScore": pre if post is not None else None,
            "postTestScore": post,
            "improvement": post - pre if post is not None else None,
            "rating": rating,
            "comment": COMMENT if with_comments and pid == "AA-W-0417" else None,
        }
        for pid, factory, role, sex, name, present, pre, post, rating in sorted(people)
    ]


def participation(people: list[Any]) -> dict[str, Any]:
    tested = [(pre, post) for *_, pre, post, _ in people if post is not None]
    ratings = [p[8] for p in people if p[8] is not None]
    pre = round(sum(t[0] for t in tested) / len(tested), 2)
    post = round(sum(t[1] for t in tested) / len(tested), 2)
    return {
        "registered": headcount([(p[3], p[2]) for p in people]),
        "attendanceRate": round(sum(p[5] for p in people) / (2 * len(people)), 4),
        "tested": len(tested),
        "averagePreTestScore": pre,
        "averagePostTestScore": post,
        "averageImprovement": round(post - pre, 2),
        "rated": len(ratings),
        "averageRating": round(sum(ratings) / len(ratings), 2),
    }


def factory_line(people: list[Any], factory_id: str, delivered: te.TrainingDelivered) -> dict[str, Any]:
    attended = [(p[3], p[2]) for p in people if p[5] > 0]
    hours = next(f.participant_hours for f in delivered.factories if f.factory_id == factory_id)
    assert hours == sum(p[5] for p in people) * 12 / 2  # OSH: 12 hours over 2 days
    return {
        "factoryId": factory_id,
        "registered": len(people),
        "attended": headcount(attended),
        "attendedShare": round(len(attended) / len(people), 4),
        "participantHours": hours,
    }


async def test_each_audience_reads_of_a_shared_session_only_what_it_may(read_side: ReadSide) -> None:
    world = await shared_world(read_side)
    ids, delivered = world["ids"], world["delivered"]
    everyone = ANGKOR_PEOPLE + MEKONG_PEOPLE

    # Programme staff: the whole session, the trainer, every person, comments, the totals.
    seen = await sessions_as(read_side, PROGRAMME)
    assert list(seen) == ["TS-ANGKOR0001", "TS-SHARED0001", "TS-MEKONG0001"]  # latest first
    shared = seen["TS-SHARED0001"]
    assert shared["course"] == {
        "code": "OSH",
        "title": "Occupational Safety and Health",
        "catalogueVersion": COURSES["OSH"].as_scheduled().catalogue_version,
        "hours": 12.0,
    }
    assert shared["days"] == [str(d) for d in DAYS] and shared["venue"] == VENUE and shared["trainer"] == TRAINER
    assert shared["status"] == "DELIVERED" and sorted(shared["factoryIds"]) == sorted(ids.values())
    assert shared["participants"]["nodes"] == expected_participants(everyone, ids, with_comments=True)
    assert shared["participation"] == participation(everyone)
    attended = [(p[3], p[2]) for p in everyone if p[5] > 0]
    assert shared["delivery"] | {"factories": None} == {
        "hours": 12.0,
        "registered": 5,
        "attended": headcount(attended),
        "completed": 2,
        "attendedShare": round(4 / 5, 4),
        "completedShare": round(2 / 5, 4),
        "participantHours": delivered.participant_hours,
        "factories": None,
    }
    assert sorted(shared["delivery"]["factories"], key=lambda f: f["factoryId"]) == sorted(
        [factory_line(ANGKOR_PEOPLE, ids["angkor"], delivered), factory_line(MEKONG_PEOPLE, ids["mekong"], delivered)],
        key=lambda f: f["factoryId"],
    )
    assert seen["TS-ANGKOR0001"]["cancellationReason"] == "the factory closed for Khmer New Year"
    assert seen["TS-MEKONG0001"]["status"] == "SCHEDULED" and seen["TS-MEKONG0001"]["delivery"] is None

    # Each factory: its own sessions, its own people and line, no trainer, no comment, no totals.
    for own, people, other_people, other, absent in [
        ("angkor", ANGKOR_PEOPLE, MEKONG_PEOPLE, "mekong", "TS-MEKONG0001"),
        ("mekong", MEKONG_PEOPLE, ANGKOR_PEOPLE, "angkor", "TS-ANGKOR0001"),
    ]:
        headers = bearer(Audience.FACTORY, ids[own])
        answer = await read_side.graphql(SESSIONS, headers)
        mine = {n["sessionId"]: n for n in answer["data"]["trainingSessions"]["nodes"]}
        assert absent not in mine and len(mine) == 2 and answer["data"]["trainingSessions"]["totalCount"] == 2
        session = mine["TS-SHARED0001"]
        assert session["trainer"] is None and session["factoryIds"] == [ids[own]]
        assert session["participants"]["nodes"] == expected_participants(people, ids, with_comments=False)
        assert session["participants"]["totalCount"] == len(people)
        assert session["participation"] == participation(people)
        assert session["delivery"] == {
            "hours": 12.0,
            "registered": None,
            "attended": None,
            "completed": None,
            "attendedShare": None,
            "completedShare": None,
            "participantHours": None,
            "factories": [factory_line(people, ids[own], delivered)],
        }
        text = json.dumps(answer)
        for secret in (
            [p[0] for p in other_people] + [p[4] for p in other_people if p[4]] + [ids[other], TRAINER, COMMENT]
        ):
            assert secret not in text, (own, secret)
        # Asking for the other factory's sessions by name gives nothing.
        assert await sessions_as(read_side, headers, factoryId=ids[other]) == {}
        # The other factory's own session does not exist for it: by global id, as a missing one.
        node = "query ($id: ID!) { node(id: $id) { id ... on TrainingSession { sessionId } } }"
        hidden = await read_side.graphql(node, headers, {"id": seen[absent]["id"]})
        missing = await read_side.graphql(node, headers, {"id": NO_SUCH_SESSION})
        assert hidden == missing == {"data": {"node": None}}
        found = await read_side.graphql(node, headers, {"id": shared["id"]})
        assert found == {"data": {"node": {"id": shared["id"], "sessionId": "TS-SHARED0001"}}}

    # Brands (consenting or not, linked or not) and governments: refused, nothing individual.
    for headers in [
        *(bearer(Audience.BRAND, b) for b in world["brands"].values()),
        bearer(Audience.GOVERNMENT, "KH"),
        bearer(Audience.GOVERNMENT, "VN"),
    ]:
        answer = await read_side.graphql(SESSIONS, headers)
        assert answer["data"] is None and answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", answer
        nested = await read_side.graphql(
            "query ($id: ID!) { factory(id: $id) { trainingSessions { nodes { sessionId } } } }",
            headers,
            {"id": ids["angkor"]},
        )
        assert "TS-SHARED0001" not in json.dumps(nested) and not (nested.get("data") or {}).get("factory"), nested
        node = await read_side.graphql("query ($id: ID!) { node(id: $id) { id } }", headers, {"id": shared["id"]})
        assert "TS-SHARED0001" not in json.dumps(node) and not (node.get("data") or {}).get("node"), node


async def test_a_factorys_sessions_through_the_factory(read_side: ReadSide) -> None:
    world = await shared_world(read_side)
    ids = world["ids"]
    query = """{ factories(first: 10) { nodes { factoryId
      trainingSessions(first: 10) { totalCount nodes { sessionId participants { nodes { participantId } } } }
      delivered: trainingSessions(status: DELIVERED) { totalCount } } } }"""
    answer = await read_side.graphql(query, PROGRAMME)
    by_factory = {f["factoryId"]: f for f in answer["data"]["factories"]["nodes"]}
    angkor, mekong = by_factory[ids["angkor"]], by_factory[ids["mekong"]]
    assert [n["sessionId"] for n in angkor["trainingSessions"]["nodes"]] == ["TS-ANGKOR0001", "TS-SHARED0001"]
    assert [n["sessionId"] for n in mekong["trainingSessions"]["nodes"]] == ["TS-SHARED0001", "TS-MEKONG0001"]
    assert angkor["delivered"]["totalCount"] == mekong["delivered"]["totalCount"] == 1

    as_angkor = await read_side.graphql(query, bearer(Audience.FACTORY, ids["angkor"]))
    [own] = as_angkor["data"]["factories"]["nodes"]
    shared = next(n for n in own["trainingSessions"]["nodes"] if n["sessionId"] == "TS-SHARED0001")
    assert [p["participantId"] for p in shared["participants"]["nodes"]] == sorted(p[0] for p in ANGKOR_PEOPLE)


async def test_pages_and_filters(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel")
    saigon = await read_side.factory("Saigon Stitch", country="VN")
    plan = [
        ("TS-P01", (angkor,), "OSH", dt.date(2026, 1, 5), "KH"),
        ("TS-P02", (angkor,), "SST", dt.date(2026, 2, 5), "KH"),
        ("TS-P03", (angkor,), "OSH", dt.date(2026, 3, 5), "KH"),
        ("TS-P04", (saigon,), "OSH", dt.date(2026, 3, 5), "VN"),
        ("TS-P05", (saigon,), "HRM", dt.date(2026, 4, 5), "VN"),
    ]
    for session_id, factory_ids, course, day, country in plan:
        await Session(read_side, scheduled(session_id, factory_ids, course, (day,), country)).scheduled()
    moved = Session(read_side, scheduled("TS-P06", (angkor,), "OSH", (dt.date(2026, 5, 5),)))
    await moved.scheduled()
    new_days = (dt.date(2026, 6, 1), dt.date(2026, 6, 2))
    await moved.publish(
        te.TrainingSessionRescheduled(**moved.common(), days=new_days, venue="Sihanoukville", reason="flood")
    )
    await read_side.until(
        SESSIONS, PROGRAMME, lambda d: d["trainingSessions"]["totalCount"] == 6, "all sessions projected"
    )
    latest_first = ["TS-P06", "TS-P05", "TS-P04", "TS-P03", "TS-P02", "TS-P01"]

    walked, after, pages = [], None, 0
    while True:
        page = (await read_side.graphql(SESSIONS, PROGRAMME, {"first": 4, "after": after}))["data"]["trainingSessions"]
        walked += [n["sessionId"] for n in page["nodes"]]
        pages += 1
        assert page["pageInfo"]["hasPreviousPage"] == (after is not None) and page["totalCount"] == 6
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert walked == latest_first and pages == 2
    empty = (await read_side.graphql(SESSIONS, PROGRAMME, {"first": 0}))["data"]["trainingSessions"]
    assert empty["nodes"] == [] and empty["pageInfo"]["hasNextPage"] is True
    too_many = await read_side.graphql(SESSIONS, PROGRAMME, {"first": 101})
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    async def ids_of(**variables: Any) -> list[str]:
        return list(await sessions_as(read_side, PROGRAMME, **variables))

    assert await ids_of(country="VN") == ["TS-P05", "TS-P04"]
    assert await ids_of(course="OSH") == ["TS-P06", "TS-P04", "TS-P03", "TS-P01"]
    assert await ids_of(status="RESCHEDULED") == ["TS-P06"]
    assert await ids_of(status="SCHEDULED") == ["TS-P05", "TS-P04", "TS-P03", "TS-P02", "TS-P01"]
    assert await ids_of(factoryId=saigon) == ["TS-P05", "TS-P04"]
    assert await ids_of(**{"from": "2026-03-05", "to": "2026-04-30"}) == ["TS-P05", "TS-P04", "TS-P03"]
    assert await ids_of(**{"from": "2026-06-02"}) == ["TS-P06"]
    assert await ids_of(course="OSH", country="KH", to="2026-03-05") == ["TS-P03", "TS-P01"]
    rescheduled = (await sessions_as(read_side, PROGRAMME, status="RESCHEDULED"))["TS-P06"]
    assert rescheduled["days"] == [str(d) for d in new_days] and rescheduled["venue"] == "Sihanoukville"
    # The same pages nested under a factory, one query for every factory at that level.
    nested = """query ($after: String) { factories(first: 10) { nodes { factoryId
      trainingSessions(first: 3, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { sessionId } }
      } } }"""
    first = (await read_side.graphql(nested, PROGRAMME))["data"]["factories"]["nodes"]
    mine = next(f["trainingSessions"] for f in first if f["factoryId"] == angkor)
    assert [n["sessionId"] for n in mine["nodes"]] == ["TS-P06", "TS-P03", "TS-P02"] and mine["totalCount"] == 4
    assert mine["pageInfo"]["hasNextPage"] is True
    rest = (await read_side.graphql(nested, PROGRAMME, {"after": mine["pageInfo"]["endCursor"]}))["data"]
    mine = next(f["trainingSessions"] for f in rest["factories"]["nodes"] if f["factoryId"] == angkor)
    assert [n["sessionId"] for n in mine["nodes"]] == ["TS-P01"] and mine["pageInfo"]["hasNextPage"] is False
    # A factory's own filter stays within its own sessions.
    assert list(await sessions_as(read_side, bearer(Audience.FACTORY, saigon), course="OSH")) == ["TS-P04"]


async def test_the_same_envelope_twice_changes_nothing(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel")
    session = Session(read_side, scheduled("TS-AGAIN", (angkor,), "OSH"))
    first = await session.scheduled()
    registered = await session.register("AA-W-0001", angkor, "worker", "female", "Chan Sreymom")
    day_one = await session.present(DAYS[0], "AA-W-0001")
    await session.register("AA-W-0002", angkor, "worker", "male")
    # A later register of the first day replaces it: the second worker came too.
    await session.present(DAYS[0], "AA-W-0001", "AA-W-0002")
    moved = await session.publish(
        te.TrainingSessionRescheduled(**session.common(), days=DAYS, venue="Phnom Penh SEZ hall", reason="larger room")
    )

    def settled(data: dict[str, Any]) -> bool:
        nodes = data["trainingSessions"]["nodes"]
        return (
            bool(nodes)
            and nodes[0]["venue"] == "Phnom Penh SEZ hall"
            and nodes[0]["participation"]["registered"]["total"] == 2
            and all(p["daysPresent"] == 1 for p in nodes[0]["participants"]["nodes"])
        )

    before = await read_side.until(SESSIONS, PROGRAMME, settled, "projected")
    for envelope in (first, registered, day_one, moved):
        await read_side.send(envelope)  # as an at-least-once relay may
    # A marker after the resent ones: once it shows, they have been consumed.
    await session.register("AA-W-0003", angkor, "supervisor", "female")
    after = await read_side.until(
        SESSIONS,
        PROGRAMME,
        lambda d: d["trainingSessions"]["nodes"][0]["participation"]["registered"]["total"] == 3,
        "the marker projected",
    )
    [was], [now] = before["trainingSessions"]["nodes"], after["trainingSessions"]["nodes"]
    assert now["venue"] == was["venue"] and now["status"] == was["status"] == "RESCHEDULED"
    assert [p for p in now["participants"]["nodes"] if p["participantId"] != "AA-W-0003"] == was["participants"][
        "nodes"
    ]
    assert sum(p["daysPresent"] for p in now["participants"]["nodes"]) == 2


CELL = f"""sessionsDelivered factories registered attended {{ {HEADCOUNT} }} completed attendedShare completedShare
  participantHours suppressed"""
STATISTICS = f"""query ($country: String!, $year: Int!) {{ trainingStatistics(country: $country, year: $year) {{
  country year total {{ {CELL} }} courses {{ courseCode courseTitle delivered {{ {CELL} }} }} }} }}"""


async def test_a_countrys_training_in_aggregate_with_small_cells_withheld(read_side: ReadSide) -> None:
    # Ids as the training service names them: the aggregates need no factory record.
    cambodian = [f"KH-2026-{n:04d}-1" for n in range(1, 9)]
    plan = {  # course: the factories of each of its sessions delivered in 2026
        "OSH": [cambodian[0:3], cambodian[3:6], cambodian[6:7]],  # 7 factories: shown
        "SST": [cambodian[0:5]],  # 5: shown, but withheld alongside HRM (the next smallest)
        "HRM": [cambodian[0:2]],  # 2: withheld
    }
    delivered: dict[str, list[te.TrainingDelivered]] = {}
    people = iter(range(10_000))
    for course, sessions in plan.items():
        role = COURSES[course].audience[0].value
        for i, factories in enumerate(sessions):
            session = Session(read_side, scheduled(f"TS-{course}-{i}", tuple(factories), course))
            await session.scheduled()
            present: list[str] = []
            for j, factory in enumerate(factories):
                for k in range(3 + j):  # 3, 4, 5 ... people from each factory
                    pid = f"P-{next(people)}"
                    await session.register(pid, factory, role, "female" if k % 3 else "male")
                    if k:  # the first of each factory never came
                        present.append(pid)
            await session.present(DAYS[0], *present)
            await session.present(DAYS[1], *present[::2])
            delivered.setdefault(course, []).append(await session.deliver())
    # Not counted: another year, another country, and a session only scheduled.
    other_year = Session(read_side, scheduled("TS-2025", tuple(cambodian[:5]), "OSH", (dt.date(2025, 12, 1),)))
    await other_year.scheduled()
    await other_year.register("P-OLD", cambodian[0], "worker", "female")
    await other_year.present(dt.date(2025, 12, 1), "P-OLD")
    await other_year.deliver()
    await Session(read_side, scheduled("TS-VN", ("VN-2026-0001-1",), "OSH", country="VN")).scheduled()
    await Session(read_side, scheduled("TS-LATER", tuple(cambodian[:6]), "GEAR")).scheduled()

    variables = {"country": "KH", "year": 2026}

    def all_delivered(data: dict[str, Any]) -> bool:
        return data["trainingStatistics"]["total"]["sessionsDelivered"] == 5

    answer: dict[str, Any] = {}

    async def counted() -> bool:
        nonlocal answer
        answer = await read_side.graphql(STATISTICS, PROGRAMME, variables)
        return bool(answer.get("data")) and all_delivered(answer["data"])

    await eventually(counted, what="the deliveries projected")

    def rounded(n: float) -> int:
        return int(round(n, -1))

    def cell(events: list[te.TrainingDelivered], factories: int) -> dict[str, Any]:
        registered = sum(e.registered for e in events)
        attended = sum(e.attended.total for e in events)
        completed = sum(e.completed for e in events)

        def part(get: Any) -> int:
            return rounded(sum(get(e.attended) for e in events))

        return {
            "sessionsDelivered": len(events),
            "factories": factories,
            "registered": rounded(registered),
            "attended": {
                "total": rounded(attended),
                "bySex": {
                    "female": part(lambda h: h.by_sex.female),
                    "male": part(lambda h: h.by_sex.male),
                    "otherOrUndisclosed": 0,
                },
                "byRole": {r: part(lambda h, r=r: getattr(h.by_role, r)) for r in ("worker", "supervisor", "manager")},
                "womenSupervisorsAndManagers": part(lambda h: h.women_supervisors_and_managers),
            },
            "completed": rounded(completed),
            "attendedShare": round(attended / registered, 2),
            "completedShare": round(completed / registered, 2),
            "participantHours": float(rounded(round(sum(e.participant_hours for e in events)))),
            "suppressed": False,
        }

    withheld = dict.fromkeys(
        [
            "sessionsDelivered",
            "factories",
            "registered",
            "attended",
            "completed",
            "attendedShare",
            "completedShare",
            "participantHours",
        ]
    ) | {"suppressed": True}
    every = [e for events in delivered.values() for e in events]
    expected = {
        "country": "KH",
        "year": 2026,
        "total": cell(every, 7),
        "courses": [
            {"courseCode": "HRM", "courseTitle": COURSES["HRM"].title, "delivered": withheld},
            {"courseCode": "OSH", "courseTitle": COURSES["OSH"].title, "delivered": cell(delivered["OSH"], 7)},
            {"courseCode": "SST", "courseTitle": COURSES["SST"].title, "delivered": withheld},
        ],
    }
    assert answer["data"]["trainingStatistics"] == expected
    as_government = await read_side.graphql(STATISTICS, bearer(Audience.GOVERNMENT, "KH"), variables)
    assert as_government == answer

    # Vietnam: one session scheduled, none delivered: nothing to show.
    vn = await read_side.graphql(STATISTICS, bearer(Audience.GOVERNMENT, "VN"), {"country": "VN", "year": 2026})
    assert vn["data"]["trainingStatistics"]["total"]["suppressed"] is True
    assert vn["data"]["trainingStatistics"]["courses"] == []

    # Another country's government, factories and brands: refused.
    angkor = await read_side.factory("Angkor Apparel")
    brand = await read_side.brand("Northwind Outfitters")
    for headers in (bearer(Audience.GOVERNMENT, "VN"), bearer(Audience.FACTORY, angkor), bearer(Audience.BRAND, brand)):
        refused = await read_side.graphql(STATISTICS, headers, variables)
        assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", refused
