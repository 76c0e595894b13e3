"""Load shedding at a service's edge: a bounded number of requests in flight, the rest told to come back.

Beyond `max_requests_in_flight`, a request is answered 503 at once, with a JSON body and Retry-After,
rather than queued behind the others: a queue without end grows past every client's timeout after a
short outage, and the clients' retries then keep it full for minutes. A request whose client hangs up
before the answer is cancelled, so the work nobody waits for any more stops holding a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

OVERLOADED = "the service is busy; try again shortly"
RETRY_AFTER = "1"  # seconds: an overload is over when the requests in flight finish, well within a second or two
# Liveness must answer however busy the service is, or the orchestrator restarts a pod that is only busy.
NEVER_SHED = frozenset({"/health"})


class LoadShedding:
    def __init__(self, app: ASGIApp, max_in_flight: int) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in NEVER_SHED:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            log.warning("%s %s shed: %d requests in flight", scope["method"], scope["path"], self.in_flight)
            await _busy(send)
            return
        self.in_flight += 1
        try:
            await _cancelled_if_client_leaves(self.app, scope, receive, send)
        finally:
            self.in_flight -= 1


async def _busy(send: Send) -> None:
    body = b'{"detail":"' + OVERLOADED.encode() + b'"}'
    headers = [(b"content-type", b"application/json"), (b"retry-after", RETRY_AFTER.encode())]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _cancelled_if_client_leaves(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run the request; once its body is read, listen to the connection and cancel it if the client goes
    before the answer is sent (what runs after the answer, such as background tasks, is left alone)."""
    client = _Client(receive)
    answered = False

    async def sending(message: Message) -> None:
        nonlocal answered
        await send(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            answered = True

    handling = asyncio.ensure_future(app(scope, client.receive, sending))
    leaving = asyncio.ensure_future(client.left.wait())
    try:
        await asyncio.wait({handling, leaving}, return_when=asyncio.FIRST_COMPLETED)
        if not handling.done() and not answered:
            log.info("%s %s cancelled: the client left before the answer", scope["method"], scope["path"])
            handling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await handling
            return
        await handling
    finally:
        leaving.cancel()
        client.stop_listening()
        if not handling.done():
            handling.cancel()


class _Client:
    """The request's receive channel: the app reads the body through it; after the body the server's
    channel is listened to here, since the next message it gives is the client's disconnect."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.left = asyncio.Event()
        self._listening: asyncio.Task[Any] | None = None

    async def receive(self) -> Message:
        if self._listening is not None or self.left.is_set():
            await self.left.wait()  # the app asks again after the body (to watch for a disconnect itself)
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self.left.set()
        elif not message.get("more_body", False):
            self._listening = asyncio.ensure_future(self._listen())
        return message

    async def _listen(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self.left.set()

    def stop_listening(self) -> None:
        if self._listening is not None:
            self._listening.cancel()
