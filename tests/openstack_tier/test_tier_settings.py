"""Paths, cache keys and generated passwords."""

from __future__ import annotations

import stat
from pathlib import Path

from openstack_tier.settings import Secrets, TierPaths, constraints_digest, default_cache_root


def test_cache_root_prefers_override_then_xdg_then_home() -> None:
    assert default_cache_root({"DENBI_TIER_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/x"}) == Path("/c")
    assert default_cache_root({"XDG_CACHE_HOME": "/x", "HOME": "/h"}) == Path(
        "/x/denbi-jupyter/openstack-tier"
    )
    assert default_cache_root({"HOME": "/h"}) == Path("/h/.cache/denbi-jupyter/openstack-tier")


def test_run_folder_defaults_to_the_clone_and_can_be_moved(tmp_path: Path) -> None:
    assert (
        TierPaths.from_env(tmp_path, {"HOME": "/h"}).run == tmp_path.resolve() / ".openstack-tier"
    )
    moved = TierPaths.from_env(tmp_path, {"HOME": "/h", "DENBI_TIER_RUN_DIR": str(tmp_path / "r")})
    assert moved.run == (tmp_path / "r").resolve()


def test_venv_is_keyed_by_the_pins(tmp_path: Path) -> None:
    repo = tmp_path / "clone"
    (repo / "openstack_tier").mkdir(parents=True)
    pins = repo / "openstack_tier" / "constraints.txt"
    pins.write_text("nova==34.0.0\n")
    paths = TierPaths(repo=repo, run=tmp_path / "run", cache=tmp_path / "cache")
    first = paths.venv
    assert first.parent == tmp_path / "cache"
    assert first.name == f"venv-{constraints_digest(pins)}"
    pins.write_text("nova==34.0.1\n")
    assert paths.venv != first


def test_another_clone_with_the_same_pins_shares_the_venv(tmp_path: Path) -> None:
    clones = []
    for name in ("a", "b"):
        (tmp_path / name / "openstack_tier").mkdir(parents=True)
        (tmp_path / name / "openstack_tier" / "constraints.txt").write_text("nova==34.0.0\n")
        clones.append(TierPaths(tmp_path / name, tmp_path / name / "run", tmp_path / "cache"))
    assert clones[0].venv == clones[1].venv


def test_mysql_socket_falls_back_to_tmp_for_deep_run_folders(tmp_path: Path) -> None:
    short = TierPaths(tmp_path, Path("/r"), tmp_path)
    assert short.mysql_socket == Path("/r/mysql/mysqld.sock")
    deep = TierPaths(tmp_path, Path("/" + "d" * 120), tmp_path)
    assert deep.mysql_socket.parent == Path("/tmp")
    assert len(str(deep.mysql_socket)) < 100


def test_secrets_are_made_once_kept_private_and_never_shown(tmp_path: Path) -> None:
    path = tmp_path / "run" / "secrets.json"
    made = Secrets.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Secrets.load_or_create(path) == made
    assert made.admin not in repr(made)
    assert len({made.admin, made.service, made.database, made.user}) == 4
