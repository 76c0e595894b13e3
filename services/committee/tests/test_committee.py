"""The committee's rules, without I/O: establishment, elections, members, meetings, action items, health.

The committee is Angkor Apparel's, a Cambodian garment factory with 2,400 workers, 1,980 of them women.
"""

import dataclasses
import datetime as dt

import pytest
from betterwork_events.contracts.committee import (
    ActionItemClosed,
    ActionItemStatus,
    AgendaTopic,
    Candidate,
    CommitteeEstablished,
    ElectionRecorded,
    MeetingRecorded,
    MemberLeft,
    MemberReplaced,
    Office,
    Person,
    Sex,
    Side,
)
from betterwork_events.countries import COUNTRY_PROGRAMMES
from betterwork_events.errors import IllegalStep, InvalidRequest, NotFound
from betterwork_events.factories import KnownFactory
from committee.domain import (
    Committee,
    ElectionTied,
    HealthPolicy,
    HealthStatus,
    NewActionItem,
    Workforce,
    committee_id,
    elect,
    health_checks,
)
from pydantic import ValidationError

ANGKOR = KnownFactory("KH-2026-0042-5", "Angkor Apparel Co., Ltd.", "KH", "enrolled", 2400, 1980)
WORKFORCE = Workforce(total=2400, women=1980)
ESTABLISHED = dt.date(2026, 3, 2)
ELECTION_DAY = dt.date(2026, 3, 16)
TERM_ENDS = dt.date(2028, 3, 15)
TODAY = dt.date(2026, 6, 15)


def worker(number: str, name: str, sex: Sex, job: str = "sewing operator") -> Person:
    return Person(employee_number=number, name=name, sex=sex, job_title=job)


SREYMOM = worker("AA-01873", "Chan Sreymom", Sex.FEMALE, "sewing operator, line 14")
SOPHEA = worker("AA-00412", "Keo Sophea", Sex.FEMALE, "quality inspector")
BOPHA = worker("AA-02291", "Lim Bopha", Sex.FEMALE, "cutter")
RITHY = worker("AA-00977", "Heng Rithy", Sex.MALE, "mechanic")
SREYPOV = worker("AA-03310", "Srey Pov", Sex.FEMALE, "packer")
VANNA = worker("AA-01544", "Chea Vanna", Sex.MALE, "ironing")
DARA = worker("AA-00007", "Sok Dara", Sex.FEMALE, "HR manager")
KANHA = worker("AA-00019", "Nhem Kanha", Sex.FEMALE, "compliance officer")
TAN_WEI = worker("AA-00003", "Tan Wei", Sex.MALE, "production manager")

BALLOT = [
    Candidate(person=SREYMOM, votes=412),
    Candidate(person=SOPHEA, votes=388),
    Candidate(person=BOPHA, votes=301),
    Candidate(person=RITHY, votes=287),
    Candidate(person=SREYPOV, votes=150),
    Candidate(person=VANNA, votes=96),
]
EXIT_TOPIC = AgendaTopic(
    title="Blocked emergency exit on the cutting floor",
    references=("finding:KH-2026-0042-5-A1-F7", "compliance-point:OSH-emergency-exits"),
)


def run(committee: Committee, events: list) -> Committee:
    for event in events:
        committee.apply(event)
    return committee


def established() -> Committee:
    new_id = committee_id(ANGKOR.id, 1)
    return Committee.rebuild(new_id, Committee.establish(new_id, ANGKOR, ESTABLISHED, ESTABLISHED, None))


def elected() -> Committee:
    """Four worker representatives elected from six candidates."""
    c = established()
    return run(c, c.record_election(ELECTION_DAY, 4, BALLOT, TERM_ENDS, ELECTION_DAY))


def full() -> Committee:
    """Elected workers (M-1..M-4) and three management appointees (M-5 Sok Dara, M-6 Nhem Kanha, M-7 Tan Wei)."""
    c = elected()
    for person in (DARA, KANHA, TAN_WEI):
        run(c, c.appoint(person, ELECTION_DAY, None))
    return c


def met(c: Committee, held_on: dt.date, attendees: tuple[str, ...] = ("M-1", "M-2", "M-5")) -> Committee:
    return run(c, c.record_meeting(held_on, attendees, [EXIT_TOPIC], "Exit to be cleared.", held_on))


