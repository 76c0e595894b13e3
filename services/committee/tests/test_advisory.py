"""The rules of advisory services, without I/O: plans, visits, commitments and their follow-up.

Angkor Apparel, a Cambodian garment factory with 2,400 workers on the core package, is advised by
Pich Sopheap of Better Factories Cambodia through the cycle from April 2026 to March 2027.
"""

import dataclasses
import datetime as dt

import pytest
from assessment.tool import global_tool
from betterwork_events.contracts.advisory import (
    AdvisoryCommitmentFollowedUp,
    AdvisoryCommitmentMade,
    AdvisoryPlanAgreed,
    AdvisoryTopic,
    AdvisoryVisitHeld,
    Approval,
    Attendee,
    Cluster,
    CommitteeAttendee,
    FollowUpStatus,
    TopicWorked,
    UnionPresence,
    cluster_of,
)
from betterwork_events.contracts.committee import AgendaTopic, Candidate, Person, Sex, Side
from betterwork_events.contracts.factory_registry import ServicePackage
from betterwork_events.errors import IllegalStep, InvalidRequest, NotFound
from betterwork_events.factories import KnownFactory
from committee.advisory import (
    VISITS_INCLUDED,
    AdvisoryPlan,
    CommitmentStatus,
    FollowUp,
    NewCommitment,
    NewPriority,
    VisitRecord,
    VisitStatus,
    action_item_links,
    plan_id,
)
from committee.domain import Committee, NewActionItem, committee_id

ANGKOR = KnownFactory("KH-2026-0042-5", "Angkor Apparel Co., Ltd.", "KH", "enrolled", 2400, 1980, ServicePackage.CORE)
STARTS, ENDS = dt.date(2026, 4, 1), dt.date(2027, 3, 31)
AGREED = dt.date(2026, 4, 2)
FIRST_VISIT = dt.date(2026, 4, 20)
TODAY = dt.date(2026, 6, 15)
ADVISOR = "Pich Sopheap"
EXITS = NewPriority(
    AdvisoryTopic.FIRE_SAFETY, "Keep every emergency exit of the cutting floor clear", ("finding:KH-2026-0042-5-A1-F7",)
)
APPROVAL = Approval(
    approved_by="Country programme manager, Better Factories Cambodia",
    approved_on=AGREED,
    reason="two fire-safety findings need monthly follow-up",
)
HR_MANAGER = Attendee(name="Sok Dara", role="HR manager")


def run(plan: AdvisoryPlan, events: list) -> AdvisoryPlan:
    for event in events:
        plan.apply(event)
    return plan


def agreed(visits: int = 4, factory: KnownFactory = ANGKOR, **kwargs) -> AdvisoryPlan:
    events = AdvisoryPlan.agree(factory, 1, STARTS, ENDS, ADVISOR, visits, [EXITS], AGREED, None, **kwargs)
    return AdvisoryPlan.rebuild(plan_id(factory.id, 1), events)


def with_visit(plan: AdvisoryPlan, planned_for: dt.date = FIRST_VISIT, planned_on: dt.date = AGREED) -> str:
    [planned] = plan.plan_visit(ANGKOR, planned_on, planned_for, TODAY)
    run(plan, [planned])
    return planned.visit_id


def record(held_on: dt.date = FIRST_VISIT, **changes) -> VisitRecord:
    worked = (TopicWorked(topic=AdvisoryTopic.FIRE_SAFETY, priority_id="P-1", note="walked the cutting floor"),)
    base = VisitRecord(held_on, False, worked, "The east exit was blocked by fabric rolls.", management=[HR_MANAGER])
    return dataclasses.replace(base, **changes)


def held(plan: AdvisoryPlan, held_on: dt.date = FIRST_VISIT, **changes) -> str:
    visit_id = with_visit(plan, held_on)
    run(plan, plan.record_visit(visit_id, ANGKOR, record(held_on, **changes), [], TODAY))
    return visit_id


CLEAR_EXIT = NewCommitment("Move the fabric rolls away from the east exit", AdvisoryTopic.FIRE_SAFETY, FIRST_VISIT)


