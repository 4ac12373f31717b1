"""``denbi-jupyter demo``: the local cloud, a Prefect server and JupyterLab with the main notebook.

``make demo`` runs this. JupyterLab listens on loopback with a random token (printed); its
kernels reach the local cloud through a clouds.yaml, exactly like a real cloud, and run flows
on the Prefect server (its UI URL is printed; run history kept next to the cloud's state;
commands share it when ``DENBI_JUPYTER_PREFECT_HOME`` names its folder, as printed).
Ctrl-C stops the lab, its kernels, the Prefect server and the local cloud. ``--no-lab`` serves
only the local cloud.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from denbi_jupyter.cli._output import add_command
from denbi_jupyter.cli.commands.local_cloud import (
    add_serve_arguments,
    config_from_args,
    interrupt_on_signals,
    run_serving,
    usage_lines,
)

__all__ = ["demo_guide", "register", "run"]

#: What ``denbi-jupyter --help`` and ``denbi-jupyter demo --help`` say of it.
_HELP = "start the local cloud and JupyterLab with the main notebook"
_DESCRIPTION = (
    "Start the embedded local cloud (two de.NBI-like sites) and JupyterLab "
    "on loopback, opening notebooks/denbi_cloud.ipynb. Ctrl-C stops everything."
)


def demo_guide(cloud: Any, clouds_yaml: Path) -> list[str]:
    """The how-to printed before the ready line of ``demo --no-lab``."""
    first = cloud.config.sites[0].name
    return [
        "de.NBI Cloud demo: a local OpenStack-compatible cloud with a de.NBI-like catalog.",
        *usage_lines(cloud, clouds_yaml),
        "Try:",
        "  openstack image list --tag guacamole",
        "  openstack image show X2Go_xfce",
        "  openstack flavor list",
        "  openstack server create --image X2Go_xfce --flavor 'de.NBI small' --wait my-vm",
        f"In Python: openstack.connect(cloud='{first}') with OS_CLIENT_CONFIG_FILE set as above.",
    ]


def run(args: argparse.Namespace) -> int:
    """Run ``demo``."""
    if args.no_lab:
        return run_serving(args, guide=demo_guide)
    from denbi_jupyter.lab import launch_lab

    config = config_from_args(args)
    with interrupt_on_signals():
        state = config.state_dir.parent
        return launch_lab(
            port=args.lab_port,
            cloud_config=config,
            prefect_home=state / "prefect",
            lab_dir=state / "lab",
        )


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser = add_command(subparsers, "demo", run, help=_HELP, description=_DESCRIPTION)
    add_serve_arguments(parser)
    parser.add_argument(
        "--lab-port",
        type=int,
        default=None,
        help="JupyterLab's port on 127.0.0.1 (default: 8888, or any free one if taken; 0: any)",
    )
    parser.add_argument(
        "--no-lab", action="store_true", help="serve only the local cloud, without JupyterLab"
    )
