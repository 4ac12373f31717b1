"""New Prefect homes start from the prepared empty database (``denbi-jupyter prefect prepare``).

Real ``denbi-jupyter prefect prepare`` on the user's cache (``make setup`` made the template) and
a real server on a home seeded from a marked copy of it in a cache folder of the test's own.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from denbi_jupyter.prefect_db import DATABASE_NAME, seed_database, template_path
from denbi_jupyter.prefect_server import PrefectServer, api_answers
from denbi_jupyter.user_prefect import free_port

#: Written into the test's template: the seeded home's database must carry it.
MARK = 4242


def _prepare() -> dict[str, object]:
    """``denbi-jupyter prefect prepare --json`` on the user's cache, as a command of its own."""
    done = subprocess.run(
        [sys.executable, "-m", "denbi_jupyter", "prefect", "prepare", "--json"],
        env={k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


@pytest.mark.timeout(900)
def test_prepare_once_then_a_new_home_starts_from_the_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _prepare()  # made by make setup (then a no-op) or now
    template = template_path()
    assert first["template"] == str(template) and template.is_file()
    assert _prepare()["made"] is False, "the second prepare reuses the template"

    cache = tmp_path / "cache"  # a copy of it carries a mark only seeded homes get
    mine = template_path({"XDG_CACHE_HOME": str(cache)})
    mine.parent.mkdir(parents=True)
    shutil.copyfile(template, mine)
    with contextlib.closing(sqlite3.connect(mine)) as db:
        db.execute(f"PRAGMA user_version = {MARK}")
    before = mine.read_bytes()
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    home = tmp_path / "home"
    with PrefectServer(port=free_port(), home=home) as server:
        assert api_answers(server.api_url)
    with contextlib.closing(sqlite3.connect(home / DATABASE_NAME)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (MARK,), "not seeded"
        assert db.execute("SELECT count(*) FROM flow_run").fetchone() == (0,)
    assert mine.read_bytes() == before, "the server wrote to its copy, not the template"


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