def committed(due_on: dt.date = dt.date(2026, 5, 1)) -> AdvisoryPlan:
    """A plan whose first visit (V-1) had the factory commit to clearing the exit (CM-1)."""
    plan = agreed()
    held(plan, commitments=[dataclasses.replace(CLEAR_EXIT, due_on=due_on, priority_id="P-1")])
    return plan


# --- the vocabulary -----------------------------------------------------------------------------


def test_the_topics_cover_every_cluster_of_the_assessment_tool_and_no_other() -> None:
    clusters = {cluster.id for cluster in global_tool().clusters}

    assert {c.value for c in Cluster} == clusters
    assert {cluster_of(topic).value for topic in AdvisoryTopic} == clusters


def test_every_service_package_says_how_many_advisory_visits_it_includes() -> None:
    assert set(VISITS_INCLUDED) == set(ServicePackage)
    assert VISITS_INCLUDED[ServicePackage.ASSESSMENT_ONLY] == 0


# --- plans --------------------------------------------------------------------------------------


def test_an_enrolled_factory_agrees_a_plan_for_its_cycle_with_the_visits_its_package_includes() -> None:
    [event] = AdvisoryPlan.agree(ANGKOR, 1, STARTS, ENDS, ADVISOR, 4, [EXITS], AGREED, None)

    assert isinstance(event, AdvisoryPlanAgreed)
    assert (event.plan_id, event.cycle, event.country) == ("KH-2026-0042-5-AP1", 1, "KH")
    assert (event.service_package, event.visits_included, event.visits_promised) == (ServicePackage.CORE, 4, 4)
    assert [(p.priority_id, p.topic, p.links) for p in event.priorities] == [
        ("P-1", AdvisoryTopic.FIRE_SAFETY, ("finding:KH-2026-0042-5-A1-F7",))
    ]
    plan = AdvisoryPlan.rebuild(event.plan_id, [event])
    assert (plan.advisor, plan.starts_on, plan.ends_on, plan.version) == (ADVISOR, STARTS, ENDS, 1)


def test_a_factory_that_is_not_enrolled_gets_no_plan() -> None:
    suspended = dataclasses.replace(ANGKOR, enrollment="suspended")
    with pytest.raises(IllegalStep, match="is suspended; advisory plans are made for enrolled factories"):
        agreed(factory=suspended)
    with pytest.raises(IllegalStep, match="which service package"):
        agreed(factory=dataclasses.replace(ANGKOR, service_package=None))


def test_a_plan_promises_more_visits_than_the_package_includes_only_with_the_programmes_approval() -> None:
    with pytest.raises(IllegalStep, match="the core package includes 4 advisory visits a cycle; promising 6 needs"):
        agreed(visits=6)

    plan = agreed(visits=6, approval=APPROVAL)

    assert (plan.visits_promised, plan.extra_visits_approval) == (6, APPROVAL)
    with pytest.raises(InvalidRequest, match="no approval is needed"):
        agreed(visits=3, approval=APPROVAL)
    with pytest.raises(InvalidRequest, match="approved_on: 2026-06-16 is in the future"):
        agreed(visits=6, approval=APPROVAL.model_copy(update={"approved_on": dt.date(2026, 6, 16)}))


def test_an_assessment_only_factory_is_advised_only_with_the_programmes_approval() -> None:
    assessment_only = dataclasses.replace(ANGKOR, service_package=ServicePackage.ASSESSMENT_ONLY)
    with pytest.raises(IllegalStep, match="the assessment-only package includes 0 advisory visits"):
        agreed(visits=1, factory=assessment_only)

    assert agreed(visits=1, factory=assessment_only, approval=APPROVAL).visits_included == 0


def test_a_factorys_cycles_follow_one_another() -> None:
    first = agreed()
    with pytest.raises(IllegalStep, match="the cycle of KH-2026-0042-5-AP1 runs until 2027-03-31"):
        AdvisoryPlan.agree(ANGKOR, 2, dt.date(2027, 3, 1), dt.date(2028, 2, 28), ADVISOR, 4, [], TODAY, first)
    with pytest.raises(InvalidRequest, match="ends_on: the cycle must end after it starts"):
        AdvisoryPlan.agree(ANGKOR, 1, STARTS, STARTS, ADVISOR, 4, [], TODAY, None)

    [second] = AdvisoryPlan.agree(ANGKOR, 2, dt.date(2027, 4, 1), dt.date(2028, 3, 31), ADVISOR, 4, [], TODAY, first)

    assert second.plan_id == "KH-2026-0042-5-AP2"


