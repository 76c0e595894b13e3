"""What a factory's users read of a shared session's history, without I/O: the session's own
changes and their own people, never another factory's."""

import datetime as dt
import typing
import uuid

from betterwork_events.auth import Audience, Principal, Role
from betterwork_events.contracts import training as tr
from betterwork_events.envelope import Envelope
from betterwork_events.factories import KnownFactory
from training import policy
from training.courses import COURSES
from training.domain import SessionEvent, TrainingSession

SAIGON_STITCH = KnownFactory("VN-2026-0012-8", "Saigon Stitch Garment Co., Ltd.", "VN", "enrolled", 1850, 1420)
DONG_NAI = KnownFactory("VN-2026-0031-8", "Dong Nai Knitwear JSC", "VN", "enrolled", 960, 780)
TUESDAY, WEDNESDAY = dt.date(2026, 3, 10), dt.date(2026, 3, 11)
SUPERVISORS = [
    ("SS-S-001", SAIGON_STITCH.id, tr.Sex.FEMALE),
    ("DN-S-101", DONG_NAI.id, tr.Sex.FEMALE),
    ("DN-S-102", DONG_NAI.id, tr.Sex.OTHER_OR_UNDISCLOSED),
]
STAFF = Principal("assessor-sokha", Audience.PROGRAMME, role=Role.ASSESSOR)
DONG_NAI_HR = Principal("hr-dong-nai", Audience.FACTORY, DONG_NAI.id)
SESSION = "TS-7KQ2M9XDRA"


def stored(events: list[SessionEvent]) -> list[Envelope]:
    """The events as the store keeps them."""
    return [
        Envelope(
            id=uuid.uuid4(),
            source="/betterwork/training",
            type=event.event_type,
            subject=f"training-session-{SESSION}",
            time=dt.datetime(2026, 3, 12, 3, tzinfo=dt.UTC),
            data_json=event.model_dump_json(),
            streamversion=version,
            position=version,
            actor="programme:assessor-sokha",
        )
        for version, event in enumerate(events, start=1)
    ]


def named_supervisors_attending_tuesday() -> list[SessionEvent]:
    days = (TUESDAY, WEDNESDAY)
    events = TrainingSession.schedule(SESSION, COURSES["SST"], [SAIGON_STITCH, DONG_NAI], days, "Thu Dau Mot", "Lan")
    session = TrainingSession.rebuild(SESSION, events)
    for participant_id, factory_id, sex in SUPERVISORS:
        registered = session.register(
            participant_id, factory_id, tr.Role.SUPERVISOR, sex, name=f"Name of {participant_id}"
        )
        session.apply(registered[0])
        events += registered
    attended = session.record_attendance(TUESDAY, [p for p, *_ in SUPERVISORS], today=WEDNESDAY)
    feedback = TrainingSession.rebuild(SESSION, [*events, *attended]).give_feedback("SS-S-001", 2, "too long")
    return [*events, *attended, *feedback]


def test_programme_staff_read_the_whole_record() -> None:
    events = named_supervisors_attending_tuesday()

    changes = policy.history(STAFF, stored(events))

    assert [c.data for c in changes] == [e.model_dump(mode="json") for e in events]
    assert [c.version for c in changes] == list(range(1, len(events) + 1))


def test_a_factory_reads_its_own_people_and_nothing_of_the_other_factorys() -> None:
    changes = policy.history(DONG_NAI_HR, stored(named_supervisors_attending_tuesday()))

    registered = [c.data for c in changes if c.type == tr.ParticipantRegistered.event_type]
    assert [(p["participant_id"], p["name"]) for p in registered] == [
        ("DN-S-101", "Name of DN-S-101"),
        ("DN-S-102", "Name of DN-S-102"),
    ]
    text = "".join(c.model_dump_json() for c in changes)
    assert "SS-S-" not in text and "too long" not in text  # Saigon Stitch's people, their feedback
    assert [c.version for c in changes] == list(range(1, len(changes) + 1))  # the gaps would count them
    assert {c.actor for c in changes} == {"programme"}


def test_every_event_of_a_session_has_a_rule_for_its_factories() -> None:
    assert set(policy.factory_history(DONG_NAI.id)) == set(typing.get_args(SessionEvent))
