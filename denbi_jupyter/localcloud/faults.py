"""Fault injection: make the local cloud slow, flaky or failing on purpose, deterministically.

Rules come from a JSON file (``--faults FILE``: a list of rules or ``{"rules": [...]}``) and at
run time from ``POST /_admin/faults``. A rule matches requests by ``site``, ``service``
(``identity``, ``image``, ``compute``, ``network``), HTTP ``method`` and ``path`` (a regular
expression searched in the full path, e.g. ``/bielefeld/compute/v2.1/servers``); every matcher
left out matches anything. What it does (``kind``):

=================== =====================================================================
``latency``         wait ``seconds`` before the request goes on (other rules still apply);
                    with ``answer`` (a regular expression) hold the service's answer instead,
                    and only when its body matches (``"status":\\s*"ACTIVE"``): the cloud has
                    done the work, the client has not heard of it yet
``late``            read the whole request, hold it ``seconds``, then let the service process
                    it even when the client gave up meanwhile (its ``api_timeout``): a create
                    the API accepted lands late, and the client never hears of it
``token_expire``    the request's token (``X-Auth-Token``) expires now, then the request goes
                    on and gets Keystone's 401, as does every later use of that token
``token_revoke``    the request's token is revoked, then the request goes on (401)
``error``           answer ``status`` (500, 502 or 503; default 503) in the service's shape
``drop``            send headers and part of the body, then close the connection
``conflict``        answer 409 in the service's shape
``quota``           answer the service's quota error (Nova: 403 "Quota exceeded for …")
``snapshot_killed`` the next snapshot's Glance image ends ``killed``, task_state clears
``snapshot_vanish`` the next snapshot's Glance image is deleted while it uploads
``snapshot_stuck``  the next snapshot's Glance image stays ``saving`` (and Nova uploading)
``boot_error``      the next server's boot ends in ERROR ("No valid host was found")
``download_cut``    a successful ``GET …/v2/images/{id}/file`` sends its real headers (full
                    ``Content-Length``) and only the first ``after_bytes`` bytes (default:
                    half the image) of the real data, then the connection closes
``download_corrupt`` the download sends full-length data with one byte flipped (at offset
                    ``after_bytes``, default: the middle), headers (``Content-MD5``) of the
                    original: a checksum mismatch only a verifying client notices
``upload_refused``  a ``PUT …/v2/images/{id}/file`` is answered 413 in Glance's shape (its
                    ``image_size_cap`` answer); the image stays ``queued``
=================== =====================================================================

The three image-data kinds match only image data paths (``/v2/images/{id}/file``; a download
fault only a 200 answer), besides the rule's own matchers; a held answer is never image
data. A fault that answers a request with a body (``PUT``/``POST``/``PATCH``) reads and drops
the body first, so the client gets the answer rather than a connection reset.

``count`` limits how often a rule fires (default: always), ``probability`` (default 1) draws
from the injector's random generator, seeded, so a run with the same requests fires the same
faults. The ``snapshot_*`` and ``boot_error`` rules act when Nova starts the operation (it asks
:meth:`FaultInjector.take_outcome`); the others answer in :meth:`FaultInjector.intercept`,
before the request reaches its service.

Example file::

    [{"kind": "error", "service": "image", "method": "GET", "status": 503, "count": 2},
     {"kind": "latency", "site": "heidelberg", "seconds": 0.5},
     {"kind": "snapshot_killed", "count": 1}]
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, cast

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from denbi_jupyter.localcloud.faults_stream import (
    DATA_PATH,
    Choice,
    DataStream,
    HeldAnswer,
    drain_body,
    hold_body,
)
from denbi_jupyter.localcloud.glance_upload import TOO_LARGE
from denbi_jupyter.localcloud.nova_microversion import negotiate, version_headers
from denbi_jupyter.localcloud.responses import ApiError, Service, render_error

__all__ = [
    "ANSWER_KINDS",
    "FAULT_KINDS",
    "OUTCOME_KINDS",
    "PASS_KINDS",
    "STREAM_KINDS",
    "FaultInjector",
    "FaultRule",
    "injector_of",
]

_LOG = logging.getLogger(__name__)

#: Kinds that answer (or delay) the matching request itself.
ANSWER_KINDS = frozenset(
    {"latency", "late", "token_expire", "token_revoke", "error", "drop", "conflict", "quota",
     "upload_refused"}
)  # fmt: skip
#: Answer kinds after which the request goes on (others still apply).
PASS_KINDS = frozenset({"latency", "late", "token_expire", "token_revoke"})
#: Kinds that change a successful image download while it streams.
STREAM_KINDS = frozenset({"download_cut", "download_corrupt"})
#: Kinds that decide how an operation Nova starts will end.
OUTCOME_KINDS = frozenset({"snapshot_killed", "snapshot_vanish", "snapshot_stuck", "boot_error"})
FAULT_KINDS = ANSWER_KINDS | OUTCOME_KINDS | STREAM_KINDS
_BODY_METHODS = frozenset({"PUT", "POST", "PATCH"})

_SERVICES = frozenset({"identity", "image", "compute", "network"})
_ERROR_STATUSES = frozenset({500, 502, 503})
_STATE_KEY = "fault_injector"

_QUOTA_ERRORS: dict[str, tuple[int, str, str | None]] = {
    "compute": (
        403,
        "Quota exceeded for instances: Requested 1, but already used 10 of 10 instances",
        "forbidden",
    ),
    "image": (413, "Denying attempt to upload image because it exceeds the quota", None),
    "network": (409, "Quota exceeded for resources: ['port'].", None),
    "identity": (403, "Quota exceeded.", None),
}


@dataclass(slots=True)
class FaultRule:
    """One fault rule; build it with :meth:`from_dict`."""

    kind: str
    site: str | None = None
    service: str | None = None
    method: str | None = None
    path: str | None = None
    count: int | None = None
    probability: float = 1.0
    seconds: float = 0.0
    status: int = 503
    after_bytes: int | None = None
    answer: str | None = None
    rule_id: int = 0
    fired: int = 0
    _pattern: re.Pattern[str] | None = field(default=None, repr=False)
    _answer: re.Pattern[bytes] | None = field(default=None, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, rule_id: int = 0) -> FaultRule:
        """Validate and build a rule from its JSON form.

        Raises:
            ValueError: With a message naming the offending field.
        """
        known = {
            "kind",
            "site",
            "service",
            "method",
            "path",
            "count",
            "probability",
            "seconds",
            "status",
            "after_bytes",
            "answer",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault rule field(s): {', '.join(unknown)}")
        kind = data.get("kind")
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {sorted(FAULT_KINDS)}, got {kind!r}")
        service = data.get("service")
        if service is not None and service not in _SERVICES:
            raise ValueError(f"service must be one of {sorted(_SERVICES)}, got {service!r}")
        count = data.get("count")
        if count is not None and (not isinstance(count, int) or count < 0):
            raise ValueError(f"count must be a non-negative integer, got {count!r}")
        probability = data.get("probability", 1.0)
        if not isinstance(probability, int | float) or not 0 <= probability <= 1:
            raise ValueError(f"probability must be between 0 and 1, got {probability!r}")
        seconds = data.get("seconds", 0.0)
        if not isinstance(seconds, int | float) or seconds < 0:
            raise ValueError(f"seconds must be a non-negative number, got {seconds!r}")
        status = data.get("status", 503)
        if kind == "error" and status not in _ERROR_STATUSES:
            raise ValueError(f"an error fault's status must be 500, 502 or 503, got {status!r}")
        after_bytes = data.get("after_bytes")
        if after_bytes is not None and (
            isinstance(after_bytes, bool) or not isinstance(after_bytes, int) or after_bytes < 0
        ):
            raise ValueError(f"after_bytes must be a non-negative integer, got {after_bytes!r}")
        path = data.get("path")
        try:
            pattern = re.compile(path) if path is not None else None
        except re.error as exc:
            raise ValueError(f"path is not a valid regular expression: {exc}") from exc
        answer = _answer_pattern(kind, data.get("answer"))
        method = data.get("method")
        return cls(
            kind=str(kind),
            site=data.get("site"),
            service=service,
            method=str(method).upper() if method is not None else None,
            path=path,
            count=count,
            probability=float(probability),
            seconds=float(seconds),
            status=int(status),
            after_bytes=after_bytes,
            answer=data.get("answer"),
            rule_id=rule_id,
            _pattern=pattern,
            _answer=answer,
        )

    def to_dict(self) -> dict[str, Any]:
        """The rule's JSON form, with its id, how often it fired and how often it may still."""
        return {
            "id": self.rule_id,
            "kind": self.kind,
            "site": self.site,
            "service": self.service,
            "method": self.method,
            "path": self.path,
            "count": self.count,
            "probability": self.probability,
            "seconds": self.seconds,
            "status": self.status,
            "after_bytes": self.after_bytes,
            "answer": self.answer,
            "fired": self.fired,
        }

    def matches(self, *, site: str, service: str | None, method: str, path: str) -> bool:
        """True when the request is one this rule is about (before count and probability)."""
        if self.kind in _DATA_METHODS and (
            method.upper() != _DATA_METHODS[self.kind] or DATA_PATH.search(path) is None
        ):
            return False
        return (
            (self.site is None or self.site == site)
            and (self.service is None or self.service == service)
            and (self.method is None or self.method == method.upper())
            and (self._pattern is None or self._pattern.search(path) is not None)
        )

    def holds_answer(self, body: bytes) -> bool:
        """True when this is an answer-holding rule and ``body`` is the answer it waits for."""
        return self._answer is not None and self._answer.search(body) is not None


