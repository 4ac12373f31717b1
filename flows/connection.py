"""Connection details of a VM as a JSON-able dict (what a boot flow returns).

Built with :mod:`denbi_jupyter.connect` from the site's gateway and port formula, the VM's
private IPv4 address and its image: SSH command and ``~/.ssh/config`` block, the X2Go session
file when the image is an X2Go desktop, and the Guacamole link when it is a Guacamole one.
"""

from __future__ import annotations

from denbi_jupyter.cloud.types import DesktopKind, Image, Server, SiteSettings
from denbi_jupyter.connect import (
    ConnectionInfo,
    guacamole_client_url,
    session_type_for_image,
    ssh_command,
    ssh_config_block,
    x2go_session_file,
)
from denbi_jupyter.errors import UserInputError

__all__ = ["connection_details", "connection_info"]


def connection_info(
    site: SiteSettings, server: Server, *, key_path: str | None = None
) -> ConnectionInfo:
    """How to reach ``server`` through the site's gateway.

    Raises:
        UserInputError: The site has no gateway or port formula, the VM has no private IPv4
            address yet, or the formula gives no valid port.
    """
    if not site.gateway_host or not site.ssh_port_formula:
        raise UserInputError(
            f"Site {site.name!r} has no SSH gateway settings; add 'gateway_host' and "
            "'ssh_port_formula' under 'denbi:' in its clouds.yaml entry."
        )
    if not server.private_ipv4:
        raise UserInputError(
            f"VM {server.name!r} has no private IPv4 address yet ({server.status}); "
            "wait until it is ACTIVE."
        )
    return ConnectionInfo.for_vm(
        gateway=site.gateway_host,
        port_formula=site.ssh_port_formula,
        private_ip=server.private_ipv4,
        user=site.ssh_user,
        key_path=key_path,
        server_name=server.name,
    )


def connection_details(
    site: SiteSettings, server: Server, image: Image | None, *, key_path: str | None = None
) -> dict[str, object]:
    """The connection card's content: SSH, X2Go session text and Guacamole link.

    Returns a dict with ``available`` False and a ``reason`` when the VM cannot be reached
    through a gateway (no settings, no address yet) instead of raising.
    """
    try:
        info = connection_info(site, server, key_path=key_path)
    except UserInputError as exc:
        return {"available": False, "reason": str(exc)}
    name = image.name if image is not None else ""
    tags = image.tags if image is not None else ()
    session = session_type_for_image(name, tags=tags)
    guacamole = (
        guacamole_client_url(site.guacamole_base_url, server.name)
        if image is not None
        and image.kind.desktop is DesktopKind.GUACAMOLE
        and site.guacamole_base_url
        else None
    )
    return {
        "available": True,
        "host": info.host,
        "port": info.port,
        "user": info.user,
        "ssh_command": ssh_command(info),
        "ssh_config": ssh_config_block(info),
        "x2go_session_type": session.value if session is not None else None,
        "x2go_session": x2go_session_file(info, session_type=session) if session else None,
        "guacamole_url": guacamole,
    }
