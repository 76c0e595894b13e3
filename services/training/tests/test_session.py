"""The rules of a training session, without I/O: Supervisory Skills Training for two Vietnamese
factories, from scheduling to delivery."""

import datetime as dt

import pytest
from betterwork_events.contracts import training as tr
from betterwork_events.errors import IllegalStep
from betterwork_events.factories import KnownFactory
from training.courses import COURSES
from training.domain import Status, TrainingSession

SAIGON_STITCH = KnownFactory("VN-2026-0012-8", "Saigon Stitch Garment Co., Ltd.", "VN", "enrolled", 1850, 1420)
DONG_NAI = KnownFactory("VN-2026-0031-8", "Dong Nai Knitwear JSC", "VN", "enrolled", 960, 780)
ANGKOR = KnownFactory("KH-2026-0042-5", "Angkor Apparel Co., Ltd.", "KH", "enrolled", 2400, 1980)
TUESDAY, WEDNESDAY = dt.date(2026, 3, 10), dt.date(2026, 3, 11)
VENUE = "Better Work Vietnam training room, Thu Dau Mot, Binh Duong"
TRAINER = "Nguyen Thi Lan, enterprise advisor"

# Line supervisors of both factories: (id, factory, sex).
SUPERVISORS = [
    ("SS-S-001", SAIGON_STITCH.id, tr.Sex.FEMALE),
    ("SS-S-002", SAIGON_STITCH.id, tr.Sex.FEMALE),
    ("SS-S-003", SAIGON_STITCH.id, tr.Sex.MALE),
    ("DN-S-101", DONG_NAI.id, tr.Sex.FEMALE),
    ("DN-S-102", DONG_NAI.id, tr.Sex.OTHER_OR_UNDISCLOSED),
]


def run(session: TrainingSession, events: list) -> TrainingSession:
    for event in events:
        session.apply(event)
    return session


def scheduled(course: str = "SST", days: tuple[dt.date, ...] = (TUESDAY, WEDNESDAY)) -> TrainingSession:
    events = TrainingSession.schedule("TS-7KQ2M9XDRA", COURSES[course], [SAIGON_STITCH, DONG_NAI], days, VENUE, TRAINER)
    return TrainingSession.rebuild("TS-7KQ2M9XDRA", events)


def with_supervisors(course: str = "SST") -> TrainingSession:
    session = scheduled(course)
    for participant_id, factory_id, sex in SUPERVISORS:
        run(session, session.register(participant_id, factory_id, tr.Role.SUPERVISOR, sex))
    return session


def attended_both_days() -> TrainingSession:
    """Everyone on Tuesday; on Wednesday SS-S-003 was off sick."""
    session = with_supervisors()
    everyone = [p[0] for p in SUPERVISORS]
    run(session, session.record_attendance(TUESDAY, everyone, today=WEDNESDAY))
    return run(session, session.record_attendance(WEDNESDAY, [p for p in everyone if p != "SS-S-003"], WEDNESDAY))


# --- scheduling ---------------------------------------------------------------------------------


def test_a_session_records_the_course_as_the_catalogue_had_it_its_factories_and_days() -> None:
    [event] = TrainingSession.schedule(
        "TS-7KQ2M9XDRA", COURSES["SST"], [SAIGON_STITCH, DONG_NAI], [WEDNESDAY, TUESDAY], VENUE, TRAINER
    )

    assert isinstance(event, tr.TrainingSessionScheduled)
    assert event.factory_ids == (SAIGON_STITCH.id, DONG_NAI.id) and event.country == "VN"
    assert event.days == (TUESDAY, WEDNESDAY)  # in order, whatever order they came in
    assert event.course.code == "SST" and event.course.hours == 16 and event.course.audience == (tr.Role.SUPERVISOR,)


def test_only_enrolled_factories_of_one_country_are_trained_together() -> None:
    suspended = KnownFactory(DONG_NAI.id, DONG_NAI.name, "VN", "suspended", None, None)
    with pytest.raises(IllegalStep, match=r"Dong Nai Knitwear JSC \(VN-2026-0031-8\) is suspended"):
        TrainingSession.schedule("TS-1", COURSES["SST"], [SAIGON_STITCH, suspended], [TUESDAY], VENUE, TRAINER)
    with pytest.raises(IllegalStep, match="held in one country; these factories are in KH, VN"):
        TrainingSession.schedule("TS-1", COURSES["SST"], [SAIGON_STITCH, ANGKOR], [TUESDAY], VENUE, TRAINER)
    with pytest.raises(IllegalStep, match="named twice"):
        TrainingSession.schedule("TS-1", COURSES["SST"], [SAIGON_STITCH, SAIGON_STITCH], [TUESDAY], VENUE, TRAINER)
    with pytest.raises(IllegalStep, match="day is named twice"):
        TrainingSession.schedule("TS-1", COURSES["SST"], [SAIGON_STITCH], [TUESDAY, TUESDAY], VENUE, TRAINER)