def by_name(checks: list) -> dict:
    return {check.name: check for check in checks}


# --- establishing -------------------------------------------------------------------------------


def test_an_enrolled_factory_gets_a_committee_numbered_after_it() -> None:
    events = Committee.establish("KH-2026-0042-5-C1", ANGKOR, ESTABLISHED, ESTABLISHED, None)

    assert events == [
        CommitteeEstablished(
            committee_id="KH-2026-0042-5-C1", factory_id=ANGKOR.id, country="KH", established_on=ESTABLISHED
        )
    ]
    assert committee_id(ANGKOR.id, 2) == "KH-2026-0042-5-C2"


def test_only_enrolled_factories_in_a_programme_that_runs_committees_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    applicant = dataclasses.replace(ANGKOR, enrollment="applied")
    with pytest.raises(IllegalStep, match="is applied; committees are set up in enrolled factories"):
        Committee.establish("X-C1", applicant, ESTABLISHED, ESTABLISHED, None)
    with pytest.raises(IllegalStep, match="no country programme in FR"):
        Committee.establish("X-C1", dataclasses.replace(ANGKOR, country="FR"), ESTABLISHED, ESTABLISHED, None)

    monkeypatch.setitem(COUNTRY_PROGRAMMES, "KH", dataclasses.replace(COUNTRY_PROGRAMMES["KH"], runs_committees=False))
    with pytest.raises(IllegalStep, match="Better Factories Cambodia does not run worker-management committees"):
        Committee.establish("X-C1", ANGKOR, ESTABLISHED, ESTABLISHED, None)


def test_a_factory_has_one_active_committee_at_a_time() -> None:
    first = established()
    with pytest.raises(IllegalStep, match="already has a committee, KH-2026-0042-5-C1"):
        Committee.establish("KH-2026-0042-5-C2", ANGKOR, TODAY, TODAY, first)

    run(first, first.dissolve(dt.date(2026, 5, 31), "members resigned after a restructuring", TODAY))
    with pytest.raises(IllegalStep, match="before KH-2026-0042-5-C1 was dissolved"):
        Committee.establish("KH-2026-0042-5-C2", ANGKOR, dt.date(2026, 5, 1), TODAY, first)
    assert Committee.establish("KH-2026-0042-5-C2", ANGKOR, TODAY, TODAY, first)


def test_establishing_in_the_future_is_bad_input() -> None:
    with pytest.raises(InvalidRequest, match="established_on: 2026-07-01 is in the future"):
        Committee.establish("X-C1", ANGKOR, dt.date(2026, 7, 1), TODAY, None)


# --- elections ----------------------------------------------------------------------------------


def test_the_candidates_with_most_votes_win_the_seats() -> None:
    c = established()
    [election] = c.record_election(ELECTION_DAY, 4, BALLOT, TERM_ENDS, ELECTION_DAY)

    assert isinstance(election, ElectionRecorded)
    assert [seat.person for seat in election.elected] == [SREYMOM, SOPHEA, BOPHA, RITHY]
    assert [seat.member_id for seat in election.elected] == ["M-1", "M-2", "M-3", "M-4"]
    assert {(seat.side, seat.term_starts_on, seat.term_ends_on, seat.election_id) for seat in election.elected} == {
        (Side.WORKERS, ELECTION_DAY, TERM_ENDS, "E-1")
    }
    assert election.candidates == tuple(BALLOT)  # every candidate's votes are kept, not only the winners'


def test_a_candidate_without_votes_is_never_elected() -> None:
    ballot = [Candidate(person=SREYMOM, votes=40), Candidate(person=SOPHEA, votes=0)]

    assert [c.person for c in elect(ballot, 3)] == [SREYMOM]


def test_a_tie_for_the_last_seat_needs_a_run_off() -> None:
    ballot = [*BALLOT[:3], Candidate(person=RITHY, votes=150), Candidate(person=SREYPOV, votes=150)]

    with pytest.raises(ElectionTied, match=r"Heng Rithy .* Srey Pov .* tied with 150 votes for the last seat") as tied:
        elect(ballot, 4)
    assert tied.value.tied == (RITHY.employee_number, SREYPOV.employee_number)
    with pytest.raises(ElectionTied):
        elect(ballot, 4, tie_break=[SREYPOV.employee_number])  # the run-off must order every tied candidate

    winners = elect(ballot, 4, tie_break=[SREYPOV.employee_number, RITHY.employee_number])

    assert winners[-1].person == SREYPOV and RITHY not in [w.person for w in winners]


