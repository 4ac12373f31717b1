"""Garbage clouds.yaml files: the syntax error or a specific UserInputError, never a traceback.

"No cloud is configured" is only for a file whose ``clouds:`` section is really empty.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from openstack.config import loader as openstack_loader

from denbi_jupyter.cloud.sites import get_site, list_sites
from denbi_jupyter.errors import NotFoundError, UserInputError
from tests.hostile._budget import examples

_SECRET = "not-a-real-password"
_KEYS = st.sampled_from(
    [
        "clouds",
        "auth",
        "auth_url",
        "username",
        "password",
        "project_name",
        "region_name",
        "regions",
        "profile",
        "cloud",
        "auth_type",
        "networks",
        "denbi",
        "gateway_host",
        "ssh_port_formula",
        "ssh_user",
        "cache",
        "client",
        "metrics",
        "defaults",
        "name",
        "identity_api_version",
        "verify",
        "api_timeout",
        "site",
    ]
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["http://127.0.0.1:9/v3", "", "30000 + oct4", "x"]),
    st.text(max_size=12),
)
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(_KEYS, st.integers(0, 3)), inner, max_size=4),
    ),
    max_leaves=25,
)


_AUTH = {"auth_url": "http://127.0.0.1:9/v3", "username": "u", "password": _SECRET}

_DENBI = st.fixed_dictionaries(
    {},
    optional={
        "gateway_host": st.sampled_from(["129.70.51.75", "gw\nHost *", ""]) | st.text(max_size=9),
        "ssh_port_formula": st.sampled_from(["30000 + oct4", "oct5", "\ud7ff"]),
        "guacamole_base_url": st.sampled_from(["https://g.example.org/g", "javascript:x"]),
        "ssh_user": st.sampled_from(["ubuntu", "root\n", 5]),
    },
)


@st.composite
def _clouds_documents(draw: st.DrawFn) -> object:
    """Documents shaped roughly like clouds.yaml, with any part swapped for garbage."""
    auth = draw(
        st.one_of(
            st.just(_AUTH),
            _DOCUMENTS,
        )
    )
    entry = draw(
        st.one_of(
            st.fixed_dictionaries(
                {"auth": st.just(auth)},
                optional={
                    "region_name": _DOCUMENTS,
                    "denbi": st.one_of(_DENBI, _DOCUMENTS),
                    "networks": _DOCUMENTS,
                    "profile": _DOCUMENTS,
                    "regions": _DOCUMENTS,
                    "auth_type": _DOCUMENTS,
                },
            ),
            _DOCUMENTS,
        )
    )
    clouds = draw(
        st.one_of(
            st.dictionaries(_KEYS | st.text(max_size=5), st.just(entry), min_size=1, max_size=2),
            _DOCUMENTS,
        )
    )
    return draw(
        st.one_of(
            st.just({"clouds": clouds}),
            st.just({"clouds": clouds, "cache": draw(_DOCUMENTS)}),
            _DOCUMENTS,
        )
    )


def _read(text: str, suffix: str) -> None:
    """List the sites of ``text`` as the only clouds.yaml; check the outcome."""
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        for name in ("OS_CLOUD", "OS_CLIENT_SECURE_FILE", "OS_AUTH_URL", "OS_USERNAME"):
            patch.delenv(name, raising=False)
        patch.setattr(openstack_loader, "CONFIG_FILES", [])
        patch.setattr(openstack_loader, "SECURE_FILES", [])
        patch.setenv("HOME", folder)
        patch.chdir(folder)
        path = Path(folder) / f"clouds{suffix}"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        patch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
        try:
            sites = list_sites()
        except NotFoundError as error:
            event("no cloud configured")
            assert "No cloud is configured" in str(error) and _SECRET not in str(error)
            document = yaml.safe_load(text) if suffix != ".json" else json.loads(text)
            clouds = document["clouds"]
            assert not clouds or set(clouds) == {"defaults"}, "garbage reported as no cloud"
            return
        except UserInputError as error:
            event("refused: " + ("syntax" if "not valid" in str(error) else "shape"))
            message = str(error)
            assert message and _SECRET not in message and "Traceback" not in message
            return
        event(f"read, {sum(bool(site.problem) for site in sites)} broken entries")
        for site in sites:
            assert isinstance(site.name, str) and _SECRET not in repr(site)
            try:
                get_site(site.name)
            except UserInputError as error:
                assert _SECRET not in str(error)


@settings(max_examples=examples(25))
@given(text=st.text(max_size=200))
@example(text="clouds:\n  a:\n    auth:\n      auth_url: x\n     username: b\n")
@example(text="")  # an empty file was "No cloud is configured"
@example(text="[]")
def test_any_text_as_clouds_yaml_is_read_or_refused_clearly(
    text: str,
) -> None:
    _read(text, ".yaml")


@settings(max_examples=examples(25))
@given(document=_clouds_documents())
@example(document={"clouds": 5})  # crashed in openstacksdk with a TypeError
@example(document={"clouds": {"a": {"auth": "x"}}})
@example(document={"clouds": {"a": {"profile": 5}}})
@example(document={"clouds": {"a": {"auth": {"auth_url": "x"}, "networks": [5]}}})
@example(document={"clouds": {"a": {"auth": {"auth_url": "x"}}}, "cache": 5})
@example(document={"clouds": {"defaults": 5}})
@example(document={"clouds": {"a": {"auth": {"auth_url": "x"}}}, "cache": {0: None}})
@example(document={"clouds": {5: {"auth": {"auth_url": "x"}}}})
@example(document={"clouds": {"a": {"auth": _AUTH, "profile": "30000 + oct4"}}})  # a warning
@example(document={"clouds": {"a": {"auth": _AUTH, "cloud": "http://127.0.0.1:9/v3"}}})  # fetched
def test_any_yaml_document_as_clouds_yaml_is_read_or_refused_clearly(
    document: object,
) -> None:
    _read(yaml.safe_dump(document), ".yaml")


@settings(max_examples=examples(10))
@given(document=_clouds_documents())
@example(document=[1, 2])
def test_any_json_document_as_clouds_json_is_read_or_refused_clearly(
    document: object,
) -> None:
    try:
        text = json.dumps(document)
    except (TypeError, ValueError):
        return
    _read(text, ".json")


@pytest.mark.parametrize(
    ("profile", "says"),
    [
        ("30000 + oct4", "openstacksdk has no vendor profile '30000 + oct4'"),
        ("https://user:pw@profiles.example.org/x", "its 'profile:' is a URL"),
        ("betacloud", "references a cloud that no longer exists"),  # a shut-down vendor
    ],
)
def test_an_unknown_or_remote_profile_breaks_its_entry_only_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str, says: str
) -> None:
    good = {"auth": _AUTH, "region_name": "Bielefeld"}
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump({"clouds": {"odd": {**good, "profile": profile}, "ok": good}}))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    monkeypatch.delenv("OS_CLOUD", raising=False)
    sites = {site.name: site for site in list_sites()}
    assert says in sites["odd"].problem and not sites["ok"].problem
    assert "pw@" not in sites["odd"].problem
    with pytest.raises(UserInputError, match=says.replace("+", r"\+")):
        get_site("odd")
    assert get_site("ok").region == "Bielefeld"
