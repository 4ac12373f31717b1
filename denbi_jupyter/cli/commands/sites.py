"""``denbi-jupyter sites``: the sites configured in clouds.yaml (never their credentials)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from denbi_jupyter.cli._output import add_json_flag, emit_json, table

__all__ = ["register", "run"]


def run(args: argparse.Namespace) -> int:
    """List the sites."""
    from denbi_jupyter.cloud import list_sites

    sites = list_sites()
    default = os.environ.get("OS_CLOUD", "")
    if args.json:
        emit_json([{**_fields(site), "default": site.name == default} for site in sites])
        return 0
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
    print(table(["  SITE", "REGION", "SSH GATEWAY", "PORT FORMULA", "GUACAMOLE"], rows))
    return 0


def _fields(site: Any) -> dict[str, Any]:
    return {
        "name": site.name,
        "region": site.region,
        "auth_url": site.auth_url,
        "gateway_host": site.gateway_host,
        "ssh_port_formula": site.ssh_port_formula,
        "guacamole_base_url": site.guacamole_base_url,
        "ssh_user": site.ssh_user,
    }


def register(subparsers: Any) -> None:
    """Add the ``sites`` subcommand."""
    parser = subparsers.add_parser(
        "sites",
        help="list the sites (clouds.yaml entries)",
        description="List the de.NBI sites configured in clouds.yaml ($OS_CLIENT_CONFIG_FILE "
        "or the usual places); * marks $OS_CLOUD.",
    )
    add_json_flag(parser)
    parser.set_defaults(run=run)