def test_a_tie_above_the_last_seat_decides_nothing_and_needs_no_run_off() -> None:
    ballot = [Candidate(person=SREYMOM, votes=300), Candidate(person=SOPHEA, votes=300), BALLOT[5]]

    assert {c.person for c in elect(ballot, 2)} == {SREYMOM, SOPHEA}


def test_an_election_refuses_bad_dates_and_candidates_standing_twice() -> None:
    c = established()
    with pytest.raises(InvalidRequest, match="term_ends_on"):
        c.record_election(ELECTION_DAY, 4, BALLOT, ELECTION_DAY, ELECTION_DAY)
    with pytest.raises(InvalidRequest, match="held_on: 2026-03-16 is in the future"):
        c.record_election(ELECTION_DAY, 4, BALLOT, TERM_ENDS, ESTABLISHED)
    with pytest.raises(IllegalStep, match="cannot be before the committee was established"):
        c.record_election(dt.date(2026, 2, 1), 4, BALLOT, TERM_ENDS, TODAY)
    with pytest.raises(InvalidRequest, match="AA-01873 stands more than once"):
        c.record_election(ELECTION_DAY, 4, [*BALLOT, BALLOT[0]], TERM_ENDS, ELECTION_DAY)
    with pytest.raises(InvalidRequest, match="tie_break: AA-99999 did not stand"):
        c.record_election(ELECTION_DAY, 4, BALLOT, TERM_ENDS, ELECTION_DAY, tie_break=["AA-99999"])


def test_a_management_representative_cannot_stand_for_the_workers() -> None:
    c = full()
    ballot = [Candidate(person=DARA, votes=3), *BALLOT]

    with pytest.raises(
        IllegalStep, match=r"Sok Dara .* sits on the committee as management representative .* two roles"
    ):
        c.record_election(TODAY, 4, ballot, dt.date(2028, 6, 14), TODAY)


def test_re_elected_representatives_start_a_new_term() -> None:
    c = full()
    next_day = dt.date(2028, 3, 10)
    ballot = [Candidate(person=SREYMOM, votes=500), Candidate(person=SREYPOV, votes=420), BALLOT[5]]

    events = c.record_election(next_day, 2, ballot, dt.date(2030, 3, 9), next_day)
    run(c, events)

    assert [type(e) for e in events] == [MemberLeft, ElectionRecorded]
    assert events[0].member_id == "M-1" and "re-elected in E-2" in events[0].reason
    sitting = {m.person.name: m for m in c.members_on(dt.date(2028, 3, 11)) if m.side is Side.WORKERS}
    assert sorted(sitting) == ["Chan Sreymom", "Heng Rithy", "Keo Sophea", "Lim Bopha", "Srey Pov"]
    assert sitting["Chan Sreymom"].member_id == "M-8" and sitting["Chan Sreymom"].term_ends_on == dt.date(2030, 3, 9)


# --- members ------------------------------------------------------------------------------------


def test_management_appoints_its_representatives_with_sex_role_and_term() -> None:
    c = elected()
    run(c, c.appoint(DARA, ELECTION_DAY, None, Office.SECRETARY))

    dara = c.members["M-5"]
    assert (dara.side, dara.office, dara.person.sex, dara.term_ends_on) == (
        Side.MANAGEMENT,
        Office.SECRETARY,
        Sex.FEMALE,
        None,
    )
    assert dara.role == "management representative and secretary"


def test_a_person_cannot_hold_two_roles() -> None:
    c = full()
    with pytest.raises(
        IllegalStep, match=r"Chan Sreymom .* already sits on the committee as worker representative .* two roles"
    ):
        c.appoint(SREYMOM, TODAY, None)
    with pytest.raises(IllegalStep, match=r"Sok Dara .* already sits"):
        c.appoint(DARA, TODAY, None)


