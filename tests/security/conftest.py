"""The secret canary's fixtures: a local cloud whose secrets are canaries, and the search.

``canary_cloud`` (session) is a local cloud of its own, on a fresh state folder whose
``credentials.json`` was written first with a canary password; its clouds.yaml has a password
entry (``bielefeld``), an application-credential entry (``heidelberg``, the secret derived from
the password as the local cloud derives it) and an entry with a wrong canary password
(``bielefeld-wrong``). ``sweep()`` searches everything reachable for every canary and fails on
a hit: the logging records (DEBUG, our loggers and Prefect's, openstacksdk's, keystoneauth's),
every live widget's state, the Prefect test database (every cell of every table, and its raw
bytes), every file under the session's temporary folder, and any extra texts a test passes.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from denbi_jupyter.cli import main
from denbi_jupyter.localcloud import LocalCloud, LocalCloudConfig, Timings, seed
from tests.flows.harness import prefect_harness  # noqa: F401  (fixture)
from tests.security.canary import (
    Canaries,
    LogSink,
    TokenWatch,
    exception_text,
    state_texts,
    widget_states,
)
from tests.support.cli import Result
from tests.support.faults import fault_rules

PASSWORD_SITE = "bielefeld"
APP_CREDENTIAL_SITE = "heidelberg"
WRONG_SITE = "bielefeld-wrong"
Texts = list[tuple[str, str]]
_CANARIES = pytest.StashKey[Canaries]()
_LOGGERS = ("", "denbi_jupyter", "flows", "prefect", "openstack", "keystoneauth", "httpx")


@dataclass(frozen=True)
class CanaryCloud:
    """The local cloud with canary secrets, and its clouds.yaml."""

    cloud: LocalCloud
    clouds_yaml: Path
    password: str
    app_secret: str
    wrong_password: str
    tokens: TokenWatch
    #: When the canaries were made (epoch seconds): no file older can hold one.
    started: float


def _write_private(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def _clouds(cloud: LocalCloud, password: str, wrong: str) -> dict[str, Any]:
    data = cloud.clouds_yaml()
    entries = data["clouds"]
    app = entries[APP_CREDENTIAL_SITE]
    cred = seed.app_credential(APP_CREDENTIAL_SITE, password)
    app["auth_type"] = "v3applicationcredential"
    app["auth"] = {
        "auth_url": app["auth"]["auth_url"],
        "application_credential_id": cred.id,
        "application_credential_secret": cred.secret,
    }
    bad = json.loads(json.dumps(entries[PASSWORD_SITE]))
    bad["auth"]["password"] = wrong
    bad["denbi"]["site"] = WRONG_SITE
    entries[WRONG_SITE] = bad
    return data


@pytest.fixture(scope="session")
def canary_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CanaryCloud]:
    """A local cloud (fast timings) whose seeded password is a canary."""
    started = time.time()
    state = tmp_path_factory.mktemp("canary-cloud-state")
    password = f"CANARY-pw-{secrets.token_hex(12)}"
    wrong = f"CANARY-wrong-{secrets.token_hex(12)}"
    _write_private(
        state / "credentials.json", json.dumps({"username": seed.USER_NAME, "password": password})
    )
    config = LocalCloudConfig(timings=Timings.fast(), state_dir=state)
    with LocalCloud(config) as cloud, TokenWatch(state) as tokens:
        folder = tmp_path_factory.mktemp("canary-clouds")
        text = yaml.safe_dump(_clouds(cloud, password, wrong), sort_keys=False)
        clouds_yaml = _write_private(folder / "clouds.yaml", text)
        yield CanaryCloud(
            cloud=cloud,
            clouds_yaml=clouds_yaml,
            password=password,
            app_secret=seed.app_credential(APP_CREDENTIAL_SITE, password).secret,
            wrong_password=wrong,
            tokens=tokens,
            started=started,
        )


@pytest.fixture(scope="session")
def log_sink() -> Iterator[LogSink]:
    """Every logging record of the session at DEBUG, from our loggers and the libraries'."""
    sink = LogSink()
    saved: list[tuple[logging.Logger, int]] = []
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.setLevel(logging.DEBUG)
        logger.addHandler(sink)
    yield sink
    for logger, level in saved:
        logger.removeHandler(sink)
        logger.setLevel(level)


