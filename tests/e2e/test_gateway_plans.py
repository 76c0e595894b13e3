"""Improvement plans in GraphQL: remediation of published findings, improvement actions, overdue
against a fixed `today`, filters, pages, and what each audience may read of them.

The plans are built from the assessment service's events on Kafka; every expected value is
computed here from the events the test published (`Plan`), not read back from the gateway.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from betterwork_events.auth import Audience
from betterwork_events.contracts import assessment as ae
from betterwork_events.envelope import Envelope

from tests.e2e.read_side import PROGRAMME, ReadSide, bearer

TODAY = dt.date(2026, 3, 15)  # what "today" is for every query here: never the clock
# Names that may appear only to programme staff (and, the factory's own, to the factory).
OWNER = "Sok Dara, HR manager"
PROGRESS_NOTE = "Sok Dara paid half of line 14's arrears"
REMEDIATION_NOTE = "Arrears paid in full; payslips signed by Chan Sreymom"
REJECTION = "Keo Sophea showed us the east exit still blocked by fabric rolls"
VERIFIER = "Pich Sopheap, enterprise advisor"
NAMES = (OWNER, PROGRESS_NOTE, REMEDIATION_NOTE, REJECTION, VERIFIER, "Sok Dara", "Sopheap", "Sophea", "Sreymom")


@dataclass
class Action:
    assessment_id: str
    action_id: str
    question_id: str
    factory_id: str
    due_on: dt.date
    done: bool = False

    def overdue(self, today: dt.date) -> bool:
        return not self.done and today > self.due_on


@dataclass
class Plan:
    """What the test published, as the test itself understands it."""

    angkor: str
    bayon: str
    saigon: str
    northwind: str  # buys from Angkor and Saigon, which consent
    lotus: str  # buys from Angkor, which does not consent
    harbour: str  # buys from no one here
    country: dict[str, str] = field(default_factory=dict)  # factory -> country
    cluster: dict[str, str] = field(default_factory=dict)  # question -> cluster
    point: dict[str, str] = field(default_factory=dict)  # question -> compliance point
    factory_of: dict[str, str] = field(default_factory=dict)  # question -> factory
    status: dict[str, str] = field(default_factory=dict)  # question -> remediation status
    actions: list[Action] = field(default_factory=list)
    assessment: dict[str, str] = field(default_factory=dict)  # factory -> its published assessment
    envelopes: list[Envelope] = field(default_factory=list)

    def action_ids(self, keep: Any = lambda a: True) -> set[str]:
        return {a.action_id for a in self.actions if keep(a)}


def completed(factory_id: str, country: str, points: dict[str, tuple[str, list[str]]]) -> ae.AssessmentCompleted:
    """A published report: per compliance point, its cluster and its non-compliant questions."""
    summaries = tuple(
        ae.CompliancePointSummary(
            compliance_point_id=point, cluster_id=cluster, non_compliant=bool(qs), non_compliant_questions=tuple(qs)
        )
        for point, (cluster, qs) in points.items()
    )
    return ae.AssessmentCompleted(
        assessment_id=str(uuid.uuid4()),
        factory_id=factory_id,
        country=country,
        tool_version="global-1",
        published_on=dt.date(2026, 1, 12),
        compliance_points=summaries,
        clusters=(),
    )


async def build(read_side: ReadSide) -> Plan:
    plan = Plan(
        angkor=await read_side.factory("Angkor Apparel"),
        bayon=await read_side.factory("Bayon Garments"),
        saigon=await read_side.factory("Saigon Stitch", country="VN"),
        northwind=await read_side.brand("Northwind Outfitters"),
        lotus=await read_side.brand("Lotus Retail Group"),
        harbour=await read_side.brand("Harbour & Pine Direct"),
    )
    await read_side.supplies(plan.angkor, plan.northwind, consents=True)
    await read_side.supplies(plan.saigon, plan.northwind, consents=True)
    await read_side.supplies(plan.angkor, plan.lotus, consents=False)
    plan.country = {plan.angkor: "KH", plan.bayon: "KH", plan.saigon: "VN"}

    reports = {
        plan.angkor: {
            "compensation.minimum-wages": ("compensation", ["CMW-1", "CMW-2"]),
            "osh.emergency-preparedness": ("osh", ["OEP-4"]),
            "contracts.contracting-procedures": ("contracts", []),  # compliant: no plan
        },
        plan.bayon: {"compensation.overtime-wages": ("compensation", ["COW-2"])},
        plan.saigon: {"osh.emergency-preparedness": ("osh", ["OEP-7"])},
    }
    published: dict[str, ae.AssessmentCompleted] = {}
    for factory_id, points in reports.items():
        event = completed(factory_id, plan.country[factory_id], points)
        published[factory_id] = event
        plan.assessment[factory_id] = event.assessment_id
        plan.envelopes.append(await read_side.publish(event, stream=event.assessment_id))
        for point, (cluster, questions) in points.items():
            for q in questions:
                plan.cluster[q], plan.point[q], plan.factory_of[q], plan.status[q] = cluster, point, factory_id, "open"

    async def emit(event: ae.AssessmentEvent) -> None:
        plan.envelopes.append(await read_side.publish(event, stream=event.assessment_id))

    def ids(factory_id: str) -> dict[str, str]:
        return {"assessment_id": plan.assessment[factory_id], "factory_id": factory_id}

    async def act(factory_id: str, question: str, what: str, due_on: dt.date) -> Action:
        action = Action(plan.assessment[factory_id], uuid.uuid4().hex[:12], question, factory_id, due_on)
        await emit(
            ae.ImprovementActionAdded(
                **ids(factory_id), action_id=action.action_id, question_id=question, what=what, who=OWNER, due_on=due_on
            )
        )
        plan.actions.append(action)
        return action

    arrears = await act(plan.angkor, "CMW-1", "Pay the arrears of line 14", dt.date(2026, 3, 1))
    payroll = await act(plan.angkor, "CMW-2", "Pay by bank transfer", dt.date(2026, 5, 1))
    exits = await act(plan.angkor, "OEP-4", "Clear the east exit", dt.date(2026, 2, 1))
    await act(plan.saigon, "OEP-7", "Mark the evacuation routes", dt.date(2026, 4, 30))
    await act(plan.bayon, "COW-2", "Pay overtime at 150%", dt.date(2026, 3, 10))

    await emit(ae.ImprovementProgressReported(**ids(plan.angkor), action_id=arrears.action_id, note=PROGRESS_NOTE))
    await emit(ae.ImprovementProgressReported(**ids(plan.angkor), action_id=payroll.action_id, note="done", done=True))
    payroll.done = True
    await emit(ae.FindingRemediated(**ids(plan.angkor), question_id="CMW-2", note=REMEDIATION_NOTE))
    await emit(ae.RemediationVerified(**ids(plan.angkor), question_id="CMW-2", verified_by=VERIFIER))
    plan.status["CMW-2"] = "verified"
    await emit(ae.FindingRemediated(**ids(plan.angkor), question_id="OEP-4", note="cleared"))
    await emit(ae.RemediationRejected(**ids(plan.angkor), question_id="OEP-4", reason=REJECTION))
    plan.status["OEP-4"] = "rejected"
    await emit(ae.FindingRemediated(**ids(plan.saigon), question_id="OEP-7", note="routes marked"))
    plan.status["OEP-7"] = "remediated"
    assert exits.overdue(TODAY) and arrears.overdue(TODAY) and not payroll.overdue(TODAY)

    # Projected, the last of it included, and the directory too (its own projection).
    await read_side.until(
        "{ factories { totalCount } }",
        bearer(Audience.BRAND, plan.northwind),
        lambda d: d["factories"]["totalCount"] == 2,
        "the factories, links and consents projected",
    )
    await read_side.until(
        "{ remediations(status: [REMEDIATED]) { nodes { questionId } } }",
        PROGRAMME,
        lambda d: [n["questionId"] for n in d["remediations"]["nodes"]] == ["OEP-7"],
        "the plans projected",
    )
    await read_side.until(
        "{ remediations(status: [VERIFIED, REJECTED]) { totalCount } }",
        PROGRAMME,
        lambda d: d["remediations"]["totalCount"] == 2,
        "the remediations projected",
    )
    await read_side.until(
        "{ improvementActions(done: true) { totalCount } }",
        PROGRAMME,
        lambda d: d["improvementActions"]["totalCount"] == 1,
        "the progress projected",
    )
    return plan


ACTIONS = """query ($today: Date, $country: String, $cluster: String, $point: String, $status: [RemediationStatus!],
                 $done: Boolean, $overdue: Boolean, $factory: ID, $first: Int, $after: String) {
  improvementActions(today: $today, country: $country, cluster: $cluster, compliancePoint: $point, status: $status,
                     done: $done, overdue: $overdue, factoryId: $factory, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id actionId assessmentId factoryId country questionId compliancePointId clusterId what who dueOn done
            overdue remediationStatus progress { done note } factory { factoryId name } }
  }
}"""
REMEDIATIONS = """query ($today: Date, $status: [RemediationStatus!], $country: String, $first: Int, $after: String) {
  remediations(today: $today, status: $status, country: $country, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { assessmentId questionId factoryId country compliancePointId clusterId publishedOn status
            remediatedAt remediationNote verifiedAt verifiedBy rejectedAt rejectionReason
            improvementActions { actionId overdue who } }
  }
}"""


async def actions_seen(read_side: ReadSide, headers: dict[str, str], **variables: Any) -> dict[str, Any]:
    answer = await read_side.graphql(ACTIONS, headers, {"today": str(TODAY), **variables})
    assert "errors" not in answer, answer
    return dict(answer["data"]["improvementActions"])


async def test_each_status_and_overdue_against_a_fixed_today(read_side: ReadSide) -> None:
    plan = await build(read_side)

    remediations = (await read_side.graphql(REMEDIATIONS, PROGRAMME, {"today": str(TODAY)}))["data"]["remediations"]
    assert remediations["totalCount"] == len(plan.status)
    seen = {r["questionId"]: r for r in remediations["nodes"]}
    assert {q: r["status"].lower() for q, r in seen.items()} == plan.status
    for q, r in seen.items():
        assert (r["factoryId"], r["country"]) == (plan.factory_of[q], plan.country[plan.factory_of[q]])
        assert (r["clusterId"], r["compliancePointId"]) == (plan.cluster[q], plan.point[q])
    assert seen["CMW-2"]["remediationNote"] == REMEDIATION_NOTE and seen["CMW-2"]["verifiedBy"] == VERIFIER
    assert seen["CMW-2"]["verifiedAt"] and seen["CMW-2"]["remediatedAt"]
    assert seen["OEP-4"]["rejectionReason"] == REJECTION and seen["OEP-4"]["rejectedAt"]
    assert seen["CMW-1"]["remediatedAt"] is None and seen["CMW-1"]["verifiedBy"] is None
    assert "contracts.contracting-procedures" not in {r["compliancePointId"] for r in seen.values()}
    by_question = {a.question_id: a for a in plan.actions}
    for q, r in seen.items():
        [action] = r["improvementActions"]
        assert action == {"actionId": by_question[q].action_id, "overdue": by_question[q].overdue(TODAY), "who": OWNER}

    every = await actions_seen(read_side, PROGRAMME)
    assert every["totalCount"] == len(plan.actions)
    nodes = {n["actionId"]: n for n in every["nodes"]}
    for action in plan.actions:
        node = nodes[action.action_id]
        assert node["overdue"] == action.overdue(TODAY) and node["done"] == action.done, node
        assert node["dueOn"] == str(action.due_on) and node["who"] == OWNER
        assert node["remediationStatus"].lower() == plan.status[action.question_id]
        assert node["factory"]["factoryId"] == action.factory_id
    assert [n["actionId"] for n in every["nodes"]] == [
        a.action_id for a in sorted(plan.actions, key=lambda a: a.due_on)
    ]
    arrears = nodes[next(a.action_id for a in plan.actions if a.question_id == "CMW-1")]
    assert arrears["progress"] == [{"done": False, "note": PROGRESS_NOTE}]

    for today in (dt.date(2026, 1, 1), TODAY, dt.date(2026, 12, 31)):
        for flag in (True, False):
            found = await actions_seen(read_side, PROGRAMME, today=str(today), overdue=flag)
            expected = plan.action_ids(lambda a, t=today, f=flag: a.overdue(t) == f)
            assert {n["actionId"] for n in found["nodes"]} == expected, (today, flag)
            assert all(n["overdue"] == flag for n in found["nodes"])
    # An action due today is not overdue yet; the day after, it is.
    bayon = next(a for a in plan.actions if a.factory_id == plan.bayon)
    for today, overdue in [(bayon.due_on, False), (bayon.due_on + dt.timedelta(days=1), True)]:
        found = await actions_seen(read_side, PROGRAMME, today=str(today), factory=plan.bayon)
        assert [n["overdue"] for n in found["nodes"]] == [overdue]


async def test_filters_portals_need_and_pages(read_side: ReadSide) -> None:
    plan = await build(read_side)
    # A programme officer: overdue remediation in Cambodia.
    cambodia = await actions_seen(read_side, PROGRAMME, country="KH", overdue=True)
    expected = plan.action_ids(lambda a: plan.country[a.factory_id] == "KH" and a.overdue(TODAY))
    assert {n["actionId"] for n in cambodia["nodes"]} == expected and cambodia["totalCount"] == len(expected)
    for variables, keep in [
        ({"cluster": "osh"}, lambda a: plan.cluster[a.question_id] == "osh"),
        ({"point": "compensation.minimum-wages"}, lambda a: plan.point[a.question_id] == "compensation.minimum-wages"),
        ({"status": ["OPEN", "REJECTED"]}, lambda a: plan.status[a.question_id] in ("open", "rejected")),
        ({"status": ["VERIFIED"]}, lambda a: plan.status[a.question_id] == "verified"),
        ({"done": False}, lambda a: not a.done),
        ({"factory": plan.saigon}, lambda a: a.factory_id == plan.saigon),
        ({"country": "VN", "cluster": "compensation"}, lambda a: False),
    ]:
        found = await actions_seen(read_side, PROGRAMME, **variables)
        assert {n["actionId"] for n in found["nodes"]} == plan.action_ids(keep), variables
        assert found["totalCount"] == len(plan.action_ids(keep)), variables

    # Pages of two, soonest due first, without gaps or repeats.
    walked: list[str] = []
    after = None
    while True:
        found = await actions_seen(read_side, PROGRAMME, first=2, after=after)
        walked += [n["actionId"] for n in found["nodes"]]
        if not found["pageInfo"]["hasNextPage"]:
            break
        after = found["pageInfo"]["endCursor"]
    assert walked == [a.action_id for a in sorted(plan.actions, key=lambda a: a.due_on)]
    # A cursor that is not one the list gave (here: no date where the due date goes) is the caller's error.
    forged = base64.urlsafe_b64encode(json.dumps(["soon", "a", "b"]).encode()).decode()
    refused = await read_side.graphql(ACTIONS, PROGRAMME, {"today": str(TODAY), "after": forged})
    assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", refused
    # Remediations page by their report's date (a date in the cursor) and filter by status.
    walked = []
    after = None
    while True:
        page = (await read_side.graphql(REMEDIATIONS, PROGRAMME, {"first": 2, "after": after}))["data"]["remediations"]
        walked += [r["questionId"] for r in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(walked) == sorted(plan.status) and len(walked) == len(set(walked))
    open_in_kh = await read_side.graphql(REMEDIATIONS, PROGRAMME, {"status": ["OPEN", "REJECTED"], "country": "KH"})
    assert {r["questionId"] for r in open_in_kh["data"]["remediations"]["nodes"]} == {"CMW-1", "OEP-4", "COW-2"}

    # Nested under each factory, one query per level.
    nested = """query ($today: Date) { factories(first: 10) { nodes { factoryId
        improvementActions(today: $today, done: false, first: 10) { totalCount nodes { actionId overdue } }
        remediations(status: [OPEN, REJECTED]) { totalCount nodes { questionId status } } } } }"""
    factories = (await read_side.graphql(nested, PROGRAMME, {"today": str(TODAY)}))["data"]["factories"]["nodes"]
    for f in factories:
        mine = plan.action_ids(lambda a, f=f: a.factory_id == f["factoryId"] and not a.done)
        assert {n["actionId"] for n in f["improvementActions"]["nodes"]} == mine
        assert f["improvementActions"]["totalCount"] == len(mine)
        open_ones = {q for q, s in plan.status.items() if plan.factory_of[q] == f["factoryId"] and s != "verified"}
        open_ones -= {q for q, s in plan.status.items() if s == "remediated"}
        assert {r["questionId"] for r in f["remediations"]["nodes"]} == open_ones


EVERYTHING = """query ($today: Date) {
  improvementActions(today: $today) { totalCount nodes { id actionId who what dueOn done overdue
      progress { reportedAt done note } } }
  remediations(today: $today) { totalCount nodes { questionId status remediationNote verifiedBy rejectionReason
      improvementActions { actionId who progress { note } } } }
}"""


async def test_each_audience_reads_only_what_it_may(read_side: ReadSide) -> None:
    plan = await build(read_side)
    everyone = {
        "programme": (PROGRAMME, {plan.angkor, plan.bayon, plan.saigon}),
        "the factory itself": (bearer(Audience.FACTORY, plan.angkor), {plan.angkor}),
        "another factory": (bearer(Audience.FACTORY, plan.bayon), {plan.bayon}),
        "a linked consenting brand": (bearer(Audience.BRAND, plan.northwind), {plan.angkor, plan.saigon}),
        "a linked brand without consent": (bearer(Audience.BRAND, plan.lotus), set()),
        "an unlinked brand": (bearer(Audience.BRAND, plan.harbour), set()),
    }
    programme_ids = {
        n["actionId"]: n["id"] for n in (await actions_seen(read_side, PROGRAMME))["nodes"]
    }  # global ids, to ask for each action by id
    for caller, (headers, factories) in everyone.items():
        answer = await read_side.graphql(EVERYTHING, headers, {"today": str(TODAY)})
        assert "errors" not in answer, (caller, answer)
        data = answer["data"]
        expected = plan.action_ids(lambda a, fs=factories: a.factory_id in fs)
        assert {n["actionId"] for n in data["improvementActions"]["nodes"]} == expected, caller
        assert data["improvementActions"]["totalCount"] == len(expected), caller
        questions = {q for q, fid in plan.factory_of.items() if fid in factories}
        assert {r["questionId"] for r in data["remediations"]["nodes"]} == questions, caller
        text = json.dumps(data)
        if "brand" in caller:
            # What, when and whether done; no names, no free text but `what`.
            assert not any(name in text for name in NAMES), caller
            for n in data["improvementActions"]["nodes"]:
                assert n["who"] is None and all(p["note"] is None for p in n["progress"]), caller
                assert n["what"] and n["dueOn"]
            assert all(
                r["remediationNote"] is None and r["rejectionReason"] is None for r in data["remediations"]["nodes"]
            )
        elif caller != "programme":
            assert VERIFIER not in text, caller  # staff names: programme only
        if caller == "the factory itself":
            assert OWNER in text and PROGRESS_NOTE in text and REJECTION in text and REMEDIATION_NOTE in text
        # By global id: an action out of reach answers exactly like one that does not exist.
        for action in plan.actions:
            found = await read_side.graphql(
                "query ($id: ID!) { node(id: $id) { ... on ImprovementAction { actionId who } } }",
                headers,
                {"id": programme_ids[action.action_id]},
            )
            if action.factory_id in factories:
                assert found["data"]["node"]["actionId"] == action.action_id, caller
            else:
                assert found == {"data": {"node": None}}, (caller, action.factory_id)
        # And through the factory: the same reach.
        nested = await read_side.graphql(
            "query ($id: ID!) { factory(id: $id) { improvementActions { nodes { actionId who } } } }",
            headers,
            {"id": plan.angkor},
        )
        assert (nested["data"]["factory"] is not None) == (plan.angkor in factories), caller

    for country in ("KH", "VN"):
        government = bearer(Audience.GOVERNMENT, country)
        for query in (EVERYTHING, '{ improvementActions(country: "KH", overdue: true) { totalCount } }'):
            refused = await read_side.graphql(query, government, {"today": str(TODAY)})
            assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", refused
        by_id = await read_side.graphql(
            "query ($id: ID!) { node(id: $id) { id } }", government, {"id": next(iter(programme_ids.values()))}
        )
        assert by_id["data"] == {"node": None} and by_id["errors"][0]["extensions"]["code"] == "FORBIDDEN", by_id


async def test_redelivered_events_change_nothing(read_side: ReadSide) -> None:
    plan = await build(read_side)
    before = await read_side.graphql(EVERYTHING, PROGRAMME, {"today": str(TODAY)})
    for envelope in plan.envelopes:  # every event of the plans, in order, once more
        await read_side.send(envelope)
    # And as a rebuild that has lost its record of what it applied would replay them: the same
    # events of the same streams, not recognised by id. The projection's own guards must hold.
    for envelope in plan.envelopes:
        await read_side.send(dataclasses.replace(envelope, id=uuid.uuid4()))
    # Something new after them, so that once it shows, the redeliveries have been applied too.
    saigon_action = next(a for a in plan.actions if a.factory_id == plan.saigon)
    last = ae.ImprovementProgressReported(
        assessment_id=saigon_action.assessment_id,
        factory_id=plan.saigon,
        action_id=saigon_action.action_id,
        note="routes painted on lines 1 to 4",
    )
    await read_side.publish(last, stream=saigon_action.assessment_id)
    await read_side.until(
        f'{{ improvementActions(factoryId: "{plan.saigon}") {{ nodes {{ progress {{ done }} }} }} }}',
        PROGRAMME,
        lambda d: d["improvementActions"]["nodes"][0]["progress"],
        "the new progress report projected",
    )
    after = (await read_side.graphql(EVERYTHING, PROGRAMME, {"today": str(TODAY)}))["data"]
    for node in after["improvementActions"]["nodes"]:
        if node["actionId"] == saigon_action.action_id:
            node["progress"] = []
    for node in after["remediations"]["nodes"]:
        for action in node["improvementActions"]:
            if action["actionId"] == saigon_action.action_id:
                action["progress"] = []
    for listing in ("improvementActions", "remediations"):
        assert after[listing]["totalCount"] == before["data"][listing]["totalCount"]
        for new, old in zip(after[listing]["nodes"], before["data"][listing]["nodes"], strict=True):
            assert new == old
