"""``denbi-jupyter sites``: the sites configured in clouds.yaml (never their credentials)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from denbi_jupyter.cli._output import add_command, add_json_flag, jsonable, show_listing

__all__ = ["register", "run"]

#: What ``denbi-jupyter --help`` and ``denbi-jupyter sites --help`` say of it.
_HELP = "list the sites (clouds.yaml entries)"
_DESCRIPTION = (
    "List the de.NBI sites configured in clouds.yaml ($OS_CLIENT_CONFIG_FILE "
    "or the usual places); * marks $OS_CLOUD."
)


def run(args: argparse.Namespace) -> int:
    """List the sites."""
    from denbi_jupyter.cloud import list_sites

    sites = list_sites()
    default = os.environ.get("OS_CLOUD", "")
    records = [{**jsonable(site), "default": site.name == default} for site in sites]
    rows = [
        (
            ("* " if site.name == default else "  ") + site.name,
            site.region,
            site.gateway_host,
            site.ssh_port_formula,
            site.guacamole_base_url,
        )
        for site in sites
    ]
    headers = ["  SITE", "REGION", "SSH GATEWAY", "PORT FORMULA", "GUACAMOLE"]
    code = show_listing(records, headers, rows, as_json=args.json)
    for site in sites:
        if site.problem:
            print(f"denbi-jupyter: warning: {site.problem}", file=sys.stderr)
    return code


def register(subparsers: Any) -> None:
    """Add the ``sites`` subcommand."""
    parser = add_command(subparsers, "sites", run, help=_HELP, description=_DESCRIPTION)
    add_json_flag(parser)