def test_someone_who_left_may_be_appointed_again() -> None:
    c = full()
    run(c, c.record_departure("M-5", dt.date(2026, 4, 30), "moved to the group's head office", TODAY))

    assert c.appoint(DARA, dt.date(2026, 6, 1), None)


def test_a_term_cannot_end_before_it_starts() -> None:
    with pytest.raises(InvalidRequest, match="term_ends_on"):
        elected().appoint(DARA, TODAY, dt.date(2026, 1, 1))


def test_one_holder_per_office() -> None:
    c = full()
    run(c, c.assign_office("M-1", Office.CHAIR, TODAY))

    with pytest.raises(IllegalStep, match="Chan Sreymom \\(M-1\\) is already the chair"):
        c.assign_office("M-7", Office.CHAIR, TODAY)
    with pytest.raises(IllegalStep, match="already chair"):
        c.assign_office("M-1", Office.CHAIR, TODAY)
    run(c, c.record_departure("M-1", TODAY, "left the factory", TODAY))
    assert c.assign_office("M-7", Office.CHAIR, TODAY)


def test_a_member_leaves_once_and_within_their_term() -> None:
    c = full()
    run(c, c.record_departure("M-3", dt.date(2026, 5, 4), "resigned from the factory", TODAY))

    assert "M-3" not in {m.member_id for m in c.members_on(dt.date(2026, 5, 4))}
    assert "M-3" in {m.member_id for m in c.members_on(dt.date(2026, 5, 3))}
    with pytest.raises(IllegalStep, match="left the committee on 2026-05-04"):
        c.record_departure("M-3", TODAY, "again", TODAY)
    with pytest.raises(NotFound, match="no member M-99"):
        c.record_departure("M-99", TODAY, "who?", TODAY)
    with pytest.raises(InvalidRequest, match="left_on"):
        c.record_departure("M-4", dt.date(2026, 7, 1), "not yet", TODAY)


def test_a_worker_representative_is_replaced_by_the_next_runner_up() -> None:
    c = full()
    events = c.replace("M-2", dt.date(2026, 5, 4), "resigned from the factory", None, TODAY)
    run(c, events)

    [replaced] = events
    assert isinstance(replaced, MemberReplaced)
    assert replaced.replacement.person == SREYPOV  # 150 votes, the best runner-up
    assert replaced.replacement.term_ends_on == TERM_ENDS and replaced.replacement.election_id == "E-1"
    assert c.members["M-2"].left_on == dt.date(2026, 5, 4)

    with pytest.raises(IllegalStep, match=r"the seat goes to the next runner-up, Chea Vanna .*, not to Srey Pov"):
        c.replace("M-3", TODAY, "resigned", SREYPOV, TODAY)
    run(c, c.replace("M-3", TODAY, "resigned", None, TODAY))  # Chea Vanna, the last runner-up
    with pytest.raises(IllegalStep, match=r"no runner-up .* is left .* hold a by-election"):
        c.replace("M-4", TODAY, "resigned", None, TODAY)


def test_a_management_replacement_must_be_named() -> None:
    c = full()
    with pytest.raises(InvalidRequest, match="replacement"):
        c.replace("M-7", TODAY, "left the factory", None, TODAY)

    [replaced] = c.replace("M-7", TODAY, "left the factory", worker("AA-00031", "Ouk Samnang", Sex.MALE), TODAY)

    assert isinstance(replaced, MemberReplaced) and replaced.replacement.side is Side.MANAGEMENT


# --- meetings and action items --------------------------------------------------------------------


def test_a_meeting_records_attendance_agenda_minutes_decisions_and_action_items() -> None:
    c = full()
    held_on = dt.date(2026, 4, 8)
    item = NewActionItem("Clear the exit and mark the floor", "M-6", dt.date(2026, 4, 15), EXIT_TOPIC.references)

    events = c.record_meeting(
        held_on,
        ["M-1", "M-2", "M-3", "M-5", "M-6"],
        [EXIT_TOPIC, AgendaTopic(title="Canteen water supply")],
        "The committee walked the cutting floor; the east exit was blocked by fabric rolls.",
        TODAY,
        decisions=["Fabric rolls are stored away from every exit"],
        guests=["Pich Sopheap (Better Factories Cambodia advisor)"],
        action_items=[item],
    )
    run(c, events)

    meeting = events[0]
    assert isinstance(meeting, MeetingRecorded) and meeting.meeting_id == "MT-1"
    assert meeting.agenda[0].references == ("finding:KH-2026-0042-5-A1-F7", "compliance-point:OSH-emergency-exits")
    assert c.action_items["AI-1"].owner == "M-6" and c.action_items["AI-1"].status is ActionItemStatus.OPEN


