"""May this VM be snapshotted now? The pre-flight verdict, pure, from facts already fetched.

Gathering the facts (the server, its flavor, whether the name is taken) is I/O and lives with
the callers (``CloudClient`` calls in the snapshot flow and :func:`flows.snapshot.preflight`);
the verdict lives here. Rules: the VM exists and is ACTIVE or SHUTOFF (ACTIVE and busy only
warn); the trimmed name is usable (:mod:`.names`) and unused in the project; de.NBI does not
snapshot VMs whose flavor has more than 256 GB RAM; an ephemeral disk is not part of a
snapshot (a warning).
"""

from __future__ import annotations

from dataclasses import dataclass

from denbi_jupyter.cloud.rules.names import NameKind, name_problem
from denbi_jupyter.cloud.types import Flavor, Server

__all__ = ["MAX_SNAPSHOT_RAM_MB", "SNAPSHOT_STATES", "Preflight", "evaluate"]

#: de.NBI does not snapshot VMs whose flavor has more RAM than this (256 GB).
MAX_SNAPSHOT_RAM_MB = 256 * 1024
#: Server states a snapshot can be taken in.
SNAPSHOT_STATES = ("ACTIVE", "SHUTOFF")


@dataclass(frozen=True, slots=True)
class Preflight:
    """What speaks against a snapshot, before it is taken.

    Attributes:
        errors: Reasons the snapshot must not start (one sentence each).
        warnings: Things the user should know (the snapshot may still start).
        name: The snapshot name as it will be used (trimmed).
    """

    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    name: str = ""

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors


def evaluate(
    *, server: Server | None, server_ref: str, flavor: Flavor | None, name: str, name_taken: bool
) -> Preflight:
    """The pre-flight verdict from facts already fetched (pure).

    Args:
        server: The VM, or None when it does not exist.
        server_ref: How the caller named the VM (for the message when it does not exist).
        flavor: The VM's flavor, or None when it could not be found.
        name: The snapshot name as given.
        name_taken: Whether an image of the project already has the trimmed name.
    """
    errors: list[str] = []
    warnings: list[str] = []
    clean = name.strip()
    problem = name_problem(NameKind.SNAPSHOT, clean)
    if problem:
        errors.append(problem)
    elif name_taken:
        errors.append(f"The name {clean!r} is already used in this project: choose another.")
    if server is None:
        errors.append(f"Server {server_ref!r} does not exist (any more) in this project.")
        return Preflight(errors=tuple(errors), warnings=tuple(warnings), name=clean)
    if server.status not in SNAPSHOT_STATES:
        errors.append(
            f"VM {server.name!r} is {server.status}: a snapshot needs an ACTIVE or SHUTOFF VM."
        )
    elif server.status == "ACTIVE":
        warnings.append("VM is ACTIVE: stop it first for a consistent snapshot.")
    if server.task_state:
        warnings.append(f"VM is busy ({server.task_state}): the snapshot starts once that is done.")
    if flavor is None:
        warnings.append("The VM's flavor is unknown: the 256 GB RAM limit could not be checked.")
    else:
        if flavor.ram_mb > MAX_SNAPSHOT_RAM_MB:
            errors.append(
                f"Flavor {flavor.name} has more than 256 GB RAM ({flavor.ram_gb:g} GB): "
                "de.NBI does not snapshot such VMs."
            )
        if flavor.ephemeral_gb > 0:
            warnings.append(
                f"The ephemeral disk ({flavor.ephemeral_gb} GB) is not part of a snapshot: "
                "copy what you need from it elsewhere first."
            )
    return Preflight(errors=tuple(errors), warnings=tuple(warnings), name=clean)
