"""The image-data faults that change a download while it streams, held answers, and body
draining.

``download_cut`` and ``download_corrupt`` (see :mod:`faults`) act on the ASGI messages of a
successful ``GET /v2/images/{id}/file``: :class:`DataStream` wraps the response's ``send``,
asks at the response start whether a rule fires, and then cuts the body after some bytes (by
raising :class:`StreamCut`, which the app's middleware swallows, so the server closes the
connection mid-body) or flips one byte (headers, length and ``Content-MD5`` stay the original's).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import Message, Receive, Send

__all__ = ["DATA_PATH", "DataStream", "HeldAnswer", "StreamCut", "drain_body", "hold_body"]

#: A Glance image data path: ``/{site}/image/v2/images/{id}/file``.
DATA_PATH = re.compile(r"^/[^/]+/image/v2/images/[^/]+/file/?$")

#: What a firing rule asks for: (kind, after_bytes) or None when none fires.
Choice = tuple[str, int | None] | None


class StreamCut(Exception):
    """Raised by a cut download's ``send`` to stop the app; the response stays unfinished."""


async def drain_body(receive: Receive) -> None:
    """Read a request's whole body and drop it (so an early answer is not lost in a reset)."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


async def hold_body(receive: Receive) -> Receive:
    """Read a request's whole body now; a ``receive`` that replays it, then goes on with
    ``receive`` (which reports the client's disconnect, if it hung up meanwhile)."""
    held: list[Message] = []
    while True:
        message = await receive()
        held.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break

    async def replay() -> Message:
        return held.pop(0) if held else await receive()

    return replay


def _content_length(headers: Any) -> int:
    for key, value in headers:
        if bytes(key).lower() == b"content-length":
            return int(value)
    return 0


class DataStream:
    """The ``send`` of an image download that a data fault may change.

    Args:
        send: The server's ``send``.
        choose: Called once when a 200 response starts: which data fault fires, if any.
    """

    def __init__(self, send: Send, choose: Callable[[], Choice]) -> None:
        self._send = send
        self._choose = choose
        self._kind: str | None = None
        self._at = 0
        self._sent = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._start(message)
            await self._send(message)
        elif message["type"] == "http.response.body" and self._kind is not None:
            await self._body(message)
        else:
            await self._send(message)

    def _start(self, message: Message) -> None:
        if message.get("status") != 200:
            return
        choice = self._choose()
        if choice is None:
            return
        self._kind, after = choice
        total = _content_length(message.get("headers", ()))
        if self._kind == "download_cut":
            self._at = total // 2 if after is None else min(after, total)
        else:
            self._at = max(0, min(total // 2 if after is None else after, total - 1))

    async def _body(self, message: Message) -> None:
        body: bytes = message.get("body", b"")
        start = self._sent
        self._sent += len(body)
        if self._kind == "download_cut":
            if self._sent >= self._at:
                part = body[: self._at - start]
                await self._send({"type": "http.response.body", "body": part, "more_body": True})
                raise StreamCut
        elif start <= self._at < self._sent:
            index = self._at - start
            body = body[:index] + bytes([body[index] ^ 0xFF]) + body[index + 1 :]
            message = {**message, "body": body}
        await self._send(message)


class HeldAnswer:
    """The ``send`` of an answer that a ``latency`` rule with ``answer`` may hold.

    It keeps the response's messages until the body is complete, awaits ``hold(body)`` (which
    waits when a rule fires for that body), then sends them. Only JSON answers are small
    enough to keep whole; image data paths never get this wrapper.

    Args:
        send: The server's ``send``.
        hold: Called once with the whole body, before anything is sent.
    """

    def __init__(self, send: Send, hold: Callable[[bytes], Awaitable[None]]) -> None:
        self._send = send
        self._hold = hold
        self._kept: list[Message] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] not in ("http.response.start", "http.response.body"):
            await self._send(message)
            return
        self._kept.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            await self._hold(b"".join(m.get("body", b"") for m in self._kept[1:]))
            for kept in self._kept:
                await self._send(kept)
            self._kept.clear()