def test_a_session_moves_to_other_days_but_keeps_the_days_already_held() -> None:
    session = with_supervisors()
    thursday = dt.date(2026, 3, 12)
    run(session, session.reschedule([TUESDAY, thursday], None, "Wednesday is a public holiday"))

    assert session.days == (TUESDAY, thursday) and session.venue == VENUE
    run(session, session.record_attendance(TUESDAY, ["SS-S-001"], today=TUESDAY))
    with pytest.raises(IllegalStep, match="attendance was recorded on 2026-03-10"):
        session.reschedule([thursday], None, "trainer unavailable")
    with pytest.raises(IllegalStep, match="already on these days"):
        session.reschedule([TUESDAY, thursday], VENUE, "no change")


# --- participants -------------------------------------------------------------------------------


def test_participants_of_either_factory_register_once() -> None:
    session = with_supervisors()

    assert [p.factory_id for p in session.participants.values()].count(DONG_NAI.id) == 2
    with pytest.raises(IllegalStep, match="SS-S-001 is already registered"):
        session.register("SS-S-001", SAIGON_STITCH.id, tr.Role.SUPERVISOR, tr.Sex.FEMALE)


def test_a_participant_must_come_from_one_of_the_sessions_factories() -> None:
    with pytest.raises(IllegalStep, match="KH-2026-0042-5 is not one of this session's factories"):
        scheduled().register("AA-S-7", ANGKOR.id, tr.Role.SUPERVISOR, tr.Sex.FEMALE)


def test_a_course_takes_only_its_audience() -> None:
    with pytest.raises(IllegalStep, match="Supervisory Skills Training is for supervisors, not managers"):
        scheduled().register("SS-M-01", SAIGON_STITCH.id, tr.Role.MANAGER, tr.Sex.MALE)


# --- attendance ---------------------------------------------------------------------------------


def test_attendance_is_recorded_for_a_day_of_the_session_once_it_is_over() -> None:
    session = with_supervisors()

    with pytest.raises(IllegalStep, match="2026-03-11 is still to come"):
        session.record_attendance(WEDNESDAY, ["SS-S-001"], today=TUESDAY)
    with pytest.raises(IllegalStep, match="2026-03-09 is not a day of this session"):
        session.record_attendance(dt.date(2026, 3, 9), ["SS-S-001"], today=WEDNESDAY)
    with pytest.raises(IllegalStep, match="participant SS-S-999 is not registered"):
        session.record_attendance(TUESDAY, ["SS-S-001", "SS-S-999"], today=TUESDAY)


def test_a_later_register_of_the_same_day_replaces_the_earlier() -> None:
    session = with_supervisors()
    run(session, session.record_attendance(TUESDAY, ["SS-S-001"], today=TUESDAY))
    run(session, session.record_attendance(TUESDAY, ["SS-S-001", "DN-S-101"], today=TUESDAY))

    assert session.attendance[TUESDAY] == {"SS-S-001", "DN-S-101"}


# --- tests and feedback -------------------------------------------------------------------------


def test_scores_before_and_after_are_kept_per_participant_and_a_later_score_corrects() -> None:
    session = attended_both_days()
    run(session, session.record_score("SS-S-001", tr.TestPhase.PRE, 45))
    run(session, session.record_score("SS-S-001", tr.TestPhase.POST, 80))
    run(session, session.record_score("SS-S-001", tr.TestPhase.POST, 85))

    assert session.participants["SS-S-001"].scores == {tr.TestPhase.PRE: 45, tr.TestPhase.POST: 85}


def test_the_test_after_and_feedback_need_a_participant_who_attended() -> None:
    session = with_supervisors()
    run(session, session.record_score("DN-S-102", tr.TestPhase.PRE, 50))  # the test before: registered is enough
    run(session, session.record_attendance(TUESDAY, ["SS-S-001"], today=TUESDAY))

    with pytest.raises(IllegalStep, match="DN-S-102 attended no day"):
        session.record_score("DN-S-102", tr.TestPhase.POST, 70)
    with pytest.raises(IllegalStep, match="DN-S-102 attended no day"):
        session.give_feedback("DN-S-102", 4, None)
    with pytest.raises(IllegalStep, match="SS-S-404 is not registered"):
        session.record_score("SS-S-404", tr.TestPhase.PRE, 70)
    [feedback] = session.give_feedback("SS-S-001", 5, "Role plays on giving instructions were the most useful")
    assert isinstance(feedback, tr.FeedbackGiven) and feedback.factory_id == SAIGON_STITCH.id


