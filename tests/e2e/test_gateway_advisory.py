"""Advisory services in GraphQL: plans, priorities, visits and commitments projected from the
committee service's advisory events on Kafka; pages and filters; redelivery; each audience's
reach (a consenting brand reads only that a supplier is in advisory and its priorities by
cluster); and the country statistics with small cells withheld.

The expected figures are worked out here from the events the test publishes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any, TypeAlias

from betterwork_events.auth import Audience
from betterwork_events.contracts import advisory as ve
from betterwork_events.contracts.committee import Sex, Side
from betterwork_events.contracts.factory_registry import ServicePackage
from betterwork_events.envelope import Envelope
from gateway.graphql.relay import global_id

from tests.e2e.read_side import PROGRAMME, ReadSide, bearer
from tests.e2e.test_gateway_committees import settled

D = dt.date.fromisoformat
T: TypeAlias = ve.AdvisoryTopic
ADVISOR, NEW_ADVISOR = "Pich Sopheap", "Heng Vanna"
NOTES = "Walked the cutting floor with the HR manager; the east exit was blocked by fabric rolls."
HR_MANAGER = ve.Attendee(name="Sok Dara", role="HR manager")
SHOP_STEWARD = ve.Attendee(name="Chea Vannak", role="shop steward")
COMMENT = "The visit was moved at our request: the auditors of a buyer were on site"
# Everything only programme staff and the factory itself may read of Angkor's plan.
SECRETS = (
    ADVISOR,
    NEW_ADVISOR,
    NOTES,
    COMMENT,
    "Keep every emergency exit of the cutting floor clear",
    "Move the fabric rolls away from the east exit",
    "finding:KH-2026-0042-5-A1-F7",
)


def member(member_id: str, side: Side, sex: Sex) -> ve.CommitteeAttendee:
    return ve.CommitteeAttendee(committee_id="KH-C1", member_id=member_id, side=side, sex=sex)


class Plan:
    """One advisory plan's events, published on its stream as the committee service's relay would."""

    def __init__(self, read_side: ReadSide, factory_id: str, cycle: int = 1) -> None:
        self.read_side, self.factory_id = read_side, factory_id
        self.id = f"{factory_id}-AP{cycle}"
        self.cycle = cycle
        self.sent: list[Envelope] = []

    async def publish(self, event_type: type[ve.AdvisoryEvent], **fields: Any) -> Envelope:
        event = event_type(plan_id=self.id, factory_id=self.factory_id, **fields)
        envelope = await self.read_side.publish(event, stream=f"advisory-plan-{self.id}")
        self.sent.append(envelope)
        return envelope

    async def agree(self, country: str, starts_on: dt.date, *topics: T) -> None:
        priorities = tuple(
            ve.AdvisoryPriority(
                priority_id=f"P-{i + 1}",
                topic=topic,
                description="Keep every emergency exit of the cutting floor clear",
                links=("finding:KH-2026-0042-5-A1-F7",),
            )
            for i, topic in enumerate(topics)
        )
        await self.publish(
            ve.AdvisoryPlanAgreed,
            country=country,
            cycle=self.cycle,
            starts_on=starts_on,
            ends_on=starts_on + dt.timedelta(days=360),
            service_package=ServicePackage.CORE,
            visits_included=4,
            visits_promised=4,
            advisor=ADVISOR,
            priorities=priorities,
        )

    async def plan_visit(self, visit_id: str, planned_for: dt.date, remote: bool = False) -> None:
        await self.publish(
            ve.AdvisoryVisitPlanned,
            visit_id=visit_id,
            planned_on=D("2026-01-10"),
            planned_for=planned_for,
            remote=remote,
            topics=(T.FIRE_SAFETY,),
        )

    async def hold(self, visit_id: str, held_on: dt.date, notes: str, topic: T = T.FIRE_SAFETY) -> None:
        """A visit held with nobody but the advisor, on one topic."""
        await self.publish(
            ve.AdvisoryVisitHeld,
            visit_id=visit_id,
            held_on=held_on,
            advisor=NEW_ADVISOR,
            remote=False,
            participants=ve.Participants(),
            topics=(ve.TopicWorked(topic=topic),),
            notes=notes,
        )

    async def commit(self, commitment_id: str, due_on: dt.date, visit_id: str = "V-1") -> None:
        await self.publish(
            ve.AdvisoryCommitmentMade,
            commitment_id=commitment_id,
            visit_id=visit_id,
            description="Move the fabric rolls away from the east exit",
            topic=T.FIRE_SAFETY,
            priority_id="P-1",
            due_on=due_on,
        )

    async def follow_up(self, commitment_id: str, status: ve.FollowUpStatus, due_on: dt.date | None = None) -> None:
        await self.publish(
            ve.AdvisoryCommitmentFollowedUp,
            commitment_id=commitment_id,
            visit_id="V-4",
            status=status,
            note="Found at the visit",
            due_on=due_on,
        )


async def angkors_plan(read_side: ReadSide, factory_id: str) -> Plan:
    """Agreed with two OSH priorities and one on wages, a fourth on working time added; the advisor
    replaced; six visits promised. V-1 held (two managers, three committee members, one union
    representative), confirmed; V-2 cancelled; V-3 missed, commented on; V-4 held; V-5 to come.
    CM-1 done, CM-2 late with a new date, CM-3 dropped, CM-4 open and overdue on 20 April, CM-5
    open and not yet due."""
    plan = Plan(read_side, factory_id)
    await plan.agree("KH", D("2026-01-05"), T.FIRE_SAFETY, T.CHEMICALS, T.WAGES)
    await plan.publish(
        ve.AdvisoryPriorityAgreed,
        priority=ve.AdvisoryPriority(
            priority_id="P-4", topic=T.WORKING_HOURS, description="Plan overtime ahead", links=("finding:X-F1",)
        ),
    )
    await plan.publish(ve.AdvisorAssigned, advisor=NEW_ADVISOR, assigned_on=D("2026-01-20"), reason="Pich moved")
    await plan.publish(ve.AdvisoryVisitsRevised, visits_promised=6, reason="more to do on OSH")
    await plan.plan_visit("V-1", D("2026-02-02"))
    participants = ve.Participants(
        management=(HR_MANAGER, ve.Attendee(name="Lim Vuthy", role="production manager")),
        committee_members=(
            member("M-1", Side.WORKERS, Sex.FEMALE),
            member("M-2", Side.WORKERS, Sex.FEMALE),
            member("M-3", Side.MANAGEMENT, Sex.MALE),
        ),
        union=ve.UnionPresence(union="Cambodian Alliance of Trade Unions", representatives=(SHOP_STEWARD,)),
    )
    await plan.publish(
        ve.AdvisoryVisitHeld,
        visit_id="V-1",
        held_on=D("2026-02-03"),
        advisor=NEW_ADVISOR,
        remote=True,
        participants=participants,
        topics=(ve.TopicWorked(topic=T.FIRE_SAFETY, priority_id="P-1", note="exits"),),
        notes=NOTES,
    )
    for n, due in enumerate(("2026-03-01", "2026-03-15", "2026-04-01", "2026-04-10", "2026-05-30"), start=1):
        await plan.commit(f"CM-{n}", D(due))
    await plan.publish(ve.AdvisoryVisitRecordConfirmed, visit_id="V-1", confirmed_on=D("2026-02-05"), comment="Fair")
    await plan.plan_visit("V-2", D("2026-03-02"))
    await plan.publish(ve.AdvisoryVisitCancelled, visit_id="V-2", cancelled_on=D("2026-02-25"), reason="holiday")
    await plan.plan_visit("V-3", D("2026-03-16"))
    await plan.publish(ve.AdvisoryVisitMissed, visit_id="V-3", missed_on=D("2026-03-16"), reason="factory closed")
    await plan.publish(ve.AdvisoryVisitRecordCommented, visit_id="V-3", commented_on=D("2026-03-17"), comment=COMMENT)
    await plan.plan_visit("V-4", D("2026-04-15"))
    await plan.hold("V-4", D("2026-04-15"), "Follow-up of the commitments")
    await plan.follow_up("CM-1", ve.FollowUpStatus.DONE)
    await plan.follow_up("CM-2", ve.FollowUpStatus.LATE, due_on=D("2026-04-30"))
    await plan.follow_up("CM-3", ve.FollowUpStatus.DROPPED)
    await plan.plan_visit("V-5", D("2026-06-01"), remote=True)
    return plan


PLAN_FIELDS = """id planId factoryId country cycle startsOn endsOn servicePackage visitsIncluded visitsPromised advisor
  priorityClusters { clusterId priorities }
  priorities { priorityId topic { topic clusterId name } description links }
  visits(first: 100) { totalCount nodes { visitId status plannedOn plannedFor remote plannedTopics { topic }
    heldOn advisor notes calledOffOn calledOffReason topicsWorked { topic { topic clusterId } priorityId note }
    participation { management unionRepresentatives committeeMembers { side sex count } }
    confirmation { on comment } comments { on comment } } }
  commitments(first: 100, today: "2026-04-20") { totalCount nodes { commitmentId visitId description
    topic { topic } priorityId dueOn status overdue followUps { visitId status note dueOn } } }"""
OF_FACTORY = (
    f"""query ($id: ID!) {{ factory(id: $id) {{ advisoryPlans {{ totalCount nodes {{ {PLAN_FIELDS} }} }} }} }}"""
)


def plan_of(data: dict[str, Any]) -> Any:
    factory = data["factory"]
    nodes = factory["advisoryPlans"]["nodes"] if factory else []
    return nodes[0] if nodes else None


def five_visits_and_cm3_dropped(data: dict[str, Any]) -> bool:
    plan = plan_of(data)
    return bool(
        plan
        and plan["visits"]["totalCount"] == 5
        and [c["status"] for c in plan["commitments"]["nodes"]].count("DROPPED") == 1
    )


async def test_a_plan_is_projected_with_what_its_events_say(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel")
    plan = await angkors_plan(read_side, angkor)
    data = await settled(read_side, OF_FACTORY, PROGRAMME, {"id": angkor}, five_visits_and_cm3_dropped)
    seen = plan_of(data)
    assert seen["id"] == global_id("AdvisoryPlan", plan.id) and seen["planId"] == plan.id
    assert (seen["factoryId"], seen["country"], seen["cycle"]) == (angkor, "KH", 1)
    assert (seen["startsOn"], seen["endsOn"]) == ("2026-01-05", "2026-12-31")
    assert (seen["servicePackage"], seen["visitsIncluded"], seen["visitsPromised"]) == ("core", 4, 6)
    assert seen["advisor"] == NEW_ADVISOR
    assert seen["priorityClusters"] == [
        {"clusterId": "compensation", "priorities": 1},
        {"clusterId": "osh", "priorities": 2},
        {"clusterId": "working-time", "priorities": 1},
    ]
    assert [(p["priorityId"], p["topic"]["clusterId"]) for p in seen["priorities"]] == [
        ("P-1", "osh"),
        ("P-2", "osh"),
        ("P-3", "compensation"),
        ("P-4", "working-time"),
    ]
    assert seen["priorities"][3]["links"] == ["finding:X-F1"]
    assert seen["priorities"][0]["topic"]["name"] == ve.TOPIC_NAMES[T.FIRE_SAFETY]
    visits = {v["visitId"]: v for v in seen["visits"]["nodes"]}
    assert [v["visitId"] for v in seen["visits"]["nodes"]] == ["V-1", "V-2", "V-3", "V-4", "V-5"]
    assert {k: v["status"] for k, v in visits.items()} == {
        "V-1": "HELD",
        "V-2": "CANCELLED",
        "V-3": "MISSED",
        "V-4": "HELD",
        "V-5": "PLANNED",
    }
    held = visits["V-1"]
    assert (held["heldOn"], held["advisor"], held["remote"], held["notes"]) == ("2026-02-03", NEW_ADVISOR, True, NOTES)
    assert held["participation"] == {
        "management": 2,
        "unionRepresentatives": 1,
        "committeeMembers": [
            {"side": "MANAGEMENT", "sex": "MALE", "count": 1},
            {"side": "WORKERS", "sex": "FEMALE", "count": 2},
        ],
    }
    assert held["topicsWorked"] == [
        {"topic": {"topic": T.FIRE_SAFETY.value, "clusterId": "osh"}, "priorityId": "P-1", "note": "exits"}
    ]
    assert held["confirmation"] == {"on": "2026-02-05", "comment": "Fair"} and held["comments"] == []
    assert (visits["V-2"]["calledOffOn"], visits["V-2"]["calledOffReason"]) == ("2026-02-25", "holiday")
    assert visits["V-3"]["comments"] == [{"on": "2026-03-17", "comment": COMMENT}]
    assert visits["V-5"]["participation"] is None and visits["V-5"]["remote"] is True
    assert visits["V-5"]["plannedFor"] == "2026-06-01"
    # Names of participants are never kept: counts only.
    assert "Sok Dara" not in str(data) and "Chea Vannak" not in str(data)
    commitments = {c["commitmentId"]: c for c in seen["commitments"]["nodes"]}
    assert {k: (c["status"], c["dueOn"], c["overdue"]) for k, c in commitments.items()} == {
        "CM-1": ("DONE", "2026-03-01", False),
        "CM-2": ("LATE", "2026-04-30", False),  # its new due date
        "CM-3": ("DROPPED", "2026-04-01", False),
        "CM-4": ("OPEN", "2026-04-10", True),
        "CM-5": ("OPEN", "2026-05-30", False),
    }
    # By due date: the late one's new date puts it after CM-4.
    assert list(commitments) == ["CM-1", "CM-3", "CM-4", "CM-2", "CM-5"]
    assert commitments["CM-2"]["followUps"] == [
        {"visitId": "V-4", "status": "LATE", "note": "Found at the visit", "dueOn": "2026-04-30"}
    ]


async def test_redelivered_and_replayed_events_change_nothing(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel")
    plan = await angkors_plan(read_side, angkor)
    before = await settled(read_side, OF_FACTORY, PROGRAMME, {"id": angkor}, five_visits_and_cm3_dropped)
    await read_side.send(*plan.sent)  # every envelope again, in order
    # And every event again under a new envelope id, as a rebuild after the consumer's record of
    # what it processed was lost would bring them: the plan's version guard must refuse them.
    await read_side.send(*(dataclasses.replace(e, id=uuid.uuid4()) for e in plan.sent))
    # A marker after the redeliveries on the same partition: once it shows, they have been applied.
    await plan.publish(ve.AdvisoryVisitRecordCommented, visit_id="V-4", commented_on=D("2026-04-16"), comment="ok")

    def marked(data: dict[str, Any]) -> bool:
        found = plan_of(data)
        return bool(found and any(v["comments"] for v in found["visits"]["nodes"] if v["visitId"] == "V-4"))

    after = await settled(read_side, OF_FACTORY, PROGRAMME, {"id": angkor}, marked)
    for visit in plan_of(after)["visits"]["nodes"]:
        if visit["visitId"] == "V-4":
            assert visit["comments"] == [{"on": "2026-04-16", "comment": "ok"}]
            visit["comments"] = []
    assert after == before
    assert [c["comment"] for v in plan_of(after)["visits"]["nodes"] for c in v["comments"]] == [COMMENT]


PAGES = """query ($id: ID!, $first: Int, $after: String, $status: CommitmentStatus, $overdue: Boolean,
  $visitsAfter: String) {
  factory(id: $id) { advisoryPlans { nodes {
    visits(first: 2, after: $visitsAfter) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
      nodes { visitId } }
    commitments(first: $first, after: $after, status: $status, overdue: $overdue, today: "2026-04-20") {
      totalCount pageInfo { hasNextPage endCursor } nodes { commitmentId } } } } }
}"""


async def test_visits_and_commitments_page_and_filter(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel")
    await angkors_plan(read_side, angkor)
    await settled(read_side, OF_FACTORY, PROGRAMME, {"id": angkor}, five_visits_and_cm3_dropped)

    async def plan(**variables: Any) -> Any:
        answer = await read_side.graphql(PAGES, PROGRAMME, {"id": angkor} | variables)
        assert "errors" not in answer, answer
        return answer["data"]["factory"]["advisoryPlans"]["nodes"][0]

    pages, cursor = [], None
    while True:
        visits = (await plan(visitsAfter=cursor))["visits"]
        assert visits["totalCount"] == 5 and visits["pageInfo"]["hasPreviousPage"] == (cursor is not None)
        pages.append([v["visitId"] for v in visits["nodes"]])
        if not visits["pageInfo"]["hasNextPage"]:
            break
        cursor = visits["pageInfo"]["endCursor"]
    assert pages == [["V-1", "V-2"], ["V-3", "V-4"], ["V-5"]]

    first = (await plan(first=3))["commitments"]
    assert [c["commitmentId"] for c in first["nodes"]] == ["CM-1", "CM-3", "CM-4"] and first["pageInfo"]["hasNextPage"]
    rest = (await plan(first=3, after=first["pageInfo"]["endCursor"]))["commitments"]
    assert [c["commitmentId"] for c in rest["nodes"]] == ["CM-2", "CM-5"] and not rest["pageInfo"]["hasNextPage"]

    def ids(found: Any) -> list[str]:
        return [c["commitmentId"] for c in found["commitments"]["nodes"]]

    assert ids(await plan(status="OPEN")) == ["CM-4", "CM-5"]
    assert ids(await plan(status="LATE")) == ["CM-2"]
    assert ids(await plan(status="DONE")) == ["CM-1"]
    assert ids(await plan(status="DROPPED")) == ["CM-3"]
    assert ids(await plan(overdue=True)) == ["CM-4"]
    assert ids(await plan(overdue=False)) == ["CM-1", "CM-3", "CM-2", "CM-5"]
    assert ids(await plan(status="OPEN", overdue=False)) == ["CM-5"]


ROOT = """query ($first: Int, $after: String, $country: String, $factoryId: String) {
  advisoryPlans(first: $first, after: $after, country: $country, factoryId: $factoryId) {
    totalCount pageInfo { hasNextPage endCursor } nodes { planId } } }"""


async def test_root_plans_newest_first_page_and_filter_by_country_and_factory(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel")
    mekong = await read_side.factory("Mekong Footwear")
    saigon = await read_side.factory("Saigon Garments", country="VN")
    first, second = Plan(read_side, angkor, 1), Plan(read_side, angkor, 2)
    await first.agree("KH", D("2025-01-06"), T.WAGES)
    await second.agree("KH", D("2026-01-05"), T.WAGES)
    other, vietnamese = Plan(read_side, mekong), Plan(read_side, saigon)
    await other.agree("KH", D("2025-07-01"))
    await vietnamese.agree("VN", D("2026-02-01"))

    async def listed(**variables: Any) -> Any:
        answer = await read_side.graphql(ROOT, PROGRAMME, variables)
        assert "errors" not in answer, answer
        return answer["data"]["advisoryPlans"]

    await settled(read_side, ROOT, PROGRAMME, {}, lambda d: d["advisoryPlans"]["totalCount"] == 4)
    everything = await listed()
    assert [p["planId"] for p in everything["nodes"]] == [vietnamese.id, second.id, other.id, first.id]
    page = await listed(first=3)
    assert page["pageInfo"]["hasNextPage"] and len(page["nodes"]) == 3
    rest = await listed(first=3, after=page["pageInfo"]["endCursor"])
    assert [p["planId"] for p in rest["nodes"]] == [first.id] and not rest["pageInfo"]["hasNextPage"]
    assert [p["planId"] for p in (await listed(country="KH"))["nodes"]] == [second.id, other.id, first.id]
    assert [p["planId"] for p in (await listed(factoryId=angkor))["nodes"]] == [second.id, first.id]
    assert (await listed(country="VN", factoryId=angkor)) == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "nodes": [],
    }
    # A factory's own users: their plans only, whatever they filter by.
    own = await read_side.graphql(ROOT, bearer(Audience.FACTORY, mekong), {"factoryId": angkor})
    assert own["data"]["advisoryPlans"]["totalCount"] == 0
    own = await read_side.graphql(ROOT, bearer(Audience.FACTORY, mekong), {})
    assert [p["planId"] for p in own["data"]["advisoryPlans"]["nodes"]] == [other.id]


ANY_WAY_IN = f"""query ($factory: ID!, $node: ID!) {{
  factory(id: $factory) {{ factoryId advisoryPlans {{ totalCount nodes {{ {PLAN_FIELDS} }} }} }}
  advisoryPlans {{ totalCount nodes {{ {PLAN_FIELDS} }} }}
  node(id: $node) {{ id ... on AdvisoryPlan {{ planId advisor priorityClusters {{ clusterId priorities }} }} }}
}}"""
BRANDS_VIEW = {
    "servicePackage": None,
    "visitsIncluded": None,
    "visitsPromised": None,
    "advisor": None,
    "priorities": None,
    "visits": None,
    "commitments": None,
}


async def test_each_audience_reads_what_the_committee_service_would_show_it(read_side: ReadSide) -> None:
    angkor = await read_side.factory("Angkor Apparel")
    mekong = await read_side.factory("Mekong Footwear")
    consenting, silent, unlinked = [await read_side.brand(n) for n in ("Northwind", "Lotus Retail", "Harbour & Pine")]
    await read_side.supplies(angkor, consenting, consents=True)
    await read_side.supplies(angkor, silent, consents=False)
    plan = await angkors_plan(read_side, angkor)
    variables = {"factory": angkor, "node": str(global_id("AdvisoryPlan", plan.id))}
    await settled(read_side, OF_FACTORY, PROGRAMME, {"id": angkor}, five_visits_and_cm3_dropped)
    await read_side.until(
        f'{{ factory(id: "{angkor}") {{ factoryId }} }}',
        bearer(Audience.BRAND, consenting),
        lambda d: d["factory"] is not None,
        "the consent projected",
    )

    for who, headers in [("programme", PROGRAMME), ("factory itself", bearer(Audience.FACTORY, angkor))]:
        answer = await read_side.graphql(ANY_WAY_IN, headers, variables)
        assert "errors" not in answer, (who, answer)
        data = answer["data"]
        text = str(answer)
        assert all(secret in text for secret in SECRETS if secret != ADVISOR), who  # Pich was replaced
        assert data["advisoryPlans"]["nodes"] == data["factory"]["advisoryPlans"]["nodes"], who
        assert data["node"]["planId"] == plan.id and data["node"]["advisor"] == NEW_ADVISOR, who

    # The consenting brand: that Angkor is in advisory, its cycle and period, its priorities by cluster.
    brand = await read_side.graphql(ANY_WAY_IN, bearer(Audience.BRAND, consenting), variables)
    assert "errors" not in brand, brand
    assert not any(secret in str(brand) for secret in SECRETS)
    (seen,) = brand["data"]["advisoryPlans"]["nodes"]
    assert brand["data"]["factory"]["advisoryPlans"]["nodes"] == [seen]
    assert {k: seen[k] for k in BRANDS_VIEW} == BRANDS_VIEW
    assert (seen["planId"], seen["cycle"], seen["startsOn"], seen["endsOn"]) == (plan.id, 1, "2026-01-05", "2026-12-31")
    assert seen["priorityClusters"] == [
        {"clusterId": "compensation", "priorities": 1},
        {"clusterId": "osh", "priorities": 2},
        {"clusterId": "working-time", "priorities": 1},
    ]
    assert brand["data"]["node"] == {
        "id": variables["node"],
        "planId": plan.id,
        "advisor": None,
        "priorityClusters": seen["priorityClusters"],
    }

    # Another factory, a non-consenting and an unlinked brand: exactly as for a plan that does not exist.
    missing_vars = {"factory": "KH-2026-9999-1", "node": str(global_id("AdvisoryPlan", "KH-2026-9999-1-AP1"))}
    for headers in (bearer(Audience.FACTORY, mekong), bearer(Audience.BRAND, silent), bearer(Audience.BRAND, unlinked)):
        answer = await read_side.graphql(ANY_WAY_IN, headers, variables)
        missing = await read_side.graphql(ANY_WAY_IN, headers, missing_vars)
        assert answer == missing
        assert answer["data"] == {"factory": None, "advisoryPlans": {"totalCount": 0, "nodes": []}, "node": None}

    # Governments: no plan at all, their own country's statistics only.
    for country in ("KH", "VN"):
        answer = await read_side.graphql(ANY_WAY_IN, bearer(Audience.GOVERNMENT, country), variables)
        assert not any(secret in str(answer) for secret in SECRETS) and plan.id not in str(answer)
        assert {e["extensions"]["code"] for e in answer["errors"]} == {"FORBIDDEN"}
    statistics = '{ advisoryStatistics(country: "KH") { country suppressed factoriesInAdvisory } }'
    own = await read_side.graphql(statistics, bearer(Audience.GOVERNMENT, "KH"))
    assert own["data"]["advisoryStatistics"] == {"country": "KH", "suppressed": True, "factoriesInAdvisory": None}
    for headers in (
        bearer(Audience.GOVERNMENT, "VN"),
        bearer(Audience.BRAND, consenting),
        bearer(Audience.FACTORY, angkor),
    ):
        refused = await read_side.graphql(statistics, headers)
        assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


STATISTICS = """query ($country: String!) { advisoryStatistics(country: $country) { country factoriesInAdvisory
  plans visitsHeld visitsPlanned visitsMissed commitmentsDone commitmentsLate commitmentsDropped suppressed } }"""


async def test_country_statistics_count_what_was_published_and_withhold_small_cells(read_side: ReadSide) -> None:
    # Five Cambodian factories, the first with two cycles; each with visits and commitments of its own.
    # The factories need not be in the directory: the plan carries the country.
    held = planned = missed = done = late = dropped = 0
    for n in range(1, 6):
        factory = f"KH-2026-03{n:02d}-1"
        for cycle in (1, 2) if n == 1 else (1,):
            plan = Plan(read_side, factory, cycle)
            await plan.agree("KH", D(f"202{4 + cycle}-01-05"))
            await plan.plan_visit("V-1", D("2026-02-02"))
            await plan.plan_visit("V-2", D("2026-03-02"))
            planned += 1  # V-2 stays planned
            if n % 2:
                await plan.publish(ve.AdvisoryVisitMissed, visit_id="V-1", missed_on=D("2026-02-02"), reason="closed")
                missed += 1
                continue
            await plan.hold("V-1", D("2026-02-02"), NOTES, T.WAGES)
            held += 1
            for number, status in enumerate((ve.FollowUpStatus.DONE, ve.FollowUpStatus.LATE, None), start=1):
                await plan.commit(f"CM-{number}", D("2026-03-01"))
                if status is not None:
                    await plan.follow_up(f"CM-{number}", status)
            done, late = done + 1, late + 1
            await plan.commit("CM-4", D("2026-03-01"))
            await plan.follow_up("CM-4", ve.FollowUpStatus.DROPPED)
            dropped += 1
    # Four Vietnamese factories: a cell too small to show.
    for n in range(1, 5):
        await Plan(read_side, f"VN-2026-04{n:02d}-1").agree("VN", D("2026-01-05"))
    expected = {
        "country": "KH",
        "factoriesInAdvisory": 5,
        "plans": 6,
        "visitsHeld": held,
        "visitsPlanned": planned,
        "visitsMissed": missed,
        "commitmentsDone": done,
        "commitmentsLate": late,
        "commitmentsDropped": dropped,
        "suppressed": False,
    }
    await settled(read_side, STATISTICS, PROGRAMME, {"country": "KH"}, lambda d: d["advisoryStatistics"] == expected)
    government = await read_side.graphql(STATISTICS, bearer(Audience.GOVERNMENT, "KH"), {"country": "KH"})
    assert government["data"]["advisoryStatistics"] == expected
    await settled(read_side, ROOT, PROGRAMME, {"country": "VN"}, lambda d: d["advisoryPlans"]["totalCount"] == 4)
    small = await read_side.graphql(STATISTICS, bearer(Audience.GOVERNMENT, "VN"), {"country": "VN"})
    assert small["data"]["advisoryStatistics"] == {
        "country": "VN",
        "factoriesInAdvisory": None,
        "plans": None,
        "visitsHeld": None,
        "visitsPlanned": None,
        "visitsMissed": None,
        "commitmentsDone": None,
        "commitmentsLate": None,
        "commitmentsDropped": None,
        "suppressed": True,
    }
