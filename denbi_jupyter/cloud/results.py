"""What the flows return: frozen, typed results that panels, the CLI and tests read.

Flows live in ``flows/`` (the Prefect entry points), but their results are domain types, so
that panels (which never import ``flows``) can read them without string matching.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, overload

from denbi_jupyter.cloud.rules.servers import ServerAction

if TYPE_CHECKING:
    from denbi_jupyter.cloud.rules.copy import ImageUsage
    from denbi_jupyter.connect.details import ConnectionDetails

__all__ = [
    "BootResult",
    "CopyResult",
    "DeleteItem",
    "DeleteOutcome",
    "DeleteReport",
    "NightlyItem",
    "NightlyReport",
    "PolicyDeletion",
    "PolicyItem",
    "PolicyRunReport",
    "RetentionReport",
    "ServerActionResult",
    "SnapshotResult",
]


@dataclass(frozen=True, slots=True)
class BootResult:
    """A VM the boot flow started (or found from an earlier run with the same request id)."""

    site: str
    server_id: str
    name: str
    status: str
    image_id: str
    image_name: str
    flavor: str
    key_name: str | None
    private_ipv4: str | None
    request_id: str
    reused: bool
    flow_run_id: str | None
    #: How to connect, or None with ``unreachable_reason`` when no gateway leads there.
    connection: ConnectionDetails | None = None
    unreachable_reason: str | None = None


@dataclass(frozen=True, slots=True)
class SnapshotResult:
    """An active snapshot the snapshot flow made (or reused on a re-run)."""

    site: str
    image_id: str
    name: str
    status: str
    size: int | None
    server_id: str
    server_name: str
    source_image_id: str | None
    request_id: str
    flow_run_id: str | None
    reused: bool
    tags: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CopyResult:
    """An active, verified copy of an image at another site (or one reused from a re-run).

    ``sha512`` and ``size`` are the target's ``os_hash_value`` and size, checked equal to the
    source's; ``reused`` says an earlier run's finished copy was found, ``replaced_partial``
    that a failed partial copy of an earlier run was deleted first.
    """

    source_site: str
    source_id: str
    target_site: str
    target_id: str
    name: str
    size: int
    sha512: str
    reused: bool
    replaced_partial: bool = False
    status: str = "active"
    flow_run_id: str | None = None
    tags: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


class DeleteOutcome(StrEnum):
    """How the delete of one named image ended."""

    DELETED = "deleted"
    REFUSED = "refused"
    NOT_FOUND = "not found"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DeleteItem:
    """One named image's result; ``reason`` says why it was refused or failed."""

    id: str
    name: str | None
    outcome: DeleteOutcome
    reason: str = ""

    @property
    def text(self) -> str:
        """One line for people: ``deleted``, ``refused: protected``, ``failed: …``."""
        return f"{self.outcome.value}: {self.reason}" if self.reason else self.outcome.value


class _Counted:
    """A report's read-only count of the items that ended with one outcome."""

    def __init__(self, outcome: DeleteOutcome) -> None:
        self._outcome = outcome

    @overload
    def __get__(self, report: None, owner: type | None = None) -> _Counted: ...
    @overload
    def __get__(self, report: DeleteReport, owner: type | None = None) -> int: ...
    def __get__(self, report: DeleteReport | None, owner: type | None = None) -> int | _Counted:
        return self if report is None else report.count(self._outcome)


@dataclass(frozen=True, slots=True)
class DeleteReport:
    """Every named id with exactly one result, in the order given."""

    items: tuple[DeleteItem, ...]

    def count(self, outcome: DeleteOutcome) -> int:
        """How many items ended with ``outcome``."""
        return sum(item.outcome is outcome for item in self.items)

    #: Items deleted (or gone by the time we asked).
    deleted = _Counted(DeleteOutcome.DELETED)
    #: Items refused without a delete call (protected, not owned, not a snapshot).
    refused = _Counted(DeleteOutcome.REFUSED)
    #: Items that did not exist.
    not_found = _Counted(DeleteOutcome.NOT_FOUND)
    #: Items whose delete the cloud did not do.
    failed = _Counted(DeleteOutcome.FAILED)


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What a retention pass found and deleted (``deleted`` is None on a dry run or no-op).

    ``found`` counts the snapshots proven the schedule's by its mark; ``unproven`` lists those
    that carry the schedule's property but not its mark (inherited from a source image, or
    made before the mark existed): they are never deleted.
    """

    found: int
    to_delete: tuple[str, ...]
    dry_run: bool
    deleted: DeleteReport | None = None
    unproven: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NightlyItem:
    """One VM of a scheduled run: the snapshot made, or the error."""

    server: str
    image_id: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class NightlyReport:
    """A scheduled snapshot run: one item per VM, then retention."""

    snapshots: tuple[NightlyItem, ...]
    retention: RetentionReport


@dataclass(frozen=True, slots=True)
class ServerActionResult:
    """A VM a lifecycle flow stopped, started, rebooted or deleted, as it settled.

    ``status`` is the VM's final Nova status (``SHUTOFF``, ``ACTIVE``), or ``DELETED`` once
    Nova answers 404.
    """

    site: str
    server_id: str
    name: str
    action: ServerAction
    status: str
    flow_run_id: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyDeletion:
    """A snapshot a policy run's retention deleted (or, on a dry run, would delete)."""

    image_id: str
    name: str
    reason: str
    #: The delete's own outcome (``deleted``, ``failed: …``); empty on a dry run.
    outcome: str = ""


@dataclass(frozen=True, slots=True)
class PolicyItem:
    """One opted-in VM in a policy run: the snapshot made or why not, and the retention."""

    server: str
    server_id: str
    #: The policy in words, or empty when it could not be read.
    policy: str
    #: ``made``, ``reused`` (an earlier run of the slot had made it), ``not due``, ``failed``
    #: or ``dry run``.
    outcome: str
    reason: str
    slot: str | None = None
    image_id: str | None = None
    deletions: tuple[PolicyDeletion, ...] = ()
    kept: int = 0
    error: str | None = None

    @property
    def failed(self) -> bool:
        """True when the snapshot, the policy or one of the deletions failed."""
        return self.error is not None or any(d.outcome.startswith("failed") for d in self.deletions)


@dataclass(frozen=True, slots=True)
class PolicyRunReport:
    """A policy run on one site: one item per opted-in VM, in the order Nova listed them."""

    site: str
    at: str
    items: tuple[PolicyItem, ...]
    dry_run: bool = False
    flow_run_id: str | None = None
    #: The project's image quota after the run (Glance ``/v2/info/usage``); None: not read.
    quota: ImageUsage | None = None
    #: Why the quota could not be read, when it could not.
    quota_error: str = ""

    @property
    def failures(self) -> tuple[PolicyItem, ...]:
        """The items that failed."""
        return tuple(item for item in self.items if item.failed)
