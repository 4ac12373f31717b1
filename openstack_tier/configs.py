"""The services' configuration files, rendered from the tier's paths, ports and passwords.

Pure functions: each returns the text of one file, so tests can read them without services.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from openstack_tier.settings import REGION, Ports, Secrets, TierPaths

__all__ = [
    "COMPUTE_DRIVER",
    "COMPUTE_HOST",
    "DATABASES",
    "TierConfig",
    "render_ini",
]

Section = Mapping[str, str | int | bool]

# The databases every service needs, all owned by one MariaDB user.
DATABASES: tuple[str, ...] = ("keystone", "glance", "placement", "nova_api", "nova", "nova_cell0")
DB_USER = "openstack"
COMPUTE_HOST = "denbi-tier-compute"
# Registered under `nova.virt` by `openstack_tier.nova_compute` before nova loads its driver.
COMPUTE_DRIVER = "denbi_fake.SnapshotUploadingFakeDriver"


def _value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_ini(sections: Mapping[str, Section]) -> str:
    """Writes an oslo.config / paste style INI text, sections and keys in the given order."""
    chunks = []
    for name, options in sections.items():
        lines = [f"[{name}]"]
        lines.extend(f"{key} = {_value(value)}" for key, value in options.items())
        chunks.append("\n".join(lines))
    return "\n\n".join(chunks) + "\n"


@dataclass(frozen=True, slots=True)
class TierConfig:
    """Renders every configuration file of the tier."""

    paths: TierPaths
    ports: Ports
    secrets: Secrets
    host: str = "127.0.0.1"

    def url(self, port: int, suffix: str = "") -> str:
        return f"http://{self.host}:{port}{suffix}"

    @property
    def keystone_url(self) -> str:
        return self.url(self.ports.keystone, "/v3")

    def db_url(self, database: str) -> str:
        return (
            f"mysql+pymysql://{DB_USER}:{self.secrets.database}@{self.host}:{self.ports.mysql}"
            f"/{database}?charset=utf8mb4"
        )

    @property
    def transport_url(self) -> str:
        return f"rabbit://guest:guest@{self.host}:{self.ports.amqp}/"

    def endpoints(self) -> dict[str, tuple[str, str]]:
        """Catalog entries besides identity: service name -> (service type, URL)."""
        return {
            "glance": ("image", self.url(self.ports.glance)),
            "nova": ("compute", self.url(self.ports.nova, "/v2.1")),
            "placement": ("placement", self.url(self.ports.placement)),
            "neutron": ("network", self.url(self.ports.neutron)),
        }

    def _service_auth(self, username: str) -> dict[str, str | int | bool]:
        return {
            "auth_type": "password",
            "auth_url": self.keystone_url,
            "project_domain_name": "Default",
            "user_domain_name": "Default",
            "project_name": "service",
            "username": username,
            "password": self.secrets.service,
            "region_name": REGION,
        }

    def _authtoken(self, username: str) -> dict[str, str | int | bool]:
        return {
            "www_authenticate_uri": self.url(self.ports.keystone),
            **self._service_auth(username),
            "service_token_roles_required": True,
        }

    def keystone_conf(self) -> str:
        keys = self.paths.keystone_keys
        return render_ini(
            {
                "DEFAULT": {"debug": False},
                "database": {"connection": self.db_url("keystone")},
                "token": {"provider": "fernet", "expiration": 3600},
                # bcrypt's default 12 rounds cost ~0.25 s of CPU per password check.
                "identity": {"password_hash_rounds": 4},
                "fernet_tokens": {"key_repository": str(keys / "fernet-keys")},
                "credential": {"key_repository": str(keys / "credential-keys")},
            }
        )

    def glance_api_conf(self) -> str:
        data = self.paths.glance_data
        return render_ini(
            {
                "DEFAULT": {"debug": False, "enabled_backends": "fs:file"},
                "database": {"connection": self.db_url("glance")},
                "glance_store": {"default_backend": "fs"},
                "fs": {"filesystem_store_datadir": str(data / "images")},
                "os_glance_staging_store": {"filesystem_store_datadir": str(data / "staging")},
                "os_glance_tasks_store": {"filesystem_store_datadir": str(data / "tasks")},
                "keystone_authtoken": self._authtoken("glance"),
                "paste_deploy": {
                    "flavor": "keystone",
                    "config_file": str(self.paths.etc / "glance" / "glance-api-paste.ini"),
                },
                "oslo_concurrency": {"lock_path": str(data / "locks")},
            }
        )

    def placement_conf(self) -> str:
        return render_ini(
            {
                "DEFAULT": {"debug": False},
                "placement_database": {"connection": self.db_url("placement")},
                "api": {"auth_strategy": "keystone"},
                "keystone_authtoken": self._authtoken("placement"),
            }
        )

    def nova_conf(self) -> str:
        state = self.paths.nova_state
        return render_ini(
            {
                "DEFAULT": {
                    "debug": False,
                    "host": COMPUTE_HOST,
                    "my_ip": self.host,
                    "transport_url": self.transport_url,
                    "compute_driver": COMPUTE_DRIVER,
                    "state_path": str(state / "state"),
                    "instances_path": str(state / "instances"),
                    # Without these, host discovery and the first periodic tasks wait up to 60 s.
                    "periodic_fuzzy_delay": 0,
                    "vif_plugging_is_fatal": False,
                    "vif_plugging_timeout": 0,
                    "allow_resize_to_same_host": True,
                },
                "api": {"auth_strategy": "keystone"},
                "wsgi": {"api_paste_config": str(self.paths.etc / "nova" / "api-paste.ini")},
                "api_database": {"connection": self.db_url("nova_api")},
                "database": {"connection": self.db_url("nova")},
                "conductor": {"workers": 1},
                "scheduler": {"workers": 1, "discover_hosts_in_cells_interval": 2},
                "keystone_authtoken": self._authtoken("nova"),
                "service_user": {"send_service_user_token": True, **self._service_auth("nova")},
                "placement": {**self._service_auth("placement"), "valid_interfaces": "public"},
                "glance": {"valid_interfaces": "public", "region_name": REGION},
                "neutron": {**self._service_auth("neutron"), "valid_interfaces": "public"},
                "oslo_concurrency": {"lock_path": str(state / "locks")},
                "oslo_messaging_notifications": {"driver": "noop"},
            }
        )

    def rabbitmq_conf(self) -> str:
        """RabbitMQ's own sysctl-style format, not INI."""
        return (
            f"listeners.tcp.1 = {self.host}:{self.ports.amqp}\n"
            "loopback_users.guest = true\n"
            "disk_free_limit.absolute = 50MB\n"
        )

    def rabbitmq_env(self) -> dict[str, str]:
        """Environment that gives RabbitMQ a private node, folders and ports."""
        base = self.paths.rabbit
        return {
            "HOME": str(base / "home"),
            "RABBITMQ_NODENAME": "denbi-tier@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": self.host,
            "RABBITMQ_NODE_PORT": str(self.ports.amqp),
            "RABBITMQ_DIST_PORT": str(self.ports.rabbit_dist),
            "ERL_EPMD_PORT": str(self.ports.epmd),
            "ERL_EPMD_ADDRESS": self.host,
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(base / "plugins-expand"),
            "RABBITMQ_PID_FILE": str(base / "rabbit.pid"),
            # One scheduler thread and no busy-waiting: a test broker on a shared 2-core box.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "+S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none",
        }

    def files(self) -> dict[Path, str]:
        """Every file to write before a start, by absolute path."""
        etc = self.paths.etc
        rabbit = self.paths.rabbit
        return {
            etc / "keystone" / "keystone.conf": self.keystone_conf(),
            etc / "glance" / "glance-api.conf": self.glance_api_conf(),
            etc / "placement" / "placement.conf": self.placement_conf(),
            etc / "nova" / "nova.conf": self.nova_conf(),
            rabbit / "rabbitmq.conf": self.rabbitmq_conf(),
            rabbit / "rabbitmq-env.conf": "",
            rabbit / "enabled_plugins": "[].\n",
        }
