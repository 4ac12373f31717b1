"""``denbi-jupyter local-cloud``: serve the embedded OpenStack-compatible cloud on loopback.

It writes a ``clouds.yaml`` (mode 0600) with one entry per site, prints how to use it and one
line saying it is ready (URL and clouds.yaml path, never the password), then serves until
Ctrl-C. ``demo`` builds on :func:`add_serve_arguments` and :func:`run_serving`.
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from denbi_jupyter.cli._output import add_command
from denbi_jupyter.errors import UserInputError

__all__ = [
    "DEFAULT_CLOUDS_YAML",
    "DEFAULT_PORT",
    "DEFAULT_STATE_DIR",
    "add_serve_arguments",
    "config_from_args",
    "interrupt_on_signals",
    "ready_line",
    "register",
    "run",
    "run_serving",
    "start_cloud",
    "usage_lines",
]

#: What ``denbi-jupyter --help`` and ``denbi-jupyter local-cloud --help`` say of it.
_HELP = "serve the embedded OpenStack-compatible cloud on loopback"
_DESCRIPTION = (
    "Serve a small OpenStack-compatible cloud (Keystone, Glance, Nova, Neutron) with a "
    "de.NBI-like catalog on 127.0.0.1, one cloud per site, and write a clouds.yaml "
    "for it. Ctrl-C stops it."
)

#: Where the cloud listens unless ``--port`` says otherwise (0 picks a free port).
DEFAULT_PORT = 8790
#: Where state (databases, image data, the generated password) is kept between runs.
DEFAULT_STATE_DIR = Path(".denbi/local-cloud")
#: Where the clouds.yaml is written.
DEFAULT_CLOUDS_YAML = Path(".denbi/clouds.yaml")


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must not be negative")
    return value


def _port(text: str) -> int:
    value = _non_negative(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port (0-65535)")
    return value


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options every command that serves the local cloud shares."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"TCP port (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help=f"state folder, kept between runs (default {DEFAULT_STATE_DIR})",
    )
    parser.add_argument(
        "--clouds-yaml",
        type=Path,
        default=DEFAULT_CLOUDS_YAML,
        help=f"clouds.yaml to write (default {DEFAULT_CLOUDS_YAML})",
    )
    parser.add_argument(
        "--seed-snapshots",
        type=_non_negative,
        default=0,
        metavar="N",
        help="extra snapshots to seed in the first site (only when the state is new)",
    )
    parser.add_argument("--faults", type=Path, metavar="FILE", help="JSON file of fault rules")
    parser.add_argument(
        "--fault-seed", type=int, default=0, metavar="N", help="seed of probabilistic faults"
    )
    parser.add_argument(
        "--fast", action="store_true", help="state changes in fractions of a second (tests)"
    )
    parser.add_argument(
        "--no-ssh",
        dest="ssh",
        action="store_false",
        help="do not serve SSH on the VMs' gateway ports (by default every ACTIVE VM answers)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host that is not a loopback address",
    )


def _check_host(host: str, *, allow_remote: bool) -> None:
    if allow_remote or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        raise UserInputError(
            f"--host {host!r} is not an IP address: use 127.0.0.1 (or add --allow-remote)"
        ) from None
    if not loopback:
        raise UserInputError(
            f"--host {host} is not a loopback address: the local cloud has a known password "
            "and no TLS, so it listens on 127.0.0.1 unless you add --allow-remote"
        )


def config_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~denbi_jupyter.localcloud.LocalCloudConfig` the options describe.

    Raises:
        UserInputError: A non-loopback ``--host`` without ``--allow-remote``, or a missing
            faults file.
    """
    from denbi_jupyter.localcloud import LocalCloudConfig, Timings

    _check_host(args.host, allow_remote=args.allow_remote)
    if args.faults is not None and not args.faults.is_file():
        raise UserInputError(f"--faults {args.faults}: no such file")
    return LocalCloudConfig(
        host=args.host,
        port=args.port,
        state_dir=args.state.resolve(),
        seed_snapshots=args.seed_snapshots,
        timings=Timings.fast() if args.fast else Timings(),
        faults_file=args.faults,
        fault_seed=args.fault_seed,
        ssh=args.ssh,
    )


def start_cloud(args: argparse.Namespace) -> tuple[Any, Path]:
    """Start the local cloud the options describe and write its clouds.yaml.

    Returns:
        The started :class:`~denbi_jupyter.localcloud.LocalCloud` and the clouds.yaml path.

    Raises:
        UserInputError: Bad options, or the port is taken.
    """
    from denbi_jupyter.localcloud import LocalCloud

    config = config_from_args(args)
    cloud = LocalCloud(config)
    try:
        cloud.start()
    except OSError as error:
        cloud.stop()
        raise UserInputError(
            f"cannot listen on {config.host}:{config.port} ({error.strerror}): "
            "pick another --port (0 picks a free one)"
        ) from None
    clouds_yaml = cloud.write_clouds_yaml(args.clouds_yaml.resolve())
    return cloud, clouds_yaml


def usage_lines(cloud: Any, clouds_yaml: Path) -> list[str]:
    """How to point openstackclient / openstacksdk at the running cloud."""
    sites = ", ".join(profile.name for profile in cloud.config.sites)
    first = cloud.config.sites[0].name
    return [
        f"Sites (clouds.yaml entries): {sites}",
        f"Use it: export OS_CLIENT_CONFIG_FILE={clouds_yaml} OS_CLOUD={first}",
        "Then e.g.: openstack image list --tag guacamole   (Ctrl-C stops the cloud)",
    ]


def ready_line(cloud: Any, clouds_yaml: Path) -> str:
    """The one line announcing that the cloud serves (no credentials in it)."""
    return f"denbi-jupyter local cloud ready at {cloud.url} (clouds.yaml: {clouds_yaml})"


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 - signal handler
    raise KeyboardInterrupt


@contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into KeyboardInterrupt while the block runs.

    SIGINT is set explicitly because a shell starts background commands with it ignored.
    """
    previous = {
        signum: signal.signal(signum, _raise_interrupt)
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_serving(args: argparse.Namespace, *, guide: Callable[[Any, Path], list[str]]) -> int:
    """Start the cloud, print ``guide`` lines and the ready line, serve until Ctrl-C/SIGTERM.

    Returns:
        Exit code 0 once the cloud has stopped.
    """
    if args.seed_snapshots and (args.state / "credentials.json").exists():
        print(
            f"note: {args.state} already holds a seeded cloud; --seed-snapshots only applies "
            "to a new --state folder",
            file=sys.stderr,
        )
    with interrupt_on_signals():
        cloud, clouds_yaml = start_cloud(args)
        try:
            for line in guide(cloud, clouds_yaml):
                print(line)
            print(ready_line(cloud, clouds_yaml), flush=True)
            cloud.wait()
        except KeyboardInterrupt:
            pass
        finally:
            cloud.stop()
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``local-cloud``."""
    return run_serving(args, guide=usage_lines)


def register(subparsers: Any) -> None:
    """Add the ``local-cloud`` subcommand."""
    parser = add_command(subparsers, "local-cloud", run, help=_HELP, description=_DESCRIPTION)
    add_serve_arguments(parser)
