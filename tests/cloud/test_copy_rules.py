"""The copy rules: pre-flight verdicts, the mark, carried properties, names and data checks."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from denbi_jupyter.cloud.rules.copy import (
    COPIED_FROM_KEY,
    MIB,
    CopyRefusal,
    ImageRecord,
    ImageUsage,
    StreamDigest,
    carried_tags,
    copied_from_mark,
    copy_problems,
    create_body,
    data_mismatch,
    parse_mark,
    raise_refusals,
    sort_copies,
    unique_name,
    usage_from_glance,
)
from denbi_jupyter.cloud.rules.retention import schedule_mark
from denbi_jupyter.errors import ConflictError, QuotaExceededError, UserInputError
from flows._copy_data import check_free_disk

DATA = b"x" * 1000
SHA = hashlib.sha512(DATA).hexdigest()
MD5 = hashlib.md5(DATA, usedforsecurity=False).hexdigest()
SOURCE = ImageRecord.from_glance(
    {
        "id": "src-1",
        "name": "x2go-desktop-snap",
        "status": "active",
        "owner": "p1",
        "visibility": "private",
        "size": len(DATA),
        "checksum": MD5,
        "os_hash_algo": "sha512",
        "os_hash_value": SHA,
        "disk_format": "qcow2",
        "container_format": "bare",
        "min_disk": 20,
        "min_ram": 2048,
        "tags": ["x2go", schedule_mark("nightly", "src-1")],
        "os_distro": "ubuntu",
        "image_type": "snapshot",
        "os_glance_importing_to_stores": "",
        "image_location": "snapshot",
        "denbi_source_image_id": "base-1",
    }
)
STREAMED = StreamDigest(len(DATA), SHA, MD5)


def _reasons(**changes: object) -> set[CopyRefusal]:
    source = replace(SOURCE, **changes.pop("source", {}))  # type: ignore[arg-type]
    usage = changes.pop("usage", ImageUsage())
    assert isinstance(usage, ImageUsage)
    target = str(changes.pop("target", "heidelberg"))
    problems = copy_problems(
        source=source, source_site="bielefeld", target_site=target, usage=usage
    )
    return {problem.reason for problem in problems}


def test_an_active_image_with_room_on_another_site_may_be_copied() -> None:
    assert _reasons(usage=ImageUsage(10, 3, 100, 10)) == set()
    assert _reasons(usage=ImageUsage(-1, 3, -1, 10)) == set()  # -1: unlimited


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"target": "bielefeld"}, CopyRefusal.SAME_SITE),
        ({"source": {"status": "saving"}}, CopyRefusal.SOURCE_NOT_ACTIVE),
        ({"source": {"size": 0}}, CopyRefusal.SOURCE_HAS_NO_DATA),
        ({"usage": ImageUsage(count_limit=5, count_used=5)}, CopyRefusal.COUNT_QUOTA),
        ({"usage": ImageUsage(size_limit_mib=1, size_used_mib=1)}, CopyRefusal.SIZE_QUOTA),
    ],
)
def test_each_obstacle_has_its_typed_reason(
    changes: dict[str, object], reason: CopyRefusal
) -> None:
    assert _reasons(**changes) == {reason}


def test_refusals_raise_the_error_of_their_kind_with_every_message() -> None:
    big = replace(SOURCE, size=5 * MIB)
    usage = ImageUsage(count_limit=1, count_used=1, size_limit_mib=2, size_used_mib=0)
    problems = copy_problems(source=big, source_site="a", target_site="b", usage=usage)
    with pytest.raises(QuotaExceededError, match=r"all 1 images.*5\.0 MiB.*2\.0 MiB"):
        raise_refusals(problems)
    with pytest.raises(ConflictError, match="'killed'"):
        raise_refusals(
            copy_problems(
                source=replace(SOURCE, status="killed"),
                source_site="a",
                target_site="b",
                usage=ImageUsage(),
            )
        )
    raise_refusals(())  # nothing to refuse


def test_unified_limits_are_read_and_other_answers_mean_no_limit_known() -> None:
    body = {
        "usage": {
            "image_count_total": {"limit": 10, "usage": 4},
            "image_size_total": {"limit": 1000, "usage": 250},
        }
    }
    usage = usage_from_glance(body)
    assert (usage.count_left, usage.bytes_left) == (6, 750 * MIB)
    others: tuple[object, ...] = ({"usage": {}}, {}, [], None, "nope")
    for other in others:
        assert usage_from_glance(other) == ImageUsage()
        assert (usage_from_glance(other).count_left, usage_from_glance(other).bytes_left) == (
            None,
            None,
        )


def test_the_mark_names_site_and_id_and_parses_back() -> None:
    mark = copied_from_mark("bielefeld", "src-1")
    assert mark == "bielefeld:src-1" and parse_mark(mark) == ("bielefeld", "src-1")
    assert parse_mark("no mark") is None


def test_the_create_body_carries_formats_properties_and_tags_but_not_site_only_keys() -> None:
    body = create_body(SOURCE, name="copy", mark="bielefeld:src-1", desktop_source_id="twin-9")
    assert (body["disk_format"], body["container_format"]) == ("qcow2", "bare")
    assert (body["min_disk"], body["min_ram"], body["visibility"]) == (20, 2048, "private")
    assert body["os_distro"] == "ubuntu" and body["image_type"] == "snapshot"
    assert body[COPIED_FROM_KEY] == "bielefeld:src-1"
    assert body["denbi_source_image_id"] == "twin-9"
    assert "os_glance_importing_to_stores" not in body and "image_location" not in body
    assert body["tags"] == ["x2go"] == list(carried_tags(SOURCE))  # no schedule mark
    for base in ("id", "status", "size", "checksum", "os_hash_value", "owner"):
        assert base not in body


def test_sort_copies_finds_the_finished_one_and_the_partial_ones() -> None:
    mark = "bielefeld:src-1"
    copy = replace(SOURCE, id="c1", owner="p2", properties={COPIED_FROM_KEY: mark}, status="active")
    queued = replace(copy, id="c2", status="queued", size=None, os_hash_value=None)
    broken = replace(copy, id="c3", os_hash_value="0" * 128, checksum="bad")
    foreign = replace(copy, id="c4", owner="someone-else", status="queued")
    other_mark = replace(copy, id="c5", properties={COPIED_FROM_KEY: "x:y"}, status="killed")
    protected = replace(queued, id="c6", protected=True)
    finished, partial = sort_copies(
        [queued, copy, broken, foreign, other_mark, protected], SOURCE, mark=mark, project_id="p2"
    )
    assert finished == copy
    assert [image.id for image in partial] == ["c2", "c3"]


def test_an_old_source_without_sha512_is_matched_by_md5() -> None:
    old = replace(SOURCE, os_hash_algo=None, os_hash_value=None)
    copy = replace(old, id="c1", owner="p2", properties={COPIED_FROM_KEY: "m"})
    assert sort_copies([copy], old, mark="m", project_id="p2")[0] == copy
    target = replace(SOURCE, id="c1")
    assert data_mismatch(old, STREAMED, target, source_site="a") == ""
    bad = StreamDigest(len(DATA), SHA, "0" * 32)
    assert "md5" in data_mismatch(old, bad, target, source_site="a")


@pytest.mark.parametrize(
    ("streamed", "target", "said"),
    [
        (StreamDigest(10, SHA, MD5), SOURCE, "ended after 10 of 1000 bytes"),
        (StreamDigest(len(DATA), "0" * 128, MD5), SOURCE, "corrupted"),
        (STREAMED, None, "vanished"),
        (STREAMED, replace(SOURCE, status="queued"), "'queued'"),
        (STREAMED, replace(SOURCE, size=999), "999 bytes"),
        (STREAMED, replace(SOURCE, os_hash_value="f" * 128), "sha512 of the copy"),
    ],
)
def test_every_data_mismatch_is_named(
    streamed: StreamDigest, target: ImageRecord | None, said: str
) -> None:
    assert said in data_mismatch(SOURCE, streamed, target, source_site="bielefeld")


def test_equal_data_is_no_mismatch() -> None:
    assert data_mismatch(SOURCE, STREAMED, replace(SOURCE, id="c1"), source_site="a") == ""


def test_a_taken_name_gets_the_next_free_suffix_within_the_name_limit() -> None:
    taken = {"snap", "snap (copy 2)"}
    assert unique_name(" snap ", taken.__contains__) == "snap (copy 3)"
    assert unique_name("free", taken.__contains__) == "free"
    long = "n" * 255
    named = unique_name(long, lambda name: name == long)
    assert len(named) == 255 and named.endswith(" (copy 2)")
    with pytest.raises(UserInputError, match="empty"):
        unique_name("  ", taken.__contains__)
    with pytest.raises(UserInputError, match="numbered variants"):
        unique_name("snap", lambda _name: True, attempts=3)


def test_spooling_is_refused_clearly_when_the_disk_is_too_small(tmp_path: Path) -> None:
    check_free_disk(tmp_path, 1)
    with pytest.raises(UserInputError, match=r"MiB free of the .* MiB needed"):
        check_free_disk(tmp_path, 2**62)