@pytest.fixture(scope="session")
def canaries(
    request: pytest.FixtureRequest, canary_cloud: CanaryCloud, log_sink: LogSink
) -> Canaries:
    """The canary strings (password, app secret, wrong password; tokens as they are issued)."""
    found = Canaries()
    found.add("password", canary_cloud.password)
    found.add("application-credential secret", canary_cloud.app_secret)
    found.add("wrong password", canary_cloud.wrong_password)
    found.hold(canary_cloud.clouds_yaml)
    found.skip(canary_cloud.cloud.state_dir)  # the server's side: credentials.json, tokens
    request.config.stash[_CANARIES] = found
    return found


@pytest.fixture
def canary_env(canary_cloud: CanaryCloud, monkeypatch: pytest.MonkeyPatch) -> CanaryCloud:
    """The CLI, flows and ``open_site`` in this test read the canary clouds.yaml."""
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(canary_cloud.clouds_yaml))
    monkeypatch.delenv("OS_CLOUD", raising=False)
    return canary_cloud


@pytest.fixture
def texts() -> Texts:
    """(place, text) of everything the test's commands printed or raised."""
    return []


@pytest.fixture
def cli(capfd: pytest.CaptureFixture[str], texts: Texts) -> Callable[..., Result]:
    """``cli(*argv)``: run the command line in-process, keep its output for the sweep.

    ``capfd``: what reaches file descriptors 1 and 2 (Prefect's console handler, threads,
    child processes) is kept too, not only ``sys.stdout``/``sys.stderr``.
    """

    def run(*argv: str) -> Result:
        place = "cli " + " ".join(argv)
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse refused the arguments
            code = int(exit_.code or 0)
        except Exception as error:  # noqa: BLE001  a crash is a bug, and its text is searched too
            texts.append((f"{place} raised", exception_text(error)))
            code = -1
        captured = capfd.readouterr()
        texts.extend([(f"{place} stdout", captured.out), (f"{place} stderr", captured.err)])
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def faults(canary_cloud: CanaryCloud) -> Iterator[Callable[..., None]]:
    with fault_rules(canary_cloud.cloud) as add:
        yield add


def prefect_database() -> Path | None:
    """The SQLite file of the Prefect API this process uses (the test harness's), if any."""
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    url = str(PREFECT_SERVER_DATABASE_CONNECTION_URL.value() or "")
    prefix = "sqlite+aiosqlite:///"
    if not url.startswith(prefix):
        return None
    path = Path(url.removeprefix(prefix))
    return path if path.exists() else None


def flush_prefect_logs() -> None:
    """Send the run loggers' pending records to the API before the database is read."""
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30)


def search_everywhere(
    found: Canaries,
    texts: Iterable[tuple[str, str]],
    *,
    logs: Sequence[str],
    files: Path,
    prefect: bool = True,
) -> None:
    """Search ``texts``, the logs, the widgets, the Prefect database and ``files`` for ``found``."""
    for place, text in texts:
        found.check(place, text)
    if prefect:
        flush_prefect_logs()
        database = prefect_database()
        assert database is not None, "no Prefect test database to search"
        for place, text in state_texts(database):
            found.check(f"prefect db {place}", text)
        for raw in (database, database.with_name(database.name + "-wal")):
            if raw.exists():
                found.check(f"prefect db file {raw.name}", raw.read_bytes())
    for index, text in enumerate(logs):
        found.check(f"log record {index}", text)
    for place, text in widget_states():
        found.check(place, text)
    found.check_files(files)


@pytest.fixture
def sweep(
    canaries: Canaries,
    canary_cloud: CanaryCloud,
    log_sink: LogSink,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., None]:
    """``sweep(texts)``: search every place (and the given (place, text) pairs); fail on a hit."""

    def run(texts: Iterable[tuple[str, str]] = (), *, prefect: bool = True) -> None:
        canaries.add_many("keystone token", canary_cloud.tokens.tokens())
        search_everywhere(
            canaries,
            texts,
            logs=log_sink.drain(),
            files=tmp_path_factory.getbasetemp(),
            prefect=prefect,
        )
        canaries.assert_clean()

    return run


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print what the canary searched, when it ran."""
    found = config.stash.get(_CANARIES, None)
    if found is not None:
        terminalreporter.write_line(found.summary())