def test_only_members_on_the_day_attend() -> None:
    c = full()
    run(c, c.record_departure("M-4", dt.date(2026, 4, 1), "resigned", TODAY))
    minutes = "Minutes."

    with pytest.raises(IllegalStep, match="M-42 is not a member of committee"):
        c.record_meeting(TODAY, ["M-1", "M-42"], [EXIT_TOPIC], minutes, TODAY)
    with pytest.raises(IllegalStep, match="Heng Rithy \\(M-4\\) is not a member on 2026-06-15"):
        c.record_meeting(TODAY, ["M-1", "M-4"], [EXIT_TOPIC], minutes, TODAY)
    with pytest.raises(IllegalStep, match="not a member on 2026-03-10"):
        c.record_meeting(dt.date(2026, 3, 10), ["M-1"], [EXIT_TOPIC], minutes, TODAY)  # before the election
    with pytest.raises(InvalidRequest, match="attendees"):
        c.record_meeting(TODAY, ["M-1", "M-1"], [EXIT_TOPIC], minutes, TODAY)
    with pytest.raises(InvalidRequest, match="held_on: 2026-06-16 is in the future"):
        c.record_meeting(dt.date(2026, 6, 16), ["M-1"], [EXIT_TOPIC], minutes, TODAY)


def test_an_action_item_is_owned_by_a_member_and_due_after_its_meeting() -> None:
    c = full()
    with pytest.raises(IllegalStep, match=r"M-42 is not a member .* own an action item"):
        c.record_meeting(TODAY, ["M-1"], [EXIT_TOPIC], "m", TODAY, action_items=[NewActionItem("x", "M-42", TODAY)])
    with pytest.raises(InvalidRequest, match=r"action_items\[0\]\.due_on"):
        c.record_meeting(
            TODAY, ["M-1"], [EXIT_TOPIC], "m", TODAY, action_items=[NewActionItem("x", "M-1", dt.date(2026, 6, 1))]
        )


def test_an_action_item_goes_open_in_progress_done() -> None:
    c = met(full(), dt.date(2026, 6, 1))
    run(c, c.raise_action_item("MT-1", NewActionItem("Repair the fire alarm on floor 2", "M-7", dt.date(2026, 6, 30))))

    run(c, c.start_action_item("AI-1", "contractor booked for 20 June"))
    assert c.action_items["AI-1"].status is ActionItemStatus.IN_PROGRESS
    with pytest.raises(IllegalStep, match="already in-progress"):
        c.start_action_item("AI-1", None)
    with pytest.raises(IllegalStep, match="cannot close \\(2026-05-30\\) before it was raised \\(2026-06-01\\)"):
        c.close_action_item("AI-1", dt.date(2026, 5, 30), "done", TODAY)

    [closed] = c.close_action_item("AI-1", TODAY, "Alarm repaired and tested on 12 June", TODAY)
    run(c, [closed])

    assert isinstance(closed, ActionItemClosed) and c.action_items["AI-1"].status is ActionItemStatus.DONE
    with pytest.raises(IllegalStep, match="was closed on 2026-06-15"):
        c.close_action_item("AI-1", TODAY, "again", TODAY)
    with pytest.raises(NotFound, match="no action item AI-9"):
        c.start_action_item("AI-9", None)
    with pytest.raises(NotFound, match="no meeting MT-9"):
        c.raise_action_item("MT-9", NewActionItem("x", "M-1", TODAY))


def test_a_closed_action_item_can_skip_in_progress() -> None:
    c = full()
    run(c, c.record_meeting(TODAY, ["M-1"], [EXIT_TOPIC], "m", TODAY, action_items=[NewActionItem("x", "M-1", TODAY)]))

    run(c, c.close_action_item("AI-1", TODAY, "done on the spot", TODAY))

    assert c.action_items["AI-1"].status is ActionItemStatus.DONE


