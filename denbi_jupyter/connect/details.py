"""A VM's connection card, computed once: SSH, the ``~/.ssh/config`` block, X2Go, Guacamole.

The boot flow, the ``connect`` command and the connection panel all call
:func:`connection_details`. It reads only data (the site's gateway settings, the server and its
image) and does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from denbi_jupyter.cloud.types import DesktopKind, Image, Server, SiteSettings
from denbi_jupyter.connect.guacamole import guacamole_client_url
from denbi_jupyter.connect.ssh import ConnectionInfo, ssh_command, ssh_config_block
from denbi_jupyter.connect.x2go import SessionType, session_type_for_image, x2go_session_file
from denbi_jupyter.errors import UserInputError

__all__ = ["ConnectionDetails", "connection_details", "connection_info", "login_user"]


@dataclass(frozen=True, slots=True)
class ConnectionDetails:
    """Every way into one VM that its image offers."""

    info: ConnectionInfo
    ssh_command: str
    ssh_config: str
    x2go_session_type: SessionType | None = None
    x2go_session: str | None = None
    guacamole_url: str | None = None
    #: The ways in that could not be made, each with why ("Guacamole: … is not a valid URL");
    #: one broken way never takes the others down.
    problems: tuple[str, ...] = ()

    @property
    def host(self) -> str:
        """The gateway host SSH connects to."""
        return self.info.host

    @property
    def port(self) -> int:
        """The gateway port that leads to this VM."""
        return self.info.port

    def as_dict(self) -> dict[str, object]:
        """A JSON-able view (``connect --json``)."""
        return {
            "host": self.info.host,
            "port": self.info.port,
            "user": self.info.user,
            "ssh_command": self.ssh_command,
            "ssh_config": self.ssh_config,
            "x2go_session_type": self.x2go_session_type.value if self.x2go_session_type else None,
            "x2go_session": self.x2go_session,
            "guacamole_url": self.guacamole_url,
            "problems": list(self.problems),
        }


def login_user(site: SiteSettings, image: Image | None) -> str:
    """The image's login name (Glance property ``os_admin_user``), else the site's ``ssh_user``."""
    user = image.properties.get("os_admin_user", "").strip() if image is not None else ""
    return user or site.ssh_user


def connection_info(
    site: SiteSettings, server: Server, *, key_path: str | None = None, user: str | None = None
) -> ConnectionInfo:
    """How to reach ``server`` by SSH through the site's gateway, as ``user`` (the site's
    ``ssh_user`` by default).

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
            f"VM {server.name!r} has no private IPv4 address yet (status {server.status}); "
            "connection details appear once it has one."
        )
    return ConnectionInfo.for_vm(
        gateway=site.gateway_host,
        port_formula=site.ssh_port_formula,
        private_ip=server.private_ipv4,
        user=user or site.ssh_user,
        key_path=key_path,
        server_name=server.name,
    )


def connection_details(
    site: SiteSettings, server: Server, image: Image | None, *, key_path: str | None = None
) -> ConnectionDetails:
    """The connection card of ``server``: SSH always, X2Go and Guacamole where the image has them.

    The login name is the image's (:func:`login_user`), as the local cloud's SSH expects.

    Raises:
        UserInputError: As :func:`connection_info`: the VM cannot be reached through a gateway,
            or the image's login name is not a valid one.
    """
    info = connection_info(site, server, key_path=key_path, user=login_user(site, image))
    name = image.name if image is not None else ""
    tags = image.tags if image is not None else ()
    session = session_type_for_image(name, tags=tags)
    is_guacamole = image is not None and image.kind.desktop is DesktopKind.GUACAMOLE
    problems: list[str] = []
    guacamole: str | None = None
    if is_guacamole and site.guacamole_base_url:
        try:
            guacamole = guacamole_client_url(site.guacamole_base_url, server.name)
        except UserInputError as exc:  # the site's setting: SSH and X2Go still work
            problems.append(f"Guacamole: {exc}")
    x2go: str | None = None
    if session:
        try:
            x2go = x2go_session_file(info, session_type=session)
        except UserInputError as exc:
            problems.append(f"X2Go: {exc}")
    return ConnectionDetails(
        info=info,
        ssh_command=ssh_command(info),
        ssh_config=ssh_config_block(info),
        x2go_session_type=session,
        x2go_session=x2go,
        guacamole_url=guacamole,
        problems=tuple(problems),
    )
