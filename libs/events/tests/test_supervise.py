"""The restart backoff of background tasks (web.supervise), on a clock of the test's own."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from betterwork_events.resilience import is_transient
from betterwork_events.web import supervise


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_the_backoff_grows_while_a_task_keeps_failing_and_starts_again_after_it_ran_healthily() -> None:
    clock = Clock()
    runs = iter([0.1, 0.1, 0.1, 0.1, 120.0, 0.1, 0.1])  # how long each run lasts before it fails

    async def task() -> None:
        try:
            lasted = next(runs)
        except StopIteration:
            return  # done: supervise returns
        clock.now += lasted
        raise RuntimeError("broken")

    await supervise("task", task, healthy_after=60, clock=clock, sleep=clock.sleep)

    # Four quick failures: 1, 2, 4, 8; then one after two healthy minutes starts again at 1.
    assert clock.slept == [1, 2, 4, 8, 1, 2, 4]


async def test_the_backoff_is_bounded() -> None:
    clock = Clock()
    failures = 10

    async def task() -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise RuntimeError("broken")

    await supervise("task", task, clock=clock, sleep=clock.sleep)
    assert max(clock.slept) == 30


async def test_cancelling_stops_it() -> None:
    started = asyncio.Event()

    async def task() -> None:
        started.set()
        await asyncio.sleep(3600)

    supervised = asyncio.create_task(supervise("task", task))
    await started.wait()
    supervised.cancel()
    with pytest.raises(asyncio.CancelledError):
        await supervised


@pytest.mark.parametrize(
    "error",
    [ConnectionRefusedError(), OSError("reset"), TimeoutError()],
)
def test_infrastructure_failures_are_transient(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize("error", [RuntimeError("cannot project"), ValueError("bad data"), KeyError("x")])
def test_failures_of_the_work_itself_are_not(error: BaseException) -> None:
    assert not is_transient(error)


async def test_a_task_that_ignores_cancellation_does_not_hold_shutdown_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from betterwork_events import web
    from betterwork_events.settings import CommonSettings
    from sqlalchemy.ext.asyncio import create_async_engine

    async def stubborn() -> None:
        # The bug this guards against: a task that swallows its cancellation and carries on.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)
        await asyncio.sleep(3600)  # (cancelled again when the test's loop closes)

    monkeypatch.setattr(web, "STOP_WITHIN_SECONDS", 0.2)
    engine = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:9/none")  # never connected
    runtime = web.Runtime(
        "test", CommonSettings(database_url="unused"), engine, [web.Background("stubborn", "relay", stubborn)]
    )
    async with asyncio.timeout(5):
        async with runtime.running(["relay"]):
            await asyncio.sleep(0.05)
    assert "stubborn did not stop within 0.2 s of being cancelled" in caplog.text
