"""The secret canary's search: known secret strings, looked for in every place a test can reach.

A :class:`Canaries` holds the strings that must never leave the files made to hold them: the
site's password and application-credential secret, a wrong password, the Keystone tokens the
local cloud issued, private-key material. ``check(place, text)`` records each hit as
``(label, place)`` (never the secret itself); the tests assert that no hit was recorded, and
the terminal summary prints how much was searched.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Canaries",
    "LogSink",
    "TokenWatch",
    "exception_text",
    "issued_tokens",
    "state_texts",
    "widget_states",
]

#: Shorter strings (e.g. a key's last base64 line, "==") would match by chance.
MIN_LENGTH = 16


@dataclass
class Canaries:
    """Secret strings, and what searching for them found."""

    secrets: dict[str, str] = field(default_factory=dict)
    hits: list[tuple[str, str]] = field(default_factory=list)
    #: The hits earlier ``assert_clean`` calls failed on.
    reported: list[tuple[str, str]] = field(default_factory=list)
    holders: dict[Path, int] = field(default_factory=dict)
    skipped: set[Path] = field(default_factory=set)
    places: int = 0
    files: int = 0
    bytes_searched: int = 0
    _seen_places: set[str] = field(default_factory=set)
    _checked: dict[bytes, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, label: str, value: str | bytes) -> None:
        """Look for ``value`` from now on (ignored when too short to be specific)."""
        text = value.decode() if isinstance(value, bytes) else value
        if len(text) >= MIN_LENGTH:
            self.secrets.setdefault(text, label)

    def add_many(self, label: str, values: Iterable[str]) -> None:
        """``add`` each value, numbered."""
        for index, value in enumerate(values):
            self.add(f"{label}[{index}]", value)

    def check(self, place: str, text: str | bytes) -> list[str]:
        """Record (and return) the labels of the secrets found in ``text``.

        A text seen before (same bytes) is only searched for the secrets added since.
        """
        data = text if isinstance(text, bytes) else text.encode("utf-8", errors="replace")
        digest = hashlib.blake2b(data, digest_size=16).digest()
        with self._lock:
            items = list(self.secrets.items())
            done = self._checked.get(digest, 0)
            self._checked[digest] = len(items)
            self.places += 1
            self._seen_places.add(place)
            if done < len(items):
                self.bytes_searched += len(data)
        found = [label for secret, label in items[done:] if secret.encode() in data]
        with self._lock:
            self.hits.extend((label, place) for label in found)
        return found

    def hold(self, path: Path, mode: int = 0o600) -> None:
        """``path`` is written to keep a secret: not searched, but its mode must be ``mode``."""
        self.holders[path.resolve()] = mode

    def skip(self, folder: Path) -> None:
        """Never search under ``folder`` (the local cloud's own state: the server side)."""
        self.skipped.add(folder.resolve())

    def check_files(self, root: Path) -> None:
        """Search every file under ``root``, except the holders and the skipped folders."""
        holders = self.holders
        for path in _files(root):
            resolved = path.resolve()
            if any(resolved.is_relative_to(folder) for folder in self.skipped):
                continue
            if resolved in holders:
                mode = stat.S_IMODE(path.stat().st_mode)
                if mode != holders[resolved]:
                    self.hits.append((f"mode {oct(mode)} of a secret holder", str(path)))
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue  # vanished (a socket, a file a server just removed)
            with self._lock:
                self.files += 1
            self.check(f"file {path}", data)

    def assert_clean(self) -> None:
        """Fail with every (label, place) found since the last call; never with a secret."""
        assert self.secrets, "no canary strings to look for"
        found, self.hits = self.hits, []
        self.reported += found
        assert not found, "secrets found:\n" + "\n".join(
            f"  {label} in {place}" for label, place in found
        )

    def summary(self) -> str:
        """One line: what was searched for, where, and how many hits."""
        labels = list(self.secrets.values())
        tokens = sum("token" in label for label in labels)
        return (
            f"secret canary: {len(labels)} strings searched ({tokens} Keystone/lab tokens, "
            f"{len(labels) - tokens} passwords, secrets, passphrases and private-key strings) "
            f"in {self.places} texts ({len(self._seen_places)} distinct places, {self.files} "
            f"files, {self.bytes_searched} bytes searched); "
            f"hits: {len(self.reported) + len(self.hits)}"
        )


def exception_text(error: BaseException) -> str:
    """The whole traceback of ``error`` with its causes, as a user or a log would see it."""
    import traceback

    return "".join(traceback.format_exception(error))


def _files(root: Path) -> Iterator[Path]:
    if not root.exists():
        return
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path


class LogSink(logging.Handler):
    """Keeps the full text (message, exception, stack) of every record it sees."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            extra = f" args={record.args!r}" if record.args else ""
        except Exception as error:  # noqa: BLE001  a record that cannot format is itself worth seeing
            text, extra = f"{record.name} unformattable: {error!r} {record.msg!r}", ""
        self.texts.append(text + extra)

    def drain(self) -> list[str]:
        """The texts so far, forgetting them."""
        texts, self.texts = self.texts, []
        return texts


def widget_states() -> Iterator[tuple[str, str]]:
    """(place, text) for every live widget's state, as it would be sent to the front end."""
    from ipywidgets.widgets.widget import _instances

    for model_id, widget in list(_instances.items()):
        try:
            state = widget.get_state()
        except Exception as error:  # noqa: BLE001  a closed or half-built widget
            yield f"widget {model_id} (get_state failed)", repr(error)
            continue
        yield f"widget {type(widget).__name__} {model_id}", _flatten(state)


def _flatten(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, Mapping):
        return "\n".join(f"{key}={_flatten(item)}" for key, item in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return "\n".join(_flatten(item) for item in value)
    return str(value)


def state_texts(database: Path) -> Iterator[tuple[str, str]]:
    """(place, text) for every text-like cell of every table of a SQLite file (read-only)."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        tables = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            cells: list[str] = []
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                cells.extend(_flatten(cell) for cell in row if cell is not None)
            yield f"{database.name} table {table}", "\n".join(cells)
    finally:
        conn.close()


def issued_tokens(state_dir: Path) -> list[str]:
    """Every Keystone token a local cloud in ``state_dir`` has issued (and not dropped)."""
    tokens: list[str] = []
    for database in sorted(state_dir.glob("*.sqlite")):
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
        try:
            tokens += [row[0] for row in conn.execute("SELECT id FROM tokens")]
        finally:
            conn.close()
    return tokens


class TokenWatch:
    """Notes every token a local cloud issues, also those revoked before a search runs."""

    def __init__(self, state_dir: Path, *, every_s: float = 0.1) -> None:
        self._state_dir = state_dir
        self._every_s = every_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="canary-tokens", daemon=True)

    def __enter__(self) -> TokenWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            self.tokens()

    def tokens(self) -> list[str]:
        """Every token seen so far (reads the databases now, too)."""
        try:
            fresh = issued_tokens(self._state_dir)
        except sqlite3.Error:
            fresh = []  # a database busy this instant: the next round sees it
        with self._lock:
            self._tokens.update(fresh)
            return sorted(self._tokens)


#: Folders a wide search never enters: other sessions' and tools' own, and package caches.
PRUNED = frozenset(
    {".git", ".venv", "node_modules", ".npm", "pip", "uv", "ms-playwright", ".pyenv", ".claude",
     ".rustup", ".cargo", "site-packages", "__pycache__"}
)  # fmt: skip


def recent_files(
    root: Path, *, since: float, max_bytes: int, skip: Iterable[Path] = ()
) -> Iterator[Path]:
    """Files under ``root`` changed at or after ``since`` (epoch seconds), up to ``max_bytes``."""
    skipped = {path.resolve() for path in skip}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [
            name for name in dirs
            if name not in PRUNED and (Path(folder) / name).resolve() not in skipped
        ]  # fmt: skip
        for name in names:
            path = Path(folder) / name
            try:
                info = path.lstat()
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and info.st_mtime >= since and info.st_size <= max_bytes:
                yield path
