"""Notices of committed events: each listener of a read model told in order; a listener that
stops reading is cut off, never slowing the projections down."""

import datetime as dt
import uuid

import pytest
from betterwork_events.envelope import Envelope
from gateway import notices
from gateway.notices import FellBehind, Notices


def event(n: int) -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        source="/betterwork/assessment",
        type="org.betterwork.assessment.completed.v1",
        subject=f"assessment-{n}",
        time=dt.datetime(2026, 4, 2, tzinfo=dt.UTC),
        data_json="{}",
        streamversion=1,
        position=n,
    )


async def test_a_listener_is_told_in_order_what_its_read_models_commit_and_nothing_else() -> None:
    hub = Notices()
    reports, history = hub.committed("assessment-reports"), hub.committed("factory-history")
    first, second, elsewhere = event(1), event(2), event(3)
    reports([first])  # before anyone listens: nobody is told
    with hub.listening("assessment-reports") as listener:
        reports([second, elsewhere])
        history([event(4)])
        told = [await anext(aiter(listener)) for _ in range(2)]
    assert [(n.read_model, n.event) for n in told] == [
        ("assessment-reports", second),
        ("assessment-reports", elsewhere),
    ]
    assert listener.queue.empty()
    reports([event(5)])  # after it stopped listening
    assert listener.queue.empty()


async def test_a_listener_that_falls_behind_is_cut_off() -> None:
    hub = Notices()
    tell = hub.committed("assessment-reports")
    with hub.listening("assessment-reports") as listener:
        tell([event(n) for n in range(notices.QUEUE + 10)])  # never blocks
        received = 0
        with pytest.raises(FellBehind, match=f"more than {notices.QUEUE} events"):
            async for _ in listener:
                received += 1
    assert received == notices.QUEUE


async def test_a_read_model_that_cannot_tell_everything_cuts_off_its_own_listeners_only_saying_why() -> None:
    hub = Notices()
    with hub.listening("factory-history", "factory-directory") as behind, hub.listening("assessment-reports") as other:
        assert hub.listened("factory-history") and hub.listened("factory-directory")
        hub.missed("factory-directory", FellBehind("the read model factory-directory is behind"))
        with pytest.raises(FellBehind, match="factory-directory is behind"):
            await anext(aiter(behind))
        assert not hub.listened("factory-history") and not hub.listened("factory-directory")
        hub.committed("assessment-reports")([event(1)])
        assert (await anext(aiter(other))).read_model == "assessment-reports"  # still told
    assert not hub.listened("assessment-reports")