def test_a_priority_links_only_to_action_items_the_factorys_committee_raised() -> None:
    committee = Committee.rebuild(
        committee_id(ANGKOR.id, 1), Committee.establish(committee_id(ANGKOR.id, 1), ANGKOR, STARTS, STARTS, None)
    )
    dara = Person(employee_number="AA-00007", name="Sok Dara", sex=Sex.FEMALE, job_title="HR manager")
    run(committee, committee.appoint(dara, STARTS, None))
    exits = AgendaTopic(title="Blocked emergency exit on the cutting floor")
    run(committee, committee.record_meeting(AGREED, ["M-1"], [exits], "The east exit is blocked.", AGREED))
    run(committee, committee.raise_action_item("MT-1", NewActionItem("Clear the exit", "M-1", TODAY)))
    links = action_item_links([committee])
    assert links == {"action-item:KH-2026-0042-5-C1/AI-1"}
    dialogue = NewPriority(AdvisoryTopic.SOCIAL_DIALOGUE, "The committee follows up its own items", ())

    plan = agreed()
    [added] = plan.agree_priority(dataclasses.replace(dialogue, links=("action-item:KH-2026-0042-5-C1/AI-1",)), links)

    assert added.priority.priority_id == "P-2"
    with pytest.raises(IllegalStep, match="action-item:KH-2026-0042-5-C1/AI-9 is not an action item"):
        plan.agree_priority(dataclasses.replace(dialogue, links=("action-item:KH-2026-0042-5-C1/AI-9",)), links)
    with pytest.raises(IllegalStep, match=r"priorities\[0\].links: action-item:KH-2026-0099-1-C1/AI-1 is not"):
        AdvisoryPlan.agree(
            ANGKOR,
            1,
            STARTS,
            ENDS,
            ADVISOR,
            4,
            [dataclasses.replace(dialogue, links=("action-item:KH-2026-0099-1-C1/AI-1",))],
            TODAY,
            None,
            links,
        )


def test_another_advisor_takes_the_plan_over() -> None:
    plan = agreed()
    run(plan, plan.assign_advisor("Heng Vanna", TODAY, "Pich Sopheap moved to the Siem Reap team", TODAY))

    assert plan.advisor == "Heng Vanna"
    with pytest.raises(IllegalStep, match="Heng Vanna is already the plan's advisor"):
        plan.assign_advisor("Heng Vanna", TODAY, "again", TODAY)


# --- visits -------------------------------------------------------------------------------------


def test_a_plan_never_has_more_visits_planned_or_held_than_it_promises() -> None:
    plan = agreed(visits=2)
    first, second = with_visit(plan), with_visit(plan, dt.date(2026, 6, 20))
    assert (first, second) == ("V-1", "V-2")
    with pytest.raises(IllegalStep, match="the plan promises 2 visits and 2 are planned or held; revise the plan"):
        plan.plan_visit(ANGKOR, AGREED, dt.date(2026, 8, 20), TODAY)

    run(plan, plan.cancel_visit(second, TODAY, "the factory closed for the Pchum Ben holiday", TODAY))

    assert with_visit(plan, dt.date(2026, 8, 20)) == "V-3"  # a cancelled visit frees its place
    with pytest.raises(IllegalStep, match="2 visits are planned or held already; the plan cannot promise fewer"):
        plan.revise_visits(1, "budget", TODAY)
    with pytest.raises(IllegalStep, match="promising 5 needs the programme's approval"):
        plan.revise_visits(5, "more help on fire safety", TODAY)
    run(plan, plan.revise_visits(5, "more help on fire safety", TODAY, APPROVAL))
    assert plan.visits_promised == 5