def test_agenda_references_name_a_finding_or_a_compliance_point() -> None:
    with pytest.raises(ValidationError):
        AgendaTopic(title="Overtime", references=("KH-2026-0042-5-A1-F7",))


def test_a_dissolved_committee_changes_no_more() -> None:
    c = met(full(), dt.date(2026, 5, 1))
    with pytest.raises(IllegalStep, match="the committee met on 2026-05-01, after 2026-04-30"):
        c.dissolve(dt.date(2026, 4, 30), "restructuring", TODAY)
    run(c, c.dissolve(dt.date(2026, 6, 1), "the factory is closing", TODAY))

    for change in (
        lambda: c.appoint(worker("AA-00031", "Ouk Samnang", Sex.MALE), TODAY, None),
        lambda: c.record_meeting(TODAY, ["M-1"], [EXIT_TOPIC], "m", TODAY),
        lambda: c.dissolve(TODAY, "again", TODAY),
    ):
        with pytest.raises(IllegalStep, match="was dissolved on 2026-06-01 \\(the factory is closing\\)"):
            change()


def test_the_state_is_rebuilt_from_the_events_alone() -> None:
    new_id = committee_id(ANGKOR.id, 1)
    history = Committee.establish(new_id, ANGKOR, ESTABLISHED, ESTABLISHED, None)
    c = Committee.rebuild(new_id, history)
    item = NewActionItem("Post the committee's members on the notice board", "M-5", dt.date(2026, 6, 30))
    for decide in (
        lambda: c.record_election(ELECTION_DAY, 4, BALLOT, TERM_ENDS, ELECTION_DAY),
        lambda: c.appoint(DARA, ELECTION_DAY, None),
        lambda: c.replace("M-2", dt.date(2026, 5, 4), "resigned from the factory", None, TODAY),
        lambda: c.record_meeting(TODAY, ["M-1", "M-5", "M-6"], [EXIT_TOPIC], "m", TODAY, action_items=[item]),
        lambda: c.close_action_item("AI-1", TODAY, "posted in Khmer and English", TODAY),
    ):
        events = decide()
        run(c, events)
        history += events

    assert Committee.rebuild(new_id, history) == c
    assert c.version == len(history) == 7


# --- health ---------------------------------------------------------------------------------------


def test_a_healthy_committee_passes_every_check_with_its_reasons() -> None:
    checks = by_name(health_checks(met(full(), dt.date(2026, 6, 1)), WORKFORCE, TODAY))

    assert {name: check.status for name, check in checks.items()} == {
        "worker-representatives-elected": HealthStatus.OK,
        "workers-at-least-half": HealthStatus.OK,
        "women-represented": HealthStatus.OK,
        "meeting-cadence": HealthStatus.OK,
    }
    assert checks["worker-representatives-elected"].reason == (
        "4 worker representatives, elected; the last election was on 2026-03-16 (6 candidates for 4 seats)"
    )
    assert checks["workers-at-least-half"].reason == "4 of the 7 members are worker representatives"
    assert checks["women-represented"].reason == (
        "women are 71% of the members (5 of 7) and 82% of the workforce (1,980 of 2,400)"
    )
    assert checks["meeting-cadence"].reason == "the last meeting was on 2026-06-01; the next is due by 2026-07-02"


def test_without_an_election_the_workers_are_not_represented() -> None:
    c = established()
    run(c, c.appoint(DARA, ESTABLISHED, None))

    checks = by_name(health_checks(c, WORKFORCE, dt.date(2026, 3, 10)))

    assert checks["worker-representatives-elected"].status is HealthStatus.NOT_MET
    assert "not elected representatives yet" in checks["worker-representatives-elected"].reason
    assert checks["workers-at-least-half"].status is HealthStatus.NOT_MET
    assert (
        checks["workers-at-least-half"].reason == "0 of the 1 members are worker representatives; at least half must be"
    )


def test_an_uncontested_election_needs_attention() -> None:
    c = established()
    run(c, c.record_election(ELECTION_DAY, 4, BALLOT[:4], TERM_ENDS, ELECTION_DAY))

    check = by_name(health_checks(c, WORKFORCE, TODAY))["worker-representatives-elected"]

    assert check.status is HealthStatus.ATTENTION
    assert "uncontested: 4 candidates for 4 seats" in check.reason


