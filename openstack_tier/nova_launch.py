"""Launcher of nova-compute, nova-conductor and nova-scheduler for the tier.

``python -m openstack_tier.nova_launch compute --config-file nova.conf`` (tier virtualenv).
Two changes to stock behaviour, both for a fast and observable test tier:

- compute: our driver is registered as `nova.virt.denbi_fake` first, since Nova loads drivers
  only from the `nova.virt` package (`compute_driver` is relative to it);
- every service sends its first heartbeat as soon as its RPC server listens, instead of 5 s
  later, so that "the service row is fresh" tells the harness the service is ready.
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["BINARIES", "DRIVER_MODULE", "main"]

DRIVER_MODULE = "nova.virt.denbi_fake"
BINARIES: tuple[str, ...] = ("compute", "conductor", "scheduler")


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv if argv is None else argv)
    if len(args) < 2 or args[1] not in BINARIES:
        raise SystemExit(f"usage: nova_launch {{{','.join(BINARIES)}}} [nova options]")
    binary = args[1]
    # nova.cmd.* patches the standard library on import: it must come first.
    command = importlib.import_module(f"nova.cmd.{binary}")
    vars(importlib.import_module("nova.servicegroup.api"))["INITIAL_REPORTING_DELAY"] = 0
    if binary == "compute":
        driver = importlib.import_module("openstack_tier.nova_driver")
        sys.modules[DRIVER_MODULE] = driver
        package, _, attribute = DRIVER_MODULE.rpartition(".")
        setattr(importlib.import_module(package), attribute, driver)
    sys.argv = [f"nova-{binary}", *args[2:]]
    command.main()


if __name__ == "__main__":
    main()
