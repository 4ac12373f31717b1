"""Where the tier keeps things, which ports it uses, and its generated passwords."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

__all__ = [
    "REGION",
    "Ports",
    "Secrets",
    "TierPaths",
    "constraints_digest",
    "default_cache_root",
]

REGION = "RegionOne"
_MAX_UNIX_SOCKET_PATH = 100  # sun_path is 108 bytes; keep a margin


def _traversable_by_others(folder: Path) -> bool:
    """True if every folder from / down to `folder` lets other users pass (o+x)."""
    for part in (folder, *folder.parents):
        try:
            if not part.stat().st_mode & 0o001:
                return False
        except FileNotFoundError:
            continue
    return True


@dataclass(frozen=True, slots=True)
class Ports:
    """TCP ports on 127.0.0.1: the API ports are the usual ones, the backing services private."""

    keystone: int = 5000
    glance: int = 9292
    placement: int = 8778
    nova: int = 8774
    neutron: int = 9696
    mysql: int = 13306
    amqp: int = 15673
    rabbit_dist: int = 25673
    epmd: int = 14369


def default_cache_root(env: Mapping[str, str]) -> Path:
    """The cache folder shared by every clone: `$XDG_CACHE_HOME` or `~/.cache`, then ours."""
    if override := env.get("DENBI_TIER_CACHE_DIR"):
        return Path(override)
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "denbi-jupyter" / "openstack-tier"


def constraints_digest(constraints: Path) -> str:
    """A short digest of the pins: the tier's virtualenv is keyed by it."""
    return hashlib.sha256(constraints.read_bytes()).hexdigest()[:12]


class _InRun:
    """A fixed path inside the run folder, read like a property: ``etc = _InRun("etc")``."""

    def __init__(self, *parts: str) -> None:
        self._parts = parts

    def __get__(self, paths: TierPaths | None, owner: type[TierPaths] | None = None) -> Path:
        if paths is None:
            raise AttributeError("a run-folder path needs a TierPaths instance")
        return paths.run.joinpath(*self._parts)


@dataclass(frozen=True, slots=True)
class TierPaths:
    """Every file and folder the tier reads or writes.

    Attributes:
        repo: The project's clone (holds `openstack_tier/` and `tests/contract/`).
        run: Runtime state: databases, image data, logs, pid records, generated configs.
        cache: Survives clones: the tier's virtualenv lives here, keyed by the pins' digest.
    """

    repo: Path
    run: Path
    cache: Path

    # Fixed places inside the run folder.
    etc = _InRun("etc")
    logs = _InRun("logs")
    pids = _InRun("pids")
    markers = _InRun("markers")
    mysql_data = _InRun("mysql", "data")
    glance_data = _InRun("glance")
    nova_state = _InRun("nova")
    keystone_keys = _InRun("keystone")
    neutron_state = _InRun("neutron")
    secrets_file = _InRun("secrets.json")
    clouds_yaml = _InRun("clouds.yaml")

    @classmethod
    def from_env(cls, repo: Path, env: Mapping[str, str]) -> TierPaths:
        run = Path(env.get("DENBI_TIER_RUN_DIR") or repo / ".openstack-tier")
        return cls(repo=repo.resolve(), run=run.resolve(), cache=default_cache_root(env))

    @property
    def constraints(self) -> Path:
        return self.repo / "openstack_tier" / "constraints.txt"

    @property
    def venv(self) -> Path:
        return self.cache / f"venv-{constraints_digest(self.constraints)}"

    @property
    def venv_bin(self) -> Path:
        return self.venv / "bin"

    @property
    def mysql_socket(self) -> Path:
        """A Unix socket path short enough for `sun_path`, even from a deep clone."""
        wanted = self.run / "mysql" / "mysqld.sock"
        if len(str(wanted)) <= _MAX_UNIX_SOCKET_PATH:
            return wanted
        return self._short_tmp(".sock")

    def _short_tmp(self, suffix: str) -> Path:
        """A path under /tmp named by the run folder's digest, for paths that must be short."""
        digest = hashlib.sha256(str(self.run).encode()).hexdigest()[:10]
        return Path("/tmp") / f"denbi-tier-{digest}{suffix}"

    @property
    def rabbit(self) -> Path:
        """RabbitMQ's folder; under /tmp when user `rabbitmq` could not reach the run folder."""
        if _traversable_by_others(self.run.parent):
            return self.run / "rabbitmq"
        return self._short_tmp("-rabbitmq")


@dataclass(frozen=True, slots=True)
class Secrets:
    """Passwords made for one run folder, kept in a 0600 file and never printed."""

    admin: str = field(repr=False)
    service: str = field(repr=False)
    database: str = field(repr=False)
    user: str = field(repr=False)

    @classmethod
    def generate(cls) -> Secrets:
        return cls(**{each.name: secrets.token_hex(16) for each in fields(cls)})

    @classmethod
    def load_or_create(cls, path: Path) -> Secrets:
        """Reads the run folder's passwords, making and saving them on first use."""
        if path.exists():
            return cls(**json.loads(path.read_text()))
        made = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(made), handle)
        return made