def test_a_visit_falls_within_the_cycle_and_is_not_planned_for_a_day_gone_by() -> None:
    plan = agreed()
    with pytest.raises(IllegalStep, match="must fall within the plan's cycle, 2026-04-01 to 2027-03-31"):
        plan.plan_visit(ANGKOR, AGREED, dt.date(2027, 4, 2), TODAY)
    with pytest.raises(InvalidRequest, match="planned_for: a visit cannot be planned for a day"):
        plan.plan_visit(ANGKOR, TODAY, dt.date(2026, 6, 1), TODAY)
    with pytest.raises(InvalidRequest, match="planned_on: 2026-06-16 is in the future"):
        plan.plan_visit(ANGKOR, dt.date(2026, 6, 16), dt.date(2026, 6, 20), TODAY)


def test_a_visit_cannot_be_held_before_it_is_planned() -> None:
    plan = agreed()
    with pytest.raises(NotFound, match="has no visit V-1"):
        plan.record_visit("V-1", ANGKOR, record(), [], TODAY)
    visit_id = with_visit(plan, planned_on=dt.date(2026, 4, 10), planned_for=dt.date(2026, 4, 20))

    with pytest.raises(IllegalStep, match="was planned on 2026-04-10; it cannot be held before \\(2026-04-09\\)"):
        plan.record_visit(visit_id, ANGKOR, record(dt.date(2026, 4, 9)), [], TODAY)
    with pytest.raises(InvalidRequest, match="held_on: 2026-06-16 is in the future"):
        plan.record_visit(visit_id, ANGKOR, record(dt.date(2026, 6, 16)), [], TODAY)

    run(plan, plan.record_visit(visit_id, ANGKOR, record(dt.date(2026, 4, 22)), [], TODAY))  # two days late: fine
    visit = plan.visits[visit_id]
    assert visit.status is VisitStatus.HELD and visit.record is not None and visit.record.advisor == ADVISOR
    with pytest.raises(IllegalStep, match="visit V-1 was held on 2026-04-22"):
        plan.record_visit(visit_id, ANGKOR, record(), [], TODAY)


def test_a_visit_is_neither_planned_nor_held_for_a_factory_that_is_not_enrolled() -> None:
    plan = agreed()
    visit_id = with_visit(plan)
    withdrawn = dataclasses.replace(ANGKOR, enrollment="withdrawn")

    with pytest.raises(IllegalStep, match="is withdrawn; advisory visits are held for enrolled factories"):
        plan.record_visit(visit_id, withdrawn, record(), [], TODAY)
    with pytest.raises(IllegalStep, match="is withdrawn; advisory visits are planned for enrolled factories"):
        plan.plan_visit(withdrawn, AGREED, FIRST_VISIT, TODAY)


def test_a_visits_record_says_who_took_part_committee_members_by_side_and_sex() -> None:
    cid = committee_id(ANGKOR.id, 1)
    committee = Committee.rebuild(cid, Committee.establish(cid, ANGKOR, STARTS, STARTS, None))
    sreymom = Person(employee_number="AA-01873", name="Chan Sreymom", sex=Sex.FEMALE)
    dara = Person(employee_number="AA-00007", name="Sok Dara", sex=Sex.FEMALE, job_title="HR manager")
    run(
        committee,
        committee.record_election(STARTS, 1, [Candidate(person=sreymom, votes=120)], dt.date(2028, 3, 31), STARTS),
    )
    run(committee, committee.appoint(dara, STARTS, None))
    union = UnionPresence(
        union="Cambodian Alliance of Trade Unions", representatives=(Attendee(name="Meas Sokly", role="shop steward"),)
    )
    plan = agreed()
    visit_id = with_visit(plan)

    [visit] = plan.record_visit(
        visit_id,
        ANGKOR,
        record(remote=True, committee_members=["M-1", "M-2"], union=union, advisor="Heng Vanna"),
        [committee],
        TODAY,
    )

    assert isinstance(visit, AdvisoryVisitHeld)
    assert visit.participants.committee_members == (
        CommitteeAttendee(committee_id=cid, member_id="M-1", side=Side.WORKERS, sex=Sex.FEMALE),
        CommitteeAttendee(committee_id=cid, member_id="M-2", side=Side.MANAGEMENT, sex=Sex.FEMALE),
    )
    assert visit.participants.management == (HR_MANAGER,) and visit.participants.union == union
    assert (visit.remote, visit.advisor) == (True, "Heng Vanna")
    with pytest.raises(IllegalStep, match="M-7 is not a member of committee KH-2026-0042-5-C1"):
        plan.record_visit(visit_id, ANGKOR, record(committee_members=["M-7"]), [committee], TODAY)
    with pytest.raises(IllegalStep, match="the factory had no committee on 2026-04-20"):
        plan.record_visit(visit_id, ANGKOR, record(committee_members=["M-1"]), [], TODAY)
    with pytest.raises(InvalidRequest, match="committee_members: a member is listed more than once"):
        plan.record_visit(visit_id, ANGKOR, record(committee_members=["M-1", "M-1"]), [committee], TODAY)
    with pytest.raises(IllegalStep, match=r"topics\[0\].priority_id: the plan has no priority P-4"):
        plan.record_visit(
            visit_id, ANGKOR, record(topics=[TopicWorked(topic=AdvisoryTopic.WAGES, priority_id="P-4")]), [], TODAY
        )


