"""Fixtures of the local-cloud tests (Keystone, Glance, seed, Nova, Neutron).

The cloud itself comes from ``tests/conftest.py``: ``local_cloud`` (one
``LocalCloud(LocalCloudConfig(timings=Timings.fast()))`` per session) and ``clouds_yaml`` (its
clouds.yaml in a temporary folder). On top of those, this file offers — keep them stable, the
Nova/Neutron tests use them too:

* ``conn`` / ``connect``: openstacksdk connections made from the clouds.yaml entries only.
* ``http``: an ``httpx.Client`` on the cloud's base URL, for exact statuses, headers, bodies.
* ``credentials``: the seeded user's name and password (from the state folder).
* ``token`` / ``issue_token``: project-scoped Keystone tokens for raw HTTP calls.
* ``site``: the running :class:`~denbi_jupyter.localcloud.site.Site` of ``bielefeld``, for
  checks a client cannot make (files on disk, rows that are invisible to the user).
* ``golden``: loads a recorded exchange from ``shared/openstack-golden``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openstack.config import OpenStackConfig
from openstack.connection import Connection

from denbi_jupyter.localcloud import LocalCloud
from denbi_jupyter.localcloud.seed import PRIMARY_PROJECT
from denbi_jupyter.localcloud.server import load_credentials
from denbi_jupyter.localcloud.site import Site

#: The site most tests use and its clouds.yaml entry.
SITE = "bielefeld"
#: Folder of the recorded real OpenStack exchanges (beside the repository).
GOLDEN_DIR = Path(__file__).resolve().parents[3] / "shared" / "openstack-golden"

Connect = Callable[..., Connection]
IssueToken = Callable[..., str]


@pytest.fixture(scope="session")
def connect(clouds_yaml: Path) -> Iterator[Connect]:
    """Factory: ``connect("heidelberg")`` is a fresh openstacksdk connection to that entry.

    Keyword arguments override the entry (e.g. ``project_name="denbi-course"``). Connections
    are closed at the end of the session.
    """
    made: list[Connection] = []

    def factory(cloud: str = SITE, *, config_file: Path | None = None, **auth: Any) -> Connection:
        config = OpenStackConfig(config_files=[str(config_file or clouds_yaml)], vendor_files=[])
        connection = Connection(config=config.get_one(cloud=cloud, **auth))
        made.append(connection)
        return connection

    yield factory
    for connection in made:
        connection.close()


@pytest.fixture(scope="session")
def conn(connect: Connect) -> Connection:
    """An openstacksdk connection to ``bielefeld`` as the seeded user, scoped to the primary
    project."""
    return connect(SITE)


@pytest.fixture(scope="session")
def credentials(local_cloud: LocalCloud) -> dict[str, str]:
    """``{"username": …, "password": …}`` of the seeded user."""
    return load_credentials(local_cloud.state_dir)


@pytest.fixture(scope="session")
def http(local_cloud: LocalCloud) -> Iterator[httpx.Client]:
    """A raw HTTP client on the cloud's base URL that accepts JSON, as openstacksdk does.

    (Glance renders errors as an HTML page for a client that does not accept JSON.)
    """
    headers = {"Accept": "application/json"}
    with httpx.Client(base_url=local_cloud.url, timeout=30, headers=headers) as client:
        yield client


def password_auth(
    username: str, password: str, project: str | None, *, domain: str = "Default"
) -> dict[str, Any]:
    """A Keystone ``POST /v3/auth/tokens`` body for password auth (unscoped if no project)."""
    body: dict[str, Any] = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": username, "domain": {"name": domain}, "password": password}
                },
            }
        }
    }
    if project is not None:
        body["auth"]["scope"] = {"project": {"name": project, "domain": {"name": domain}}}
    return body


@pytest.fixture(scope="session")
def issue_token(http: httpx.Client, credentials: dict[str, str]) -> IssueToken:
    """Factory: ``issue_token(site="bielefeld", project=PRIMARY_PROJECT, username=…,
    password=…)`` returns a new token id (fails the test unless Keystone answers 201)."""

    def factory(
        site: str = SITE,
        project: str | None = PRIMARY_PROJECT,
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> str:
        body = password_auth(
            username or credentials["username"], password or credentials["password"], project
        )
        response = http.post(f"/{site}/identity/v3/auth/tokens", json=body)
        assert response.status_code == 201, response.text
        return response.headers["X-Subject-Token"]

    return factory


@pytest.fixture(scope="session")
def token(issue_token: IssueToken) -> str:
    """A token of the seeded user on ``bielefeld``, scoped to the primary project."""
    return issue_token()


@pytest.fixture(scope="session")
def site(local_cloud: LocalCloud) -> Site:
    """The running ``bielefeld`` site (database, data folder, timeline)."""
    assert local_cloud.state is not None
    return local_cloud.state.sites[SITE]


@pytest.fixture(scope="session")
def golden() -> Callable[[str], dict[str, Any]]:
    """Loader of a golden exchange by number: ``golden("17")`` → the parsed JSON file."""
    if not GOLDEN_DIR.is_dir():
        pytest.skip(f"the golden files are not at {GOLDEN_DIR}")

    def load(number: str) -> dict[str, Any]:
        (path,) = GOLDEN_DIR.glob(f"{number}-*.json")
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    return load
