"""Run the local cloud: build its state, serve it with uvicorn, describe it in clouds.yaml."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
import yaml

from denbi_jupyter._serving import StopsOnExit
from denbi_jupyter.localcloud import glance, neutron, nova, seed
from denbi_jupyter.localcloud.app import create_app
from denbi_jupyter.localcloud.config import LocalCloudConfig
from denbi_jupyter.localcloud.faults import FaultInjector
from denbi_jupyter.localcloud.keystone_tokens import end_tokens
from denbi_jupyter.localcloud.site import CloudState, Site
from denbi_jupyter.localcloud.ssh_server import SshGateway
from denbi_jupyter.localcloud.store import SiteStore
from denbi_jupyter.localcloud.timeline import Timeline

__all__ = ["LocalCloud", "StopsOnExit", "build_state", "load_credentials"]

_CREDENTIALS_FILE = "credentials.json"


def load_credentials(state_dir: Path) -> dict[str, str]:
    """Read (or create, mode 0600) the seeded user's password for this state folder."""
    path = state_dir / _CREDENTIALS_FILE
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text())
        return data
    data = {"username": seed.USER_NAME, "password": secrets.token_urlsafe(18)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    return data


def build_state(config: LocalCloudConfig, state_dir: Path) -> CloudState:
    """Open (and on first use seed) every site's database under ``state_dir``."""
    state_dir.mkdir(parents=True, exist_ok=True)
    credentials = load_credentials(state_dir)
    sites: dict[str, Site] = {}
    for index, profile in enumerate(config.sites):
        store = SiteStore(
            path=state_dir / f"{profile.name}.sqlite", data_dir=state_dir / profile.name
        )
        site = Site(
            profile=profile,
            store=store,
            timeline=Timeline(store),
            timings=config.timings,
            token_lifetime=dt.timedelta(seconds=config.token_lifetime_s),
        )
        glance.register_events(site)
        nova.register_events(site)
        neutron.register_events(site)
        if store.is_empty():
            extra = config.seed_snapshots if index == 0 else 0
            seed.seed_site(site, password=credentials["password"], extra_snapshots=extra)
        sites[profile.name] = site
    faults = FaultInjector(seed=config.fault_seed, on_tokens=_token_ender(sites))
    if config.faults_file is not None:
        faults.load_file(config.faults_file)
    return CloudState(config=config, sites=sites, faults=faults)


def _token_ender(sites: dict[str, Site]) -> Callable[[str, str, str], int]:
    """What a ``token_expire`` / ``token_revoke`` fault calls: end one token of a site."""

    def end(site: str, how: str, token_id: str) -> int:
        with sites[site].store.tx() as conn:
            return end_tokens(conn, how, token_id)

    return end


class LocalCloud(StopsOnExit):
    """The local cloud served from a background thread; a context manager.

    ``with LocalCloud(config) as cloud: cloud.write_clouds_yaml(path)`` serves every site on
    ``cloud.url`` until the block ends.

    With ``config.ssh`` (the default) every ACTIVE VM also answers SSH on ``config.host`` at
    the port its site's formula gives (``cloud.ssh.ports()`` lists them): the image's default
    user (``ubuntu``) logs in with exactly the key pair the VM was booted with; every other
    key, user and password is refused. It answers ``true``, ``hostname``, ``echo``, ``whoami``,
    ``id``, ``uname`` and ``cat /etc/os-release`` (others: "command not found", exit 127); an
    interactive login prints a banner and closes. It has no shell, no SFTP/SCP, no port, agent
    or X11 forwarding, so X2Go does not work against it. Details: ``ssh_server.py``.
    """

    def __init__(self, config: LocalCloudConfig | None = None) -> None:
        self.config = config or LocalCloudConfig()
        self._temp_dir: Path | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.state: CloudState | None = None
        self.ssh: SshGateway | None = None

    @property
    def state_dir(self) -> Path:
        """Where the databases live."""
        if self.config.state_dir is not None:
            return self.config.state_dir
        if self._temp_dir is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix="denbi-localcloud-"))
        return self._temp_dir

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._socket is None:
            raise RuntimeError("the local cloud is not started")
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8790``."""
        return f"http://{self.config.host}:{self.port}"

    def start(self) -> LocalCloud:
        """Build the state, bind the port and serve until :meth:`stop`."""
        self.state = build_state(self.config, self.state_dir)
        app = create_app(self.state)
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP
        # (accepted ones inherit it); without it every answer waits ~40 ms for a delayed ACK.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((self.config.host, self.config.port))
        uv_config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30
        )
        self._server = uvicorn.Server(uv_config)
        started = threading.Event()
        server = self._server
        listen_socket = self._socket

        def serve() -> None:
            import asyncio

            async def main() -> None:
                # What Server.serve() does before startup (serve() itself would also try to
                # capture signals); without it startup() has no lifespan to run.
                if not uv_config.loaded:
                    uv_config.load()
                server.lifespan = uv_config.lifespan_class(uv_config)
                await server.startup(sockets=[listen_socket])
                started.set()
                if server.should_exit:
                    return
                await server.main_loop()
                await server.shutdown(sockets=[listen_socket])

            asyncio.run(main())
            started.set()

        self._thread = threading.Thread(target=serve, name="denbi-localcloud", daemon=True)
        self._thread.start()
        started.wait()
        if not server.started:
            self.stop()
            raise RuntimeError(f"the local cloud could not listen on {self.config.host}")
        if self.config.ssh:
            self.ssh = SshGateway(
                self.state, host=self.config.host, state_dir=self.state_dir
            ).start()
        return self

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C in the foreground command)."""
        if self._thread is not None:
            self._thread.join()

    def stop(self) -> None:
        """Stop serving and the VMs' SSH, close the databases, remove a temporary state folder."""
        if self.ssh is not None:
            self.ssh.stop()
            self.ssh = None
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        if self.state is not None:
            self.state.close()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def clouds_yaml(self) -> dict[str, Any]:
        """The ``clouds.yaml`` content: one entry per site, plus its ``denbi:`` settings."""
        credentials = load_credentials(self.state_dir)
        clouds: dict[str, Any] = {}
        for profile in self.config.sites:
            clouds[profile.name] = {
                "auth": {
                    "auth_url": f"{self.url}/{profile.name}/identity/v3",
                    "username": credentials["username"],
                    "password": credentials["password"],
                    "project_name": seed.PRIMARY_PROJECT,
                    "user_domain_name": "Default",
                    "project_domain_name": "Default",
                },
                "region_name": profile.region,
                "identity_api_version": 3,
                "interface": "public",
                "denbi": {
                    "site": profile.name,
                    "gateway_host": profile.gateway_host,
                    "ssh_port_formula": profile.ssh_port_formula,
                    "guacamole_base_url": profile.guacamole_base_url,
                    "ssh_user": "ubuntu",
                    "local_cloud": True,
                },
            }
        return {"clouds": clouds}

    def write_clouds_yaml(self, path: Path) -> Path:
        """Write :meth:`clouds_yaml` to ``path`` with mode 0600 (it holds a password)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(self.clouds_yaml(), sort_keys=False)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(path, 0o600)
        return path

    def __enter__(self) -> LocalCloud:
        return self.start()
