"""The fault scenarios of the matrix: one list every matrix file parametrizes over.

A :class:`Scenario` is one column of the matrix: the local-cloud fault rules it adds (without
``site``: :func:`rules_for` fills it in, and the ``{create}`` / ``{action}`` placeholders of a
flow's own request paths), what a flow under it must end with (``"succeeds"`` or
``"fails_clearly"`` with one of ``error`` whose message matches ``message``), and which flows
it is about (``flows``; ``None``: every flow; ``untouched``: flows that never call the faulty
service). ``per_flow`` overrides the outcome for a flow the fault touches differently.

The API is stable (helper A2 imports it read-only): ``SCENARIOS``, :class:`Scenario`,
:class:`Outcome`, :func:`rules_for`, :func:`scenarios_for`, :data:`API_TIMEOUT`, :data:`SLOW`.

Fault kinds are those of :mod:`denbi_jupyter.localcloud.faults`; ``late`` holds a request
``seconds`` (beyond the client's ``api_timeout``) and then processes it, ``token_expire`` /
``token_revoke`` end every token Keystone issued so far when a matching request arrives (that
request gets Keystone's 401).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from denbi_jupyter.errors import (
    CloudUnavailableError,
    ConflictError,
    DenbiError,
    OperationFailedError,
    QuotaExceededError,
)

__all__ = [
    "API_TIMEOUT",
    "SCENARIOS",
    "SLOW",
    "Outcome",
    "Scenario",
    "rules_for",
    "scenarios_for",
]

Expectation = Literal["succeeds", "fails_clearly"]

#: The ``api_timeout`` (s) of the matrix's clouds.yaml variants.
API_TIMEOUT = 1.5
#: A latency / late fault's delay: well beyond :data:`API_TIMEOUT`.
SLOW = API_TIMEOUT + 1.5

#: Message of an outage: the service failed or did not answer, try later (never a config hint).
OUTAGE = r"(HTTP 5\d\d|failing|not answering|broke off).*try again later"


@dataclass(frozen=True)
class Outcome:
    """How a flow must end: success, or one error of ``error`` whose message matches."""

    expectation: Expectation
    error: tuple[type[DenbiError], ...] = ()
    message: str = ""


@dataclass(frozen=True)
class Scenario:
    """One fault of the matrix (a column): rules, expected outcome, flows it is about."""

    name: str
    rules: tuple[Mapping[str, Any], ...]
    expectation: Expectation = "succeeds"
    error: tuple[type[DenbiError], ...] = ()
    message: str = ""
    flows: frozenset[str] | None = None
    per_flow: Mapping[str, Outcome] = field(default_factory=dict)
    untouched: frozenset[str] = frozenset()  # flows that never call the faulty service

    def outcome(self, flow: str) -> Outcome:
        """The outcome ``flow`` must reach under this fault."""
        return self.per_flow.get(flow, Outcome(self.expectation, self.error, self.message))

    def rules_for(self, site: str, **fill: str) -> list[dict[str, Any]]:
        """The rules with ``site`` set and ``{name}`` placeholders filled from ``fill``."""
        return rules_for(self, site, **fill)


def rules_for(scenario: Scenario, site: str, **fill: str) -> list[dict[str, Any]]:
    """``scenario``'s rules for ``site``; ``{create}``, ``{action}``... filled from ``fill``.

    ``create``: a regular expression of the path of the flow's create request (the
    ``late``/``drop`` rules of a create); ``action``: of its state-changing request.
    """
    defaults = {"create": r"/compute/v2\.1/servers$", "action": r"/action$"}
    values = {**defaults, **fill}
    rules = []
    for rule in scenario.rules:
        filled = {
            key: value.format(**values) if isinstance(value, str) and "{" in value else value
            for key, value in rule.items()
        }
        rules.append({**filled, "site": site})
    return rules


def scenarios_for(flow: str) -> list[Scenario]:
    """The scenarios of :data:`SCENARIOS` about ``flow``."""
    return [
        s for s in SCENARIOS if (s.flows is None or flow in s.flows) and flow not in s.untouched
    ]


def _persistent(
    service: str, flows: frozenset[str] | None = None, untouched: frozenset[str] = frozenset()
) -> Scenario:
    return Scenario(
        f"5xx persistent ({service})",
        ({"kind": "error", "service": service},),
        "fails_clearly",
        (CloudUnavailableError,),
        OUTAGE,
        flows=flows,
        untouched=untouched,
    )


_FINE = Outcome("succeeds")
#: A key import is one CLI call without retries: a transient fault ends it as an outage
#: ("try again later"); the flows retry their reads and ride it out.
_ONE_SHOT = {"key import": Outcome("fails_clearly", (CloudUnavailableError,), OUTAGE)}
_SNAPSHOT = frozenset({"snapshot", "policy run"})

#: Every scenario, in the matrix's column order.
SCENARIOS: list[Scenario] = [
    Scenario("5xx burst", ({"kind": "error", "status": 503, "count": 2},), per_flow=_ONE_SHOT),
    _persistent("identity"),
    _persistent("image", untouched=frozenset({"server actions", "key import"})),
    _persistent("compute"),
    # No flow calls Neutron (the cloud layer has no network call; Nova wires the ports
    # itself): the scenario is about no flow until one does (then name it here).
    _persistent("network", flows=frozenset()),
    Scenario(
        "latency > api_timeout",
        ({"kind": "latency", "method": "GET", "seconds": SLOW, "count": 1},),
        per_flow=_ONE_SHOT,
    ),
    Scenario(
        "latency, persistent",
        ({"kind": "latency", "service": "compute", "seconds": SLOW},),
        "fails_clearly",
        (CloudUnavailableError, OperationFailedError),
        r"not answering|did not answer",
        flows=frozenset({"boot", "key import"}),  # the others fail the same way, more slowly
    ),
    Scenario(
        "dropped connection", ({"kind": "drop", "method": "GET", "count": 1},), per_flow=_ONE_SHOT
    ),
    Scenario(
        "token expiry",
        ({"kind": "token_expire", "method": "POST", "path": "{create}", "count": 1},),
    ),
    Scenario(
        "token revocation",
        ({"kind": "token_revoke", "method": "POST", "path": "{create}", "count": 1},),
    ),
    Scenario(
        "409 conflict",
        ({"kind": "conflict", "method": "POST", "path": "{create}", "count": 1},),
        "fails_clearly",
        (ConflictError,),
        r"cannot .* right now",
        per_flow={"snapshot": _FINE},  # the snapshot flow waits out a busy VM's 409
    ),
    Scenario(
        "quota",
        ({"kind": "quota", "method": "POST", "path": "{create}", "count": 1},),
        "fails_clearly",
        (QuotaExceededError,),
        r"out of quota",
    ),
    Scenario(
        "late-processed create",
        ({"kind": "late", "method": "POST", "path": "{create}", "seconds": SLOW, "count": 1},),
    ),
    Scenario(
        "snapshot killed",
        ({"kind": "snapshot_killed", "count": 1},),
        "fails_clearly",
        (OperationFailedError,),
        r"'killed'",
        flows=_SNAPSHOT,
    ),
    Scenario(
        "snapshot vanished",
        ({"kind": "snapshot_vanish", "count": 1},),
        "fails_clearly",
        (OperationFailedError,),
        r"vanished",
        flows=_SNAPSHOT,
    ),
    Scenario(
        "snapshot stuck",
        ({"kind": "snapshot_stuck", "count": 1},),
        "fails_clearly",
        (OperationFailedError,),
        r"timed out after \d+ s",
        flows=_SNAPSHOT,
    ),
    Scenario(
        "server ERROR",
        ({"kind": "boot_error", "count": 1},),
        "fails_clearly",
        (OperationFailedError,),
        r"ERROR|No valid host",
        flows=frozenset({"boot"}),
    ),
]
