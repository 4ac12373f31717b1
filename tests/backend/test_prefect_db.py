"""New Prefect homes start from the prepared empty database (``denbi-jupyter prefect prepare``).

Real ``prefect server database upgrade`` and a real server on a seeded home; the template in a
cache folder of the test's own.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from denbi_jupyter.prefect_db import DATABASE_NAME, seed_database, template_path
from denbi_jupyter.prefect_server import PrefectServer, api_answers

#: Written into the test's template: the seeded home's database must carry it.
MARK = 4242


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _prepare(cache: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "denbi_jupyter", "prefect", "prepare", "--json"],
        env=_env(cache),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def _env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["XDG_CACHE_HOME"] = str(cache)
    return env


@pytest.mark.timeout(900)
def test_prepare_once_then_a_new_home_starts_from_the_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = _prepare(cache)
    assert first["made"] is True
    template = template_path({"XDG_CACHE_HOME": str(cache)})
    assert first["template"] == str(template) and template.is_file()
    assert _prepare(cache)["made"] is False, "the second prepare reuses the template"

    with contextlib.closing(sqlite3.connect(template)) as db:  # a mark only copies carry
        db.execute(f"PRAGMA user_version = {MARK}")
    before = template.read_bytes()
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    home = tmp_path / "home"
    with PrefectServer(port=_free_port(), home=home) as server:
        assert api_answers(server.api_url)
    with contextlib.closing(sqlite3.connect(home / DATABASE_NAME)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (MARK,), "not seeded"
        assert db.execute("SELECT count(*) FROM flow_run").fetchone() == (0,)
    assert template.read_bytes() == before, "the server wrote to its copy, not the template"


def test_a_home_with_a_database_or_another_database_is_left_alone(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    template = template_path({"XDG_CACHE_HOME": str(cache)})
    env = {"XDG_CACHE_HOME": str(cache)}
    home = tmp_path / "home"
    assert seed_database(home, env) is False, "no template: the server migrates its own"
    template.parent.mkdir(parents=True)
    template.write_bytes(b"template")
    (home / DATABASE_NAME).parent.mkdir(parents=True)
    (home / DATABASE_NAME).write_bytes(b"the user's runs")
    assert seed_database(home, env) is False
    assert (home / DATABASE_NAME).read_bytes() == b"the user's runs"
    other = tmp_path / "other"
    url = {"PREFECT_SERVER_DATABASE_CONNECTION_URL": "postgresql+asyncpg://db/prefect"}
    assert seed_database(other, {**env, **url}) is False
    assert not (other / DATABASE_NAME).exists()
    assert seed_database(other, env) is True
    assert (other / DATABASE_NAME).read_bytes() == b"template"
    assert oct((other / DATABASE_NAME).stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in other.iterdir()] == [DATABASE_NAME], "no partial copy left"
