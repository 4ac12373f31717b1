"""Sites for unit tests: nothing answers at their URLs (``.invalid``) unless a test says so."""

from __future__ import annotations

from denbi_jupyter.cloud.types import SiteSettings

__all__ = ["fake_site", "loopback_site"]


def fake_site(
    name: str = "fake",
    *,
    gateway_host: str = "192.0.2.1",
    ssh_port_formula: str = "30000 + 256*oct3 + oct4",
) -> SiteSettings:
    """Site ``name`` with its de.NBI settings; the default gateway is a documentation address."""
    return SiteSettings(
        name=name,
        region=name.title(),
        auth_url=f"http://{name}.invalid/identity/v3",
        gateway_host=gateway_host,
        ssh_port_formula=ssh_port_formula,
        guacamole_base_url=f"https://guacamole.{name}.invalid/guacamole",
    )


def loopback_site(port: int) -> SiteSettings:
    """A site whose gateway is this host and leads to every VM through ``port``."""
    return fake_site("loop", gateway_host="127.0.0.1", ssh_port_formula=f"{port} + 0*oct4")