def _answer_pattern(kind: object, answer: object) -> re.Pattern[bytes] | None:
    """The compiled ``answer`` of a rule (None without one).

    Raises:
        ValueError: ``answer`` is not a string, not a regular expression, or not on a latency.
    """
    if answer is None:
        return None
    if not isinstance(answer, str):
        raise ValueError(f"answer must be a regular expression (a string), got {answer!r}")
    if kind != "latency":
        raise ValueError(f"only a latency rule can hold an answer, not a {kind} rule")
    try:
        return re.compile(answer.encode())
    except re.error as exc:
        raise ValueError(f"answer is not a valid regular expression: {exc}") from exc


#: The image-data kinds and the one method each acts on.
_DATA_METHODS = {"download_cut": "GET", "download_corrupt": "GET", "upload_refused": "PUT"}


def _service(path: str) -> str | None:
    parts = path.split("/", 3)
    return parts[2] if len(parts) >= 3 and parts[2] in _SERVICES else None


def injector_of(request: Request) -> FaultInjector | None:
    """The injector that saw ``request`` in the app's middleware (None outside the app)."""
    injector = getattr(request.state, _STATE_KEY, None)
    return injector if isinstance(injector, FaultInjector) else None


class FaultInjector:
    """The fault rules of a local cloud and the seeded random generator behind them.

    Args:
        seed: Seeds the generator that ``probability`` draws from.
        sleep: Waits out a ``latency`` rule (tests pass one that records instead of waiting).
        on_tokens: Ends a token for a ``token_*`` rule: ``on_tokens(site, how, token_id)``
            with ``how`` ``"expire"`` or ``"revoke"`` (without it those rules only count).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_tokens: Callable[[str, str, str], object] | None = None,
    ) -> None:
        self._sleep = sleep
        self._on_tokens = on_tokens
        self._random = random.Random(seed)
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._next_id = 1

    def load_file(self, path: Path) -> list[FaultRule]:
        """Add the rules of a JSON file (a list, or ``{"rules": [...]}``).

        Raises:
            ValueError: The file is not valid JSON or a rule is invalid.
        """
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"fault file {path} is not valid JSON: {exc}") from exc
        return self.add(data)

    def add(self, data: Any) -> list[FaultRule]:
        """Add one rule (a dict), a list of them, or ``{"rules": [...]}``; all or none.

        Raises:
            ValueError: A rule is invalid (no rule is added then).
        """
        if isinstance(data, Mapping) and "rules" in data:
            data = data["rules"]
        items: Iterable[Any] = [data] if isinstance(data, Mapping) else data
        if not isinstance(items, list):
            raise ValueError('fault rules must be a JSON object, a list, or {"rules": [...]}')
        with self._lock:
            rules = []
            for offset, item in enumerate(items):
                if not isinstance(item, Mapping):
                    raise ValueError(f"fault rule #{offset + 1} is not a JSON object")
                rules.append(FaultRule.from_dict(item, rule_id=self._next_id + offset))
            self._next_id += len(rules)
            self._rules.extend(rules)
        return rules

    def rules(self) -> list[dict[str, Any]]:
        """Every rule in JSON form, in the order they apply."""
        with self._lock:
            return [rule.to_dict() for rule in self._rules]

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def _fire(self, rule: FaultRule) -> bool:
        """Whether ``rule`` fires now (count left, probability drawn); counts it. Hold the lock."""
        if rule.count is not None and rule.count <= 0:
            return False
        if rule.probability < 1.0 and self._random.random() >= rule.probability:
            return False
        if rule.count is not None:
            rule.count -= 1
        rule.fired += 1
        return True

    def _firing(self, *, site: str, service: str | None, method: str, path: str) -> list[FaultRule]:
        """The answer rules that fire for a request: latencies, then at most one answer."""
        firing: list[FaultRule] = []
        with self._lock:
            for rule in self._rules:
                if (
                    rule.kind in ANSWER_KINDS
                    and rule.answer is None
                    and rule.matches(site=site, service=service, method=method, path=path)
                    and self._fire(rule)
                ):
                    firing.append(rule)
                    if rule.kind not in PASS_KINDS:
                        break
        return firing

    def take_outcome(self, prefix: str, *, site: str, method: str, path: str) -> str | None:
        """The outcome the first firing ``{prefix}_*`` rule gives an operation, or None.

        Args:
            prefix: ``snapshot`` (answers ``killed``/``vanish``/``stuck``) or ``boot``
                (answers ``error``).
            site: The site the operation runs on.
            method: The HTTP method of the request that starts it.
            path: The full path of that request.
        """
        kinds = frozenset(k for k in OUTCOME_KINDS if k.startswith(prefix + "_"))
        with self._lock:
            for rule in self._rules:
                if (
                    rule.kind in kinds
                    and rule.matches(site=site, service="compute", method=method, path=path)
                    and self._fire(rule)
                ):
                    return rule.kind.split("_", 1)[1]
        return None

    async def intercept(
        self, scope: Scope, receive: Receive, send: Send, *, site: str
    ) -> Receive | None:
        """Apply the answer rules to a site request: None when a fault answered it, else the
        ``receive`` the request goes on with (a ``late`` rule's replays the body it held).

        Also leaves the injector in the request's state so Nova can ask :meth:`take_outcome`.
        """
        scope.setdefault("state", {})[_STATE_KEY] = self
        path: str = scope["path"]
        method: str = scope["method"]
        service = _service(path)
        firing = self._firing(site=site, service=service, method=method, path=path)
        for rule in firing:
            if rule.kind in PASS_KINDS:
                receive = await self._pass(rule, scope, receive, site=site)
                continue
            _LOG.warning("fault injection: %s for %s %s", rule.kind, method, path)
            if method.upper() in _BODY_METHODS:
                await drain_body(receive)
            if rule.kind == "drop":
                await _drop(send)
            else:
                response = _error_response(rule, scope, service)
                await response(scope, receive, send)
            return None
        return receive

    async def _pass(self, rule: FaultRule, scope: Scope, receive: Receive, *, site: str) -> Receive:
        """Act out a rule after which the request goes on; the ``receive`` it goes on with."""
        what = f"{scope['method']} {scope['path']}"
        if rule.kind == "latency":
            await self._sleep(rule.seconds)
        elif rule.kind == "late":
            _LOG.warning("fault injection: late (%.1f s) for %s", rule.seconds, what)
            receive = await hold_body(receive)
            await self._sleep(rule.seconds)
        else:
            _LOG.warning("fault injection: %s for %s", rule.kind, what)
            token = Headers(scope=scope).get("x-auth-token")
            if token and self._on_tokens is not None:
                self._on_tokens(site, rule.kind.removeprefix("token_"), token)
        return receive

    def answer_send(self, scope: Scope, send: Send, *, site: str) -> Send:
        """``send`` itself, or when an answer-holding ``latency`` rule matches the request, the
        wrapper that holds the answer ``seconds`` if its body is the one the rule waits for."""
        path: str = scope["path"]
        method: str = scope["method"]
        if DATA_PATH.search(path) is not None:
            return send  # image data streams; answers of JSON only are kept whole
        service = _service(path)
        with self._lock:
            rules = [
                rule
                for rule in self._rules
                if rule.answer is not None
                and rule.matches(site=site, service=service, method=method, path=path)
            ]
        if not rules:
            return send

        async def hold(body: bytes) -> None:
            with self._lock:
                rule = next((r for r in rules if r.holds_answer(body) and self._fire(r)), None)
            if rule is not None:
                _LOG.warning("fault injection: answer held %.1f s for %s %s", rule.seconds,
                             method, path)  # fmt: skip
                await self._sleep(rule.seconds)

        return HeldAnswer(send, hold)

    def data_send(self, scope: Scope, send: Send, *, site: str) -> Send:
        """``send`` itself, or for an image download the wrapper through which the
        ``download_*`` rules act (they fire, and count, only when a 200 answer starts)."""
        path: str = scope["path"]
        method: str = scope["method"]
        if method.upper() != "GET" or DATA_PATH.search(path) is None:
            return send

        def choose() -> Choice:
            with self._lock:
                for rule in self._rules:
                    if (
                        rule.kind in STREAM_KINDS
                        and rule.matches(site=site, service="image", method=method, path=path)
                        and self._fire(rule)
                    ):
                        _LOG.warning("fault injection: %s for %s %s", rule.kind, method, path)
                        return rule.kind, rule.after_bytes
            return None

        return DataStream(send, choose)


async def _drop(send: Send) -> None:
    """Promise a body, send a little of it, and return: the server closes the connection."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"', "more_body": True})


def _error_response(rule: FaultRule, scope: Scope, service: str | None) -> Response:
    kind: str | None = None
    if rule.kind == "error":
        status = rule.status
        message = f"{HTTPStatus(status).phrase} (injected fault)"
        kind = "computeFault" if status == 500 else None
    elif rule.kind == "upload_refused":
        status, message = 413, TOO_LARGE
    elif rule.kind == "conflict":
        status, message = 409, "There was a conflict when trying to complete your request."
    else:
        status, message, kind = _QUOTA_ERRORS.get(service or "", (413, "Quota exceeded.", None))
    error = ApiError(status, message, kind=kind)
    headers: dict[str, str] = {}
    if service == "compute" and "/v2.1" in scope["path"]:
        try:
            version = negotiate(Request(scope))
            headers = version_headers(f"{version[0]}.{version[1]}")
        except ApiError as bad_version:
            headers = bad_version.headers
    accept = Headers(scope=scope).get("accept", "")
    response = render_error(cast(Service, service or "image"), error, accept=accept)
    response.headers.update(headers)
    return response
