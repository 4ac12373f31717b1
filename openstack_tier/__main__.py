"""Command line: ``python -m openstack_tier up|down|status|run-tests|run|clouds-yaml|install|lock``.

`run` is what `make test-openstack` calls: up, the contract suite, then down, always; its exit
code is the suite's. Timings and the services' memory are printed at the end.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType

from openstack_tier import install
from openstack_tier.tier import Tier, say, with_stop

__all__ = ["main"]

SETUP_FAILED = 3


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _run(tier: Tier, extra: list[str]) -> int:
    start = time.monotonic()
    stale = tier.down(phase="stale stop")
    if stale:
        say(f"stopped services left from an earlier run: {' '.join(stale)}")

    def body() -> int:
        try:
            clouds = tier.up()
        # Any setup failure (install, config, a service not coming up) is reported, everything
        # is stopped and the target fails with its own exit code instead of a traceback.
        except Exception as error:  # noqa: BLE001
            say(f"setup failed: {error}")
            return SETUP_FAILED
        say(f"ready; clouds.yaml: {clouds} (entry openstack-real)")
        return tier.run_suite(clouds, extra)

    code = with_stop(tier, body)
    say(f"timings: {tier.timings.summary()}; total {time.monotonic() - start:.1f} s")
    say(f"suite exit code {code}")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m openstack_tier", description=__doc__)
    parser.add_argument(
        "command",
        choices=["up", "down", "status", "run-tests", "run", "clouds-yaml", "install", "lock"],
    )
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (run, run-tests)")
    args = parser.parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit_on_signal)
    tier = Tier.from_env()
    match args.command:
        case "run":
            return _run(tier, args.pytest_args)
        case "up":
            clouds = tier.up()
            count, kib = tier.rss()
            say(f"ready; clouds.yaml: {clouds} (entry openstack-real)")
            say(
                f"timings: {tier.timings.summary()}; {count} processes, {kib / 1048576:.2f} GiB RSS"
            )
        case "down":
            stopped = tier.down()
            say(f"stopped: {' '.join(stopped) or 'nothing was running'}")
        case "status":
            for name, pid, alive in tier.status():
                print(f"{name:16} {pid:>8} {'running' if alive else 'gone'}")
            count, kib = tier.rss()
            print(f"{count} processes, {kib / 1024:.0f} MiB RSS")
        case "run-tests":
            return tier.run_suite(tier.paths.clouds_yaml, args.pytest_args)
        case "clouds-yaml":
            from openstack_tier.fixtures import write_clouds_yaml

            print(write_clouds_yaml(tier.config()))
        case "install":
            tier.install()
            say(f"timings: {tier.timings.summary()}")
        case "lock":
            print(install.freeze_constraints(tier.paths, tier.paths.logs / "lock.log"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