def test_when_the_terms_end_the_workers_are_no_longer_represented() -> None:
    check = by_name(health_checks(full(), WORKFORCE, dt.date(2028, 4, 1)))["worker-representatives-elected"]

    assert check.status is HealthStatus.NOT_MET
    assert "their terms ended on 2028-03-15" in check.reason and "hold an election" in check.reason


def test_too_few_workers_is_not_met() -> None:
    c = full()
    run(c, c.appoint(worker("AA-00031", "Ouk Samnang", Sex.MALE, "finance manager"), ELECTION_DAY, None))
    run(c, c.appoint(worker("AA-00044", "Yim Chanthy", Sex.FEMALE, "planning manager"), ELECTION_DAY, None))

    check = by_name(health_checks(c, WORKFORCE, TODAY))["workers-at-least-half"]

    assert check.status is HealthStatus.NOT_MET and check.reason.startswith("4 of the 9 members")


def test_women_under_represented_against_the_workforce_is_not_met() -> None:
    c = elected()
    for person in (TAN_WEI, worker("AA-00031", "Ouk Samnang", Sex.MALE), worker("AA-00032", "Sam Rith", Sex.MALE)):
        run(c, c.appoint(person, ELECTION_DAY, None))

    check = by_name(health_checks(c, WORKFORCE, TODAY))["women-represented"]

    assert check.status is HealthStatus.NOT_MET
    assert check.reason == (
        "women are 43% of the members (3 of 7) and 82% of the workforce (1,980 of 2,400): "
        "under-represented by 40 points, more than the 15 allowed"
    )


def test_the_tolerance_is_the_programmes_to_set() -> None:
    c = full()
    strict = HealthPolicy(women_share_tolerance=5)

    assert by_name(health_checks(c, WORKFORCE, TODAY, strict))["women-represented"].status is HealthStatus.NOT_MET


def test_an_unknown_workforce_is_said_so_never_passed_silently() -> None:
    checks = by_name(health_checks(full(), None, TODAY))

    assert checks["women-represented"].status is HealthStatus.UNKNOWN
    assert "workforce by sex is not recorded" in checks["women-represented"].reason
    assert by_name(health_checks(full(), Workforce(0, 0), TODAY))["women-represented"].status is HealthStatus.UNKNOWN


@pytest.mark.parametrize(
    ("today", "status", "reason"),
    [
        (dt.date(2026, 5, 1), HealthStatus.OK, "the last meeting was on 2026-04-08; the next is due by 2026-05-09"),
        (
            dt.date(2026, 5, 14),
            HealthStatus.ATTENTION,
            "the last meeting was on 2026-04-08, 36 days ago; the next was due by 2026-05-09",
        ),
        (
            dt.date(2026, 6, 15),
            HealthStatus.NOT_MET,
            "the last meeting was on 2026-04-08, 68 days ago; one is expected every 31 days",
        ),
    ],
)
def test_meetings_are_expected_monthly_with_a_week_of_grace(today: dt.date, status: HealthStatus, reason: str) -> None:
    check = by_name(health_checks(met(full(), dt.date(2026, 4, 8)), WORKFORCE, today))["meeting-cadence"]

    assert (check.status, check.reason) == (status, reason)


def test_a_new_committee_has_a_month_for_its_first_meeting() -> None:
    assert by_name(health_checks(established(), WORKFORCE, dt.date(2026, 3, 20)))["meeting-cadence"].reason == (
        "no meeting yet since the committee was established on 2026-03-02; the next is due by 2026-04-02"
    )
    late = by_name(health_checks(established(), WORKFORCE, dt.date(2026, 5, 1)))["meeting-cadence"]
    assert late.status is HealthStatus.NOT_MET


def test_a_dissolved_committee_reports_only_that() -> None:
    c = full()
    run(c, c.dissolve(TODAY, "the factory closed", TODAY))

    [check] = health_checks(c, WORKFORCE, TODAY)

    assert (check.name, check.status, check.reason) == (
        "committee-active",
        HealthStatus.NOT_MET,
        "dissolved on 2026-06-15: the factory closed",
    )
