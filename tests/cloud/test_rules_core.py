"""The domain core's pure rules: names, deletability, listing source, offering, retention."""

from __future__ import annotations

import datetime as dt

import pytest

from denbi_jupyter.cloud.rules import (
    HOSTNAME_MAX,
    NAME_MAX,
    ListingPlan,
    ListingSource,
    NameKind,
    Refusal,
    check_server_name,
    deletion_refusal,
    made_by_schedule,
    name_problem,
    offered_sites,
    offering,
    plan_listing,
    plan_retention,
    schedule_mark,
    vm_name_warning,
)
from denbi_jupyter.cloud.rules.retention import NIGHTLY, SCHEDULE_KEY
from denbi_jupyter.cloud.types import Image, SnapshotQuery
from denbi_jupyter.errors import UserInputError

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
MINE = "p-mine"
ID = "0f2c3c1e-9d4a-4c0e-8a0b-2d7f5a3e9c11"


def _image(
    image_id: str = "img-1",
    *,
    owner: str | None = MINE,
    protected: bool = False,
    snapshot: bool = True,
    status: str = "active",
    name: str = "img",
    tags: tuple[str, ...] = (),
    properties: dict[str, str] | None = None,
    age_days: float = 0,
) -> Image:
    props = {"image_type": "snapshot"} if snapshot else {}
    props.update(properties or {})
    made = NOW - dt.timedelta(days=age_days)
    return Image(
        id=image_id, name=name, status=status, visibility="private", owner=owner,
        protected=protected, size=1, min_disk=0, min_ram=0, created_at=made, updated_at=made,
        tags=tags, properties=props,
    )  # fmt: skip


def test_the_vm_name_limit_is_novas_255_and_63_only_cuts_the_hostname() -> None:
    assert check_server_name("  " + "v" * NAME_MAX + " ") == "v" * NAME_MAX
    with pytest.raises(UserInputError, match="at most 255"):
        check_server_name("v" * (NAME_MAX + 1))
    assert vm_name_warning("v" * HOSTNAME_MAX) == ""
    assert "cut" in vm_name_warning("v" * (HOSTNAME_MAX + 1))
    assert "empty" in name_problem(NameKind.SNAPSHOT, "   ")
    assert name_problem(NameKind.KEYPAIR, "laptop key@home.1") == ""
    assert "key pair" in name_problem(NameKind.KEYPAIR, "bad/name")


@pytest.mark.parametrize(
    ("image", "project", "only", "refusal"),
    [
        (_image(protected=True), MINE, True, Refusal.PROTECTED),
        (_image(owner="p-other"), MINE, True, Refusal.NOT_OWNED),
        (_image(owner=None), MINE, True, Refusal.NOT_OWNED),
        (_image(snapshot=False), MINE, True, Refusal.NOT_A_SNAPSHOT),
        (_image(snapshot=False), MINE, False, None),
        (_image(owner="p-other"), None, True, None),
        (_image(), MINE, True, None),
    ],
)
def test_deletion_refusal_names_the_reason(
    image: Image, project: str | None, only: bool, refusal: Refusal | None
) -> None:
    assert deletion_refusal(image, project, snapshots_only=only) is refusal


def test_listing_sends_what_glance_can_filter_and_searches_names_in_the_index() -> None:
    names = {MINE: "my-project", "p-other": "Other"}

    def plan(text: str, *, loaded: bool = False, own: bool = False) -> ListingPlan:
        query = SnapshotQuery(text=text, own_only=own)
        return plan_listing(query, index_loaded=loaded, project_id=MINE, project_names=names)

    assert plan("").source is ListingSource.GLANCE
    assert plan(ID.replace("-", "")).params["id"] == ID
    assert plan("other").params["owner"] == "p-other"
    assert plan("other", own=True).source is ListingSource.EMPTY
    assert plan("rnaseq").source is ListingSource.LOAD_INDEX
    assert plan("rnaseq", loaded=True).source is ListingSource.INDEX
    assert plan("", loaded=True).source is ListingSource.GLANCE


def test_offering_tells_offered_missing_and_unknown_apart() -> None:
    answers = {
        "a": [_image(name="X", status="active")],
        "b": [_image(name="X", status="queued")],
        "c": None,
    }
    assert offering(answers, "X") == {"a": True, "b": False, "c": None}
    assert offered_sites(answers, "X") == ["a"]


def test_only_snapshots_with_their_own_mark_are_the_schedules() -> None:
    own = _image("s1", tags=(schedule_mark(NIGHTLY, "s1"),), properties={SCHEDULE_KEY: NIGHTLY})
    copied = _image("h1", tags=(schedule_mark(NIGHTLY, "s1"),), properties={SCHEDULE_KEY: NIGHTLY})
    unmarked = _image("old", properties={SCHEDULE_KEY: NIGHTLY}, age_days=90)
    assert made_by_schedule(own, NIGHTLY)
    assert not made_by_schedule(copied, NIGHTLY) and not made_by_schedule(unmarked, NIGHTLY)
    assert not made_by_schedule(own, "weekly")
    assert plan_retention([copied, unmarked], keep_last=1, max_age_days=1, now=NOW) == []