def test_a_cancelled_or_missed_visit_keeps_its_reason_and_is_never_held() -> None:
    plan = agreed()
    cancelled, missed = with_visit(plan), with_visit(plan, dt.date(2026, 5, 20))
    run(plan, plan.cancel_visit(cancelled, dt.date(2026, 4, 15), "the factory's power was cut for a week", TODAY))
    run(
        plan,
        plan.record_missed_visit(missed, dt.date(2026, 5, 20), "the factory gate was closed to the advisor", TODAY),
    )

    assert plan.visits[cancelled].status is VisitStatus.CANCELLED
    assert (plan.visits[missed].status, plan.visits[missed].called_off_reason) == (
        VisitStatus.MISSED,
        "the factory gate was closed to the advisor",
    )
    with pytest.raises(IllegalStep, match=r"visit V-2 was missed on 2026-05-20 .*; it cannot be recorded as held"):
        plan.record_visit(missed, ANGKOR, record(dt.date(2026, 5, 21)), [], TODAY)
    with pytest.raises(IllegalStep, match="was cancelled on 2026-04-15"):
        plan.record_missed_visit(cancelled, TODAY, "x", TODAY)
    later = with_visit(plan, dt.date(2026, 6, 20), planned_on=TODAY)
    with pytest.raises(IllegalStep, match="was only planned on 2026-06-15, after 2026-06-01"):
        plan.cancel_visit(later, dt.date(2026, 6, 1), "x", TODAY)


# --- commitments --------------------------------------------------------------------------------


def test_at_a_visit_the_factory_commits_to_things_due_after_it() -> None:
    plan = committed()

    commitment = plan.commitments["CM-1"]
    assert (commitment.visit_id, commitment.due_on, commitment.status) == ("V-1", dt.date(2026, 5, 1), "open")
    visit_id = with_visit(plan, dt.date(2026, 5, 20))
    with pytest.raises(InvalidRequest, match=r"commitments\[0\].due_on: a commitment falls due after its visit"):
        plan.record_visit(visit_id, ANGKOR, record(dt.date(2026, 5, 20), commitments=[CLEAR_EXIT]), [], TODAY)


def test_a_commitment_cannot_be_closed_without_a_note() -> None:
    plan = committed()
    visit_id = with_visit(plan, dt.date(2026, 5, 20))

    for status in (FollowUpStatus.DONE, FollowUpStatus.DROPPED):
        for note in (None, "  "):
            with pytest.raises(InvalidRequest, match=f"CM-1 cannot be closed \\({status}\\) without a note"):
                plan.record_visit(
                    visit_id,
                    ANGKOR,
                    record(dt.date(2026, 5, 20), follow_ups=[FollowUp("CM-1", status, note)]),
                    [],
                    TODAY,
                )

    done = FollowUp("CM-1", FollowUpStatus.DONE, "exit clear, floor marked in yellow")
    events = plan.record_visit(visit_id, ANGKOR, record(dt.date(2026, 5, 20), follow_ups=[done]), [], TODAY)
    run(plan, events)

    assert isinstance(events[1], AdvisoryCommitmentFollowedUp) and events[1].visit_id == visit_id
    assert plan.commitments["CM-1"].status is CommitmentStatus.DONE
    third = with_visit(plan, dt.date(2026, 6, 10))
    with pytest.raises(IllegalStep, match="commitment CM-1 is done already"):
        plan.record_visit(third, ANGKOR, record(dt.date(2026, 6, 10), follow_ups=[done]), [], TODAY)


