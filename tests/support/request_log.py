"""Record the HTTP requests a cloud client really sends (method, URL, status, item count).

It wraps ``send`` of the ``requests.Session`` under the client's keystoneauth session, so it
sees every request on the wire (token requests, discovery, retries), not what our code thinks
it sent. Use it as a context manager::

    with RequestLog.attach(client.gateway.http_session) as log:
        client.list_snapshots(SnapshotQuery())
    assert log.count(path="/images") == 1
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from requests import PreparedRequest, Response, Session

__all__ = ["RecordedRequest", "RequestLog"]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as sent and answered."""

    method: str
    url: str
    status: int
    items: int | None

    @property
    def path(self) -> str:
        """The URL path (no query)."""
        return urllib.parse.urlsplit(self.url).path

    @property
    def query(self) -> dict[str, list[str]]:
        """The query parameters the server received."""
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.url).query)


def _count_items(response: Response) -> int | None:
    if "json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        body: Any = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        for key in ("images", "servers", "projects", "flavors", "keypairs"):
            if isinstance(body.get(key), list):
                return len(body[key])
    return None


@dataclass
class RequestLog:
    """The requests seen while attached (thread-safe)."""

    requests: list[RecordedRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    @contextmanager
    def attach(cls, session: Session) -> Iterator[RequestLog]:
        """Record every request ``session`` sends inside the ``with`` block."""
        log = cls()
        original = session.send

        def send(request: PreparedRequest, **kwargs: Any) -> Response:
            response: Response = original(request, **kwargs)
            entry = RecordedRequest(
                method=str(request.method),
                url=str(request.url),
                status=response.status_code,
                items=_count_items(response),
            )
            with log._lock:
                log.requests.append(entry)
            return response

        session.send = send  # type: ignore[method-assign]
        try:
            yield log
        finally:
            session.send = original  # type: ignore[method-assign]

    def matching(
        self, *, path_suffix: str = "", method: str | None = None
    ) -> list[RecordedRequest]:
        """Requests whose path ends with ``path_suffix`` (and of ``method``)."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.path.endswith(path_suffix) and (method is None or r.method == method)
            ]

    def count(self, *, path_suffix: str = "", method: str | None = None) -> int:
        """How many requests match."""
        return len(self.matching(path_suffix=path_suffix, method=method))

    def clear(self) -> None:
        """Forget what was recorded so far."""
        with self._lock:
            self.requests.clear()