def test_tests_and_feedback_only_where_the_course_has_them() -> None:
    session = scheduled("PICC")
    run(session, session.register("SS-W-210", SAIGON_STITCH.id, tr.Role.WORKER, tr.Sex.FEMALE))
    run(session, session.record_attendance(TUESDAY, ["SS-W-210"], today=TUESDAY))

    with pytest.raises(IllegalStep, match="PICC training has no tests before and after"):
        session.record_score("SS-W-210", tr.TestPhase.PRE, 60)
    with pytest.raises(IllegalStep, match="PICC training collects no feedback"):
        session.give_feedback("SS-W-210", 4, None)


# --- delivery and cancellation ------------------------------------------------------------------


def test_delivery_counts_who_attended_by_sex_and_role_overall_and_per_factory() -> None:
    session = attended_both_days()

    [delivered] = session.deliver(today=WEDNESDAY)

    assert isinstance(delivered, tr.TrainingDelivered)
    assert (delivered.first_day, delivered.last_day, delivered.hours) == (TUESDAY, WEDNESDAY, 16)
    assert delivered.registered == 5 and delivered.completed == 4
    assert delivered.attended == tr.Headcount(
        total=5,
        by_sex=tr.BySex(female=3, male=1, other_or_undisclosed=1),
        by_role=tr.ByRole(worker=0, supervisor=5, manager=0),
        women_supervisors_and_managers=3,
    )
    assert delivered.participant_hours == 4 * 16 + 8  # SS-S-003 was there for one of two days
    saigon, dong_nai = delivered.factories
    assert (saigon.factory_id, saigon.registered, saigon.attended.total, saigon.participant_hours) == (
        SAIGON_STITCH.id,
        3,
        3,
        40,
    )
    assert dong_nai.attended.by_sex == tr.BySex(female=1, male=0, other_or_undisclosed=1)
    assert dong_nai.participant_hours == 32
    run(session, [delivered])
    assert session.status is Status.DELIVERED


def test_a_session_is_delivered_only_after_its_last_day_with_every_register_kept() -> None:
    session = with_supervisors()
    run(session, session.record_attendance(TUESDAY, ["SS-S-001"], today=TUESDAY))

    with pytest.raises(IllegalStep, match="last day, 2026-03-11, is still to come"):
        session.deliver(today=TUESDAY)
    with pytest.raises(IllegalStep, match="attendance on 2026-03-11 is not recorded"):
        session.deliver(today=WEDNESDAY)


def test_a_session_nobody_attended_is_cancelled_not_delivered() -> None:
    session = with_supervisors()
    run(session, session.record_attendance(TUESDAY, [], today=WEDNESDAY))
    run(session, session.record_attendance(WEDNESDAY, [], today=WEDNESDAY))

    with pytest.raises(IllegalStep, match="nobody attended; cancel the session"):
        session.deliver(today=WEDNESDAY)


def test_impossible_steps_say_why() -> None:
    delivered = attended_both_days()
    run(delivered, delivered.deliver(today=WEDNESDAY))
    cancelled = with_supervisors()
    run(cancelled, cancelled.cancel("typhoon warning: the venue is closed"))

    with pytest.raises(IllegalStep, match="cannot deliver a session that was cancelled \\(typhoon warning"):
        cancelled.deliver(today=WEDNESDAY)
    with pytest.raises(IllegalStep, match="cannot cancel a session that was delivered"):
        delivered.cancel("too late")
    with pytest.raises(IllegalStep, match="cannot cancel a session that was cancelled"):
        cancelled.cancel("again")
    with pytest.raises(IllegalStep, match="cannot register participants for a session that was delivered"):
        delivered.register("SS-S-004", SAIGON_STITCH.id, tr.Role.SUPERVISOR, tr.Sex.FEMALE)
    with pytest.raises(IllegalStep, match="cannot deliver a session that was delivered"):
        delivered.deliver(today=WEDNESDAY)
    with pytest.raises(IllegalStep, match="cannot record attendance of a session that was delivered"):
        delivered.record_attendance(TUESDAY, [], today=WEDNESDAY)
    with pytest.raises(IllegalStep, match="cannot record test scores of a session that was cancelled"):
        cancelled.record_score("SS-S-001", tr.TestPhase.PRE, 40)
    with pytest.raises(IllegalStep, match="cannot reschedule a session that was cancelled"):
        cancelled.reschedule([WEDNESDAY], None, "typhoon passed")
    # Marking the test after and collecting feedback go on after delivery.
    assert delivered.record_score("SS-S-002", tr.TestPhase.POST, 90)
    assert delivered.give_feedback("SS-S-002", 4, None)


def test_nothing_can_happen_to_a_session_never_scheduled() -> None:
    with pytest.raises(IllegalStep, match="session TS-404 is not scheduled"):
        TrainingSession(id="TS-404").cancel("never was")
