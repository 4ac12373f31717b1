"""Keystone v3: password auth, the catalog, the user's projects, a refused password."""

from __future__ import annotations

import secrets

import pytest
from keystoneauth1.exceptions.http import Unauthorized
from keystoneauth1.identity.base import BaseIdentityPlugin
from openstack import exceptions
from openstack.connection import Connection
from openstack.identity.v3._proxy import Proxy as IdentityV3

REQUIRED_SERVICES = {"identity", "image", "compute", "network"}


def test_password_auth_gives_a_project_scoped_token_with_a_catalog(
    conn: Connection, project_id: str
) -> None:
    auth = conn.session.auth
    assert isinstance(auth, BaseIdentityPlugin)
    access = auth.get_access(conn.session)
    assert access.project_scoped
    assert access.project_id == project_id
    assert access.user_id == conn.current_user_id
    catalog = access.service_catalog.get_endpoints(interface="public")
    assert catalog is not None
    assert set(catalog) >= REQUIRED_SERVICES, f"catalog has only {sorted(catalog)}"
    for service in REQUIRED_SERVICES:
        url = access.service_catalog.url_for(service_type=service, interface="public")
        assert url is not None and url.startswith("http")


def test_user_projects_lists_both_member_projects(conn: Connection, project_id: str) -> None:
    identity, user_id = conn.identity, conn.current_user_id
    assert isinstance(identity, IdentityV3), "the cloud does not speak Keystone v3"
    assert user_id
    projects = list(identity.user_projects(user_id))
    ids = {project.id for project in projects}
    assert len(ids) == 2
    assert project_id in ids
    assert all(project.is_enabled for project in projects)


def test_wrong_password_is_refused_with_401(conn: Connection) -> None:
    wrong_password = secrets.token_urlsafe(24)
    wrong = conn.connect_as(password=wrong_password)
    try:
        with pytest.raises(Unauthorized) as refused:
            wrong.session.get_token()
        assert refused.value.http_status == 401
        assert wrong_password not in str(refused.value)
        with pytest.raises(exceptions.SDKException) as sdk_refused:
            wrong.authorize()
        assert wrong_password not in str(sdk_refused.value)
    finally:
        wrong.close()
