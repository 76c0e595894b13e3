"""The factory history's entries, without I/O: every event that names a factory has one, and no
summary carries a personal or confidential value."""

import datetime as dt

from betterwork_events.catalogue import load_all_contracts
from betterwork_events.contracts import assessment as ae
from betterwork_events.contracts import training as te
from gateway.read_models import history
from gateway.read_models.history import Visibility


def test_every_event_that_names_a_factory_has_an_entry_and_no_other() -> None:
    naming = {c for c in load_all_contracts().contracts() if history.names_a_factory(c)}
    assert naming == set(history.ENTRIES), "say what the event means in a factory's history, and to whom"
    assert {c.topic_service for c in naming} == {"factory-registry", "assessment", "committee", "training"}


def test_a_visit_is_the_programmes_until_its_report_is_published() -> None:
    for contract in (ae.AssessmentScheduled, ae.AssessmentStarted, ae.FindingRecorded, ae.ZeroToleranceIssueRaised):
        assert history.ENTRIES[contract][0] is Visibility.PROGRAMME
    assert history.ENTRIES[ae.AssessmentCompleted][0] is Visibility.BRAND


def test_a_summary_has_no_planned_date_and_no_staff_names() -> None:
    planned = dt.date(2027, 3, 9)
    scheduled = ae.AssessmentScheduled(
        assessment_id="A-1",
        factory_id="KH-2026-0042-5",
        country="KH",
        planned_date=planned,
        assessors=("assessor-sokha",),
        tool_version="global-1",
    )
    summary = history.summary_of(scheduled, "KH-2026-0042-5")
    assert str(planned) not in summary and "sokha" not in summary


def test_a_training_event_about_one_participant_belongs_to_that_participants_factory_only() -> None:
    registered = te.ParticipantRegistered(
        session_id="TS-1",
        factory_ids=("KH-1", "KH-2"),
        participant_id="AA-S-001",
        factory_id="KH-2",
        role=te.Role.SUPERVISOR,
        sex=te.Sex.FEMALE,
        name="Chan Sreymom",
    )
    assert history.factories_named(registered) == ["KH-2"]
    assert "Sreymom" not in history.summary_of(registered, "KH-2")
    cancelled = te.TrainingSessionCancelled(session_id="TS-1", factory_ids=("KH-1", "KH-2"), reason="flood")
    assert history.factories_named(cancelled) == ["KH-1", "KH-2"]
