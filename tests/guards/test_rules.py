"""The deletion rule asked about each image that must not go (pure: no cloud)."""

from __future__ import annotations

import datetime as dt

import pytest

from denbi_jupyter.cloud.rules.deletion import Refusal, deletion_refusal
from denbi_jupyter.cloud.types import Image

MINE = "p-mine"
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _image(*, visibility: str = "private", owner: str | None = MINE, protected: bool = False,
           snapshot: bool = True) -> Image:  # fmt: skip
    return Image(
        id="img-1", name="img", status="active", visibility=visibility, owner=owner,
        protected=protected, size=1, min_disk=0, min_ram=0, created_at=NOW, updated_at=NOW,
        tags=(), properties={"image_type": "snapshot"} if snapshot else {},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("image", "members", "refusal"),
    [
        pytest.param(_image(visibility="public"), None, Refusal.PUBLIC, id="own public"),
        pytest.param(_image(visibility="community"), None, Refusal.PUBLIC, id="own community"),
        pytest.param(_image(visibility="shared"), ["p-course"], Refusal.SHARED, id="own shared"),
        pytest.param(_image(visibility="shared"), [], None, id="shared without members"),
        pytest.param(_image(visibility="shared"), None, None, id="members not known"),
        pytest.param(
            _image(visibility="public", owner="p-admin"), None, Refusal.NOT_OWNED, id="base image"
        ),
        pytest.param(
            _image(visibility="public", protected=True), None, Refusal.PROTECTED, id="protected"
        ),
        pytest.param(_image(), None, None, id="own private snapshot"),
    ],
)
def test_each_image_that_others_use_is_refused_with_its_reason(
    image: Image, members: list[str] | None, refusal: Refusal | None
) -> None:
    assert deletion_refusal(image, MINE, members=members) is refusal


def test_a_public_image_is_refused_before_ownership_is_known() -> None:
    assert deletion_refusal(_image(visibility="public", owner=None), None) is Refusal.PUBLIC