def test_a_commitment_is_late_only_once_past_due_and_may_get_a_new_date() -> None:
    plan = committed(due_on=dt.date(2026, 5, 20))
    visit_id = with_visit(plan, dt.date(2026, 5, 20))
    late = FollowUp("CM-1", FollowUpStatus.LATE, "rolls still there", dt.date(2026, 6, 5))
    with pytest.raises(IllegalStep, match="CM-1 is due on 2026-05-20, so it is not late at a visit on 2026-05-20"):
        plan.record_visit(visit_id, ANGKOR, record(dt.date(2026, 5, 20), follow_ups=[late]), [], TODAY)

    run(plan, plan.record_visit(visit_id, ANGKOR, record(dt.date(2026, 5, 21), follow_ups=[late]), [], TODAY))

    commitment = plan.commitments["CM-1"]
    assert (commitment.status, commitment.due_on) == (CommitmentStatus.LATE, dt.date(2026, 6, 5))
    third = with_visit(plan, dt.date(2026, 6, 10))
    dropped = FollowUp("CM-1", FollowUpStatus.DROPPED, "the cutting floor moved to the new building")
    twice = record(dt.date(2026, 6, 10), follow_ups=[dropped, dropped])
    with pytest.raises(InvalidRequest, match="follow_ups: CM-1 is followed up more than once"):
        plan.record_visit(third, ANGKOR, twice, [], TODAY)
    with pytest.raises(IllegalStep, match="the plan has no commitment CM-5"):
        plan.record_visit(third, ANGKOR, record(follow_ups=[FollowUp("CM-5", FollowUpStatus.DONE, "x")]), [], TODAY)
    with pytest.raises(InvalidRequest, match="only a late commitment gets a new due date"):
        plan.record_visit(
            third, ANGKOR, record(follow_ups=[dataclasses.replace(dropped, due_on=dt.date(2026, 7, 1))]), [], TODAY
        )

    events = plan.record_visit(
        third,
        ANGKOR,
        record(dt.date(2026, 6, 10), follow_ups=[dropped], commitments=[dataclasses.replace(CLEAR_EXIT, due_on=ENDS)]),
        [],
        TODAY,
    )

    assert [type(e) for e in events] == [AdvisoryVisitHeld, AdvisoryCommitmentFollowedUp, AdvisoryCommitmentMade]
    assert isinstance(events[2], AdvisoryCommitmentMade) and events[2].commitment_id == "CM-2"


# --- the factory's voice ------------------------------------------------------------------------


def test_the_factory_confirms_a_visits_record_once_and_comments_on_any_record() -> None:
    plan = agreed()
    visit_id = held(plan)
    planned = with_visit(plan, dt.date(2026, 7, 1), planned_on=TODAY)

    run(plan, plan.confirm_visit_record(visit_id, "agreed; the rolls go to the new store", TODAY))
    run(plan, plan.comment_on_visit_record(visit_id, "the new store is ready", TODAY))

    visit = plan.visits[visit_id]
    assert visit.confirmation is not None and visit.confirmation.on == TODAY
    assert [c.comment for c in visit.comments] == ["the new store is ready"]
    with pytest.raises(IllegalStep, match="the factory confirmed the record of visit V-1 on 2026-06-15"):
        plan.confirm_visit_record(visit_id, None, TODAY)
    with pytest.raises(IllegalStep, match="visit V-2 is planned; only the record of a visit held is confirmed"):
        plan.confirm_visit_record(planned, None, TODAY)
    with pytest.raises(IllegalStep, match="visit V-2 is still planned: it has no record to comment on yet"):
        plan.comment_on_visit_record(planned, "when?", TODAY)
    run(plan, plan.cancel_visit(planned, TODAY, "the advisor was ill", TODAY))
    assert plan.comment_on_visit_record(planned, "we were ready that day", TODAY)
