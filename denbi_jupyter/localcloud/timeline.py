"""State changes that fall due later: a server finishing its boot, a snapshot going active.

Handlers schedule an event with :func:`schedule` inside their transaction; :func:`advance` runs
every event whose time has come, in order, each in its own transaction. The app calls
:func:`advance` before it handles any request of the site, and a background ticker calls it
between requests, so a client that polls sees the same sequence of states a real cloud shows.
Event kinds are registered by the service modules with :func:`handler`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from denbi_jupyter.localcloud.store import SiteStore, dumps, loads

__all__ = ["EventHandler", "Timeline", "schedule"]

EventHandler = Callable[[sqlite3.Connection, "Timeline", dict[str, Any]], None]


def schedule(conn: sqlite3.Connection, *, delay: float, kind: str, payload: dict[str, Any]) -> None:
    """Record that event ``kind`` with ``payload`` falls due ``delay`` seconds from now."""
    conn.execute(
        "INSERT INTO events (due_at, kind, payload) VALUES (?, ?, ?)",
        (time.time() + max(delay, 0.0), kind, dumps(payload)),
    )


class Timeline:
    """Runs the due events of one site."""

    def __init__(self, store: SiteStore) -> None:
        self.store = store
        self._handlers: dict[str, EventHandler] = {}

    def handler(self, kind: str, function: EventHandler) -> None:
        """Register the function that carries out events of ``kind``."""
        self._handlers[kind] = function

    def advance(self, *, now: float | None = None) -> int:
        """Run every event due by ``now``; return how many ran."""
        ran = 0
        while True:
            with self.store.tx() as conn:
                moment = time.time() if now is None else now
                row = conn.execute(
                    "SELECT seq, kind, payload FROM events WHERE due_at <= ? "
                    "ORDER BY due_at, seq LIMIT 1",
                    (moment,),
                ).fetchone()
                if row is None:
                    return ran
                conn.execute("DELETE FROM events WHERE seq = ?", (row["seq"],))
                function = self._handlers.get(row["kind"])
                if function is not None:
                    function(conn, self, loads(row["payload"]))
            ran += 1

    def next_due(self) -> float | None:
        """When the next event falls due (epoch seconds), or None."""
        with self.store.tx() as conn:
            row = conn.execute("SELECT MIN(due_at) FROM events").fetchone()
        return None if row[0] is None else float(row[0])
