"""``denbi-jupyter snapshots list --all-sites`` against both local-cloud sites."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from denbi_jupyter.cloud import SnapshotQuery, SnapshotSort
from tests.flows.harness import LocalEnv

pytestmark = [pytest.mark.usefixtures("local_env"), pytest.mark.timeout(120)]

SITES = ("bielefeld", "heidelberg")


def test_all_sites_lists_every_site_with_a_site_column(cli: Any, local_env: LocalEnv) -> None:
    result = cli("snapshots", "list", "--all-sites", "--per-page", "3", "--sort", "name")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split()[:3] == ["SITE", "ID", "NAME"]
    listed = {line.split()[0] for line in lines[2:] if line.split()[0] in SITES}
    assert listed == set(SITES)
    for site in SITES:
        assert any(line.startswith(f"{site}: ") and "shown" in line for line in lines)
        query = SnapshotQuery(per_page=3, sort=SnapshotSort.NAME)
        expected = local_env.client(site).list_snapshots(query)
        ids = {line.split()[1] for line in lines[2:] if line.startswith(f"{site} ")}
        assert ids == {s.id for s in expected.items}


def test_all_sites_json_pages_on_per_site(cli: Any) -> None:
    first = cli("snapshots", "list", "--all-sites", "--per-page", "2", "--json").json()
    second = cli(
        "snapshots", "list", "--all-sites", "--per-page", "2", "--page", "2", "--json"
    ).json()
    assert [s["site"] for s in first["sites"]] == list(SITES)
    assert all(s["state"] == "ok" for s in first["sites"])
    for site in SITES:
        assert len([i for i in first["items"] if i["site"] == site]) == 2
    keys = {(i["site"], i["id"]) for page in (first, second) for i in page["items"]}
    assert len(keys) == len(first["items"]) + len(second["items"])
    created = [i["created_at"] for i in first["items"]]
    assert created == sorted(created, reverse=True)


def test_a_failing_site_is_named_and_the_others_are_listed(
    cli: Any, faults: Callable[..., None]
) -> None:
    faults({"kind": "error", "site": "bielefeld", "path": "/v2/images", "status": 503})
    result = cli("snapshots", "list", "--all-sites")
    assert result.code == 1
    assert "bielefeld: 503 Service Unavailable" in result.out.splitlines()
    rows = [line for line in result.out.splitlines()[2:] if line.startswith("heidelberg ")]
    assert rows and not any(line.startswith("bielefeld ") for line in result.out.splitlines())


def test_a_slow_site_is_still_loading_after_the_timeout(
    cli: Any, faults: Callable[..., None]
) -> None:
    faults({"kind": "latency", "site": "heidelberg", "path": "/v2/images", "seconds": 3})
    result = cli("snapshots", "list", "--all-sites", "--timeout", "0.5", "--json")
    assert result.code == 1
    page = result.json()
    assert [s["text"] for s in page["sites"]][1] == "heidelberg: still loading"
    assert page["items"] and {i["site"] for i in page["items"]} == {"bielefeld"}


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("--all-sites", "--site", "bielefeld"), "either --site or --all-sites"),
        (("--all-sites", "--timeout", "0"), "between 0 and 3600"),
    ],
)
def test_bad_all_sites_options_are_refused(cli: Any, argv: tuple[str, ...], words: str) -> None:
    result = cli("snapshots", "list", *argv)
    assert result.code == 2 and words in result.err
