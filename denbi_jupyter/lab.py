"""Start JupyterLab for the demo: local cloud, clouds.yaml, lab on loopback with a fresh token.

:func:`launch_lab` is what ``denbi-jupyter demo`` runs: it starts the local cloud, writes a
``clouds.yaml`` (mode 0600) and exports it to the lab's kernels as ``OS_CLIENT_CONFIG_FILE``
(with ``OS_CLOUD`` naming the first site), copies the repository's notebooks into the demo's
state folder (the lab serves that folder, so nothing is written into the checkout), starts
JupyterLab on 127.0.0.1 (port 8888, or a free one when it is taken) with the main notebook open
and the de.NBI panel beside it, and with the server extension (:mod:`denbi_jupyter.labserver`)
starting a Prefect server in the demo's state folder; it prints the lab's URL and the Prefect
UI's (both under the lab's URL, with its token), and stops everything it started on Ctrl-C or
when the lab exits. :func:`start_lab` does the same without
blocking (tests), and :func:`notebook_clouds` is the notebooks' first cell: it finds the
configured clouds or starts a local cloud in the kernel.
"""

from __future__ import annotations

import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from denbi_jupyter._lab_layout import write_lab_settings, write_workspace
from denbi_jupyter._serving import StopsOnExit, wait_until_answering
from denbi_jupyter.errors import UserInputError
from denbi_jupyter.localcloud import LocalCloud, LocalCloudConfig, Timings

__all__ = [
    "DEFAULT_LAB_PORT",
    "MAIN_NOTEBOOK",
    "LabSession",
    "NotebookClouds",
    "choose_lab_port",
    "copy_notebooks",
    "demo_cloud_config",
    "launch_lab",
    "notebook_clouds",
    "notebooks_dir",
    "start_lab",
]

#: The notebook the lab opens.
MAIN_NOTEBOOK = "denbi_cloud.ipynb"
#: The lab's port when it is free (the demo then takes any free port).
DEFAULT_LAB_PORT = 8888
#: The server extension :func:`start_lab` enables, and where it serves the Prefect UI.
_EXTENSION = "denbi_jupyter.labserver"
PREFECT_UI_PATH = "denbi-jupyter/prefect/"
_START_TIMEOUT_S = 90.0


def notebooks_dir() -> Path:
    """The repository's ``notebooks/`` folder (next to the package in a source checkout)."""
    candidate = Path(__file__).resolve().parent.parent / "notebooks"
    if not candidate.is_dir():
        raise UserInputError(
            f"No notebooks folder at {candidate}: run the demo from a source checkout of "
            "denbi-jupyter, or pass notebook_dir=."
        )
    return candidate


def demo_cloud_config(
    *, timings: Timings | None = None, state_dir: Path | None = None, seed_snapshots: int = 0
) -> LocalCloudConfig:
    """A local-cloud configuration for demos and tests (its SSH gateways are on loopback)."""
    return LocalCloudConfig(
        timings=timings or Timings(),
        state_dir=state_dir,
        seed_snapshots=seed_snapshots,
    )


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` (and we may bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def choose_lab_port(port: int, *, fallback: bool) -> int:
    """``port`` if free (or 0: any free port); with ``fallback``, a free one when it is taken.

    Raises:
        UserInputError: ``port`` is taken and ``fallback`` is False.
    """
    if not port:
        return _free_port("127.0.0.1")
    if _port_is_free("127.0.0.1", port):
        return port
    if fallback:
        return _free_port("127.0.0.1")
    raise UserInputError(f"Port {port} on 127.0.0.1 is taken: choose another (0: any free).")


@dataclass
class LabSession(StopsOnExit):
    """A running JupyterLab (and the local cloud started for it); a context manager.

    Attributes:
        url: The lab's base URL, e.g. ``http://127.0.0.1:8888`` (no trailing slash).
        token: The access token (random per start).
        notebook_dir: The folder the lab serves.
        process: The JupyterLab server process.
        cloud: The local cloud started for the lab, if any.
        clouds_yaml: The clouds.yaml the kernels use, if one was written.
    """

    url: str
    token: str
    notebook_dir: Path
    process: subprocess.Popen[bytes]
    cloud: LocalCloud | None = None
    clouds_yaml: Path | None = None
    _temp: Path | None = field(default=None, repr=False)

    def notebook_url(self, name: str = MAIN_NOTEBOOK) -> str:
        """The URL that opens ``name`` in the lab, token included."""
        return f"{self.url}/lab/tree/{name}?token={self.token}"

    @property
    def prefect_ui_url(self) -> str:
        """The Prefect UI under the lab's URL (the server extension's proxy), token included."""
        return f"{self.url}/{PREFECT_UI_PATH}?token={self.token}"

    def stop(self) -> None:
        """Stop the lab (and its kernels), then the local cloud; remove temporary files.

        The lab is asked to shut down through its API first, so its kernels exit cleanly and
        stop what they started (Prefect's ephemeral API server is a subprocess of a kernel).
        """
        if self.process.poll() is None:
            request = urllib.request.Request(
                f"{self.url}/api/shutdown",
                method="POST",
                headers={"Authorization": f"token {self.token}"},
            )
            try:
                urllib.request.urlopen(request, timeout=5).close()
            except (urllib.error.URLError, OSError):
                self.process.send_signal(signal.SIGINT)
            _wait_or_kill(self.process)
        if self.cloud is not None:
            self.cloud.stop()
            self.cloud = None
        if self._temp is not None:
            import shutil

            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None

    def __enter__(self) -> LabSession:
        return self


def _wait_or_kill(process: subprocess.Popen[bytes]) -> None:
    """Wait for ``process`` to end; terminate, then kill it if it takes too long."""
    for step in (process.wait, process.terminate, process.kill):
        if step is not process.wait:
            step()
        try:
            process.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            continue


def start_lab(
    *,
    notebook_dir: Path | None = None,
    port: int = 0,
    local_cloud: bool = True,
    cloud_config: LocalCloudConfig | None = None,
    env: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    log_file: Path | None = None,
    port_fallback: bool = False,
    prefect_home: Path | None = None,
    open_panel: bool = False,
    base_url: str = "/",
) -> LabSession:
    """Start JupyterLab (and the local cloud) and return once the lab answers.

    The lab gets fresh settings and workspaces in a temporary folder: the notebook opens alone
    and its kernel starts without a question. The server extension
    :mod:`denbi_jupyter.labserver` is enabled; it starts a Prefect server only when
    ``prefect_home`` is given (and ``PREFECT_API_URL`` is not set), never the user's own.

    Args:
        notebook_dir: Folder to serve; the repository's ``notebooks/`` by default.
        port: TCP port on 127.0.0.1; 0 picks a free one.
        local_cloud: Start the local cloud and point the kernels at it; False leaves the
            kernels with the caller's ``OS_CLOUD`` / ``clouds.yaml``.
        cloud_config: Local-cloud settings (default :func:`demo_cloud_config`).
        env: Extra environment variables for the lab and its kernels.
        extra_args: Extra JupyterLab command-line options.
        log_file: Where the lab's output goes (default: inherited stdout/stderr).
        port_fallback: When ``port`` is taken, use a free one instead of failing.
        prefect_home: The folder of the lab's Prefect server (``DENBI_JUPYTER_PREFECT_HOME``);
            None: the lab starts none (kernels use ``PREFECT_API_URL`` or Prefect's ephemeral
            API).
        open_panel: Show the front-end's de.NBI panel beside the notebook.
        base_url: The lab's base URL (JupyterHub-like, e.g. ``/user/alice/``); in ``url``.

    Raises:
        CloudUnavailableError: The lab did not start within 90 seconds.
        UserInputError: ``port`` is taken (and ``port_fallback`` is False).
    """
    folder = notebook_dir or notebooks_dir()
    temp = Path(tempfile.mkdtemp(prefix="denbi-lab-"))
    child_env = _lab_environment(prefect_home, env, temp)
    cloud: LocalCloud | None = None
    clouds_yaml: Path | None = None
    try:
        if local_cloud:
            cloud, clouds_yaml = _start_local_cloud(cloud_config, temp, child_env)
        write_lab_settings(temp / "lab-settings", open_panel=open_panel)
        if open_panel:
            write_workspace(temp / "workspaces", notebook=MAIN_NOTEBOOK)
        own_prefect = () if prefect_home is not None else ("--DenbiJupyter.start_prefect=False",)
        session = _spawn_session(
            folder=folder,
            temp=temp,
            port=choose_lab_port(port, fallback=port_fallback),
            extra_args=[*own_prefect, f"--ServerApp.base_url={base_url}", *extra_args],
            env=child_env,
            log_file=log_file,
            cloud=cloud,
            clouds_yaml=clouds_yaml,
            base_url=base_url,
        )
    except BaseException:
        if cloud is not None:
            cloud.stop()
        import shutil

        shutil.rmtree(temp, ignore_errors=True)
        raise
    try:
        _wait_until_up(session)
    except BaseException:
        session.stop()
        raise
    return session


def _spawn_session(
    *,
    folder: Path,
    temp: Path,
    port: int,
    extra_args: Sequence[str],
    env: Mapping[str, str],
    log_file: Path | None,
    cloud: LocalCloud | None,
    clouds_yaml: Path | None,
    base_url: str,
) -> LabSession:
    """Spawn the lab with a fresh token; the session, before the lab answers."""
    token = secrets.token_hex(24)
    process = _spawn_lab(
        _lab_command(folder=folder, port=port, token=token, temp=temp, extra_args=extra_args),
        env=env,
        cwd=folder,
        log_file=log_file,
    )
    return LabSession(
        url=f"http://127.0.0.1:{port}{base_url.rstrip('/')}",
        token=token,
        notebook_dir=folder,
        process=process,
        cloud=cloud,
        clouds_yaml=clouds_yaml,
        _temp=temp,
    )


def _lab_environment(
    prefect_home: Path | None, env: Mapping[str, str] | None, temp: Path
) -> dict[str, str]:
    """The lab's environment: ours, its own Prefect home if it has one, then ``env``.

    Without a Prefect home of its own the lab starts no Prefect server, and its kernels look
    for the user's one in a folder of the lab's temporary folder (so a session lab never uses
    a server of the real user's) unless the caller names a folder or ``PREFECT_API_URL``.
    """
    child_env = dict(os.environ)
    if prefect_home is not None:  # the lab's own Prefect server, not the caller's
        child_env.pop("PREFECT_API_URL", None)
        child_env["DENBI_JUPYTER_PREFECT_HOME"] = str(prefect_home)
    else:
        child_env.setdefault("DENBI_JUPYTER_PREFECT_HOME", str(temp / "prefect"))
    child_env.update(env or {})
    return child_env


def _start_local_cloud(
    config: LocalCloudConfig | None, temp: Path, child_env: dict[str, str]
) -> tuple[LocalCloud, Path]:
    """Start the local cloud and point the lab's kernels at its clouds.yaml (in ``temp``)."""
    cloud = LocalCloud(config or demo_cloud_config()).start()
    clouds_yaml = cloud.write_clouds_yaml(temp / "clouds.yaml")
    child_env["OS_CLIENT_CONFIG_FILE"] = str(clouds_yaml)
    child_env["OS_CLOUD"] = cloud.config.sites[0].name
    return cloud, clouds_yaml


def _lab_command(
    *, folder: Path, port: int, token: str, temp: Path, extra_args: Sequence[str]
) -> list[str]:
    """The JupyterLab command line: loopback only, our token, fresh settings, main notebook."""
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        "--no-browser",
        "--allow-root",
        f"--ServerApp.root_dir={folder}",
        f"--IdentityProvider.token={token}",
        f"--LabApp.default_url=/lab/tree/{MAIN_NOTEBOOK}",
        f"--LabApp.user_settings_dir={temp / 'lab-settings'}",
        f"--LabApp.workspaces_dir={temp / 'workspaces'}",
        f"--ServerApp.jpserver_extensions={_EXTENSION}=True",
        *extra_args,
    ]


def _spawn_lab(
    command: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_file: Path | None
) -> subprocess.Popen[bytes]:
    """Start the lab in its own session (Ctrl-C reaches only us; we stop it kernels first)."""
    output = open(log_file, "ab") if log_file is not None else None  # noqa: SIM115
    try:
        return subprocess.Popen(
            list(command),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
    finally:
        if output is not None:
            output.close()


def _wait_until_up(session: LabSession) -> None:
    request = urllib.request.Request(
        f"{session.url}/api/status", headers={"Authorization": f"token {session.token}"}
    )
    wait_until_answering(
        request,
        process=session.process,
        what="JupyterLab",
        timeout_s=_START_TIMEOUT_S,
        exited_hint="see its output above.",
    )


def launch_lab(
    *,
    notebook_dir: Path | None = None,
    port: int | None = None,
    local_cloud: bool = True,
    cloud_config: LocalCloudConfig | None = None,
    prefect_home: Path | None = None,
    lab_dir: Path | None = None,
) -> int:
    """Run the demo lab in the foreground until Ctrl-C or the lab exits; return its exit code.

    Starts the local cloud and JupyterLab; the lab's server extension starts a Prefect server
    (its UI, under the lab's URL, shows every flow run; kernels need no ephemeral Prefect API).

    Args:
        notebook_dir: Where the notebooks come from; the repository's ``notebooks/`` by default.
        port: TCP port on 127.0.0.1; None: 8888, or a free one when it is taken; 0: any free.
        local_cloud: Start the local cloud for the lab (False: use your own clouds.yaml).
        cloud_config: Local-cloud settings (default :func:`demo_cloud_config`).
        prefect_home: The Prefect server's folder (its run history); a temporary one if None.
        lab_dir: The folder the lab serves; the notebooks are copied into it when missing
            there (your edits stay); a temporary folder if None.
    """
    home = prefect_home or Path(tempfile.mkdtemp(prefix="denbi-prefect-"))
    served = lab_dir or Path(tempfile.mkdtemp(prefix="denbi-lab-"))
    copy_notebooks(notebook_dir or notebooks_dir(), served)
    print("Starting the local cloud, JupyterLab and its Prefect server…", flush=True)
    session = start_lab(
        notebook_dir=served,
        port=DEFAULT_LAB_PORT if port is None else port,
        port_fallback=port is None,
        local_cloud=local_cloud,
        cloud_config=cloud_config,
        prefect_home=home,
        open_panel=True,
    )
    with session:
        where = f"local cloud on {session.cloud.url}" if session.cloud else "your clouds.yaml"
        print(f"JupyterLab is running with the {where}, serving {served}.", flush=True)
        print(f"Prefect UI: {session.prefect_ui_url}", flush=True)
        print(f"Open: {session.notebook_url()}", flush=True)
        if session.clouds_yaml is not None:  # commands elsewhere: the same cloud and Prefect
            print(
                "Commands in another terminal reach the same cloud and Prefect server with: "
                f"export OS_CLIENT_CONFIG_FILE={shlex.quote(str(session.clouds_yaml))} "
                f"DENBI_JUPYTER_PREFECT_HOME={shlex.quote(str(home))}",
                flush=True,
            )
        print("Press Ctrl-C to stop the lab and everything it started.", flush=True)
        try:
            return session.process.wait()
        except KeyboardInterrupt:
            print("\nStopping…", flush=True)
            return 0


def copy_notebooks(source: Path, target: Path) -> list[Path]:
    """Copy the ``*.ipynb`` of ``source`` into ``target`` where missing; return the copies."""
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for notebook in sorted(source.glob("*.ipynb")):
        destination = target / notebook.name
        if not destination.exists():
            shutil.copyfile(notebook, destination)
            copied.append(destination)
    return copied


@dataclass(frozen=True, slots=True)
class NotebookClouds:
    """What a notebook talks to.

    Attributes:
        config_file: The clouds.yaml to read (None: openstacksdk's usual search path).
        sites: The site names to offer.
        site: The site to show first.
        local_cloud: The local cloud the kernel started, if it started one.
    """

    config_file: Path | None
    sites: tuple[str, ...]
    site: str
    local_cloud: LocalCloud | None = None

    def describe(self) -> str:
        """One line for the notebook: which clouds and where they come from."""
        origin = (
            f"a local cloud started in this kernel ({self.local_cloud.url})"
            if self.local_cloud
            else f"clouds.yaml {self.config_file or '(default search path)'}"
        )
        return f"Sites {', '.join(self.sites)} from {origin}; showing {self.site}."


def notebook_clouds(*, timings: Timings | None = None) -> NotebookClouds:
    """The clouds a notebook should use.

    With ``OS_CLOUD`` or ``OS_CLIENT_CONFIG_FILE`` set, every ``clouds.yaml`` entry (``OS_CLOUD``
    shown first). Otherwise a local cloud started in this kernel (fast timings unless given),
    with its clouds.yaml in a temporary folder, exported as ``OS_CLIENT_CONFIG_FILE`` for this
    kernel so that flows run from it (which take only a site name) find the sites too.
    """
    from denbi_jupyter.cloud import list_sites

    configured = os.environ.get("OS_CLIENT_CONFIG_FILE")
    if os.environ.get("OS_CLOUD") or configured:
        config_file = Path(configured) if configured else None
        names = tuple(site.name for site in list_sites(config_file))
        wanted = os.environ.get("OS_CLOUD", "")
        return NotebookClouds(
            config_file=config_file,
            sites=names,
            site=wanted if wanted in names else names[0],
        )
    cloud = LocalCloud(demo_cloud_config(timings=timings or Timings.fast())).start()
    path = cloud.write_clouds_yaml(Path(tempfile.mkdtemp(prefix="denbi-nb-")) / "clouds.yaml")
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(path)
    names = tuple(site.name for site in cloud.config.sites)
    return NotebookClouds(config_file=path, sites=names, site=names[0], local_cloud=cloud)
