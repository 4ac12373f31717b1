"""Copying an image to another site: the facts, the pre-flight verdict and the checks (pure).

A copy is marked with the image property :data:`COPIED_FROM_KEY` = ``"<site>:<image id>"``
(:func:`copied_from_mark`): ``site`` is the ``clouds.yaml`` entry the source was read from,
the id is the source's Glance id. Glance filters on it server side (exact match), so a re-run
finds its earlier copy in one listing; :func:`sort_copies` splits what it finds into a
finished copy (active, same data) and failed partial ones (to replace).

The rules here take facts already fetched (:class:`ImageRecord`, :class:`ImageUsage`) and
return verdicts with typed reasons (:class:`CopyRefusal`); :func:`raise_refusals` turns a
verdict into the matching :mod:`denbi_jupyter.errors` type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from denbi_jupyter.cloud.provenance import SOURCE_IMAGE_ID
from denbi_jupyter.cloud.rules.names import NAME_MAX, NameKind, name_problem
from denbi_jupyter.cloud.rules.retention import is_schedule_mark
from denbi_jupyter.errors import ConflictError, DenbiError, QuotaExceededError, UserInputError

__all__ = [
    "COPIED_FROM_KEY",
    "MIB",
    "PARTIAL_STATES",
    "CopyProblem",
    "CopyRefusal",
    "ImageRecord",
    "ImageUsage",
    "StreamDigest",
    "carried_properties",
    "carried_tags",
    "copied_from_mark",
    "copy_problems",
    "create_body",
    "data_mismatch",
    "parse_mark",
    "raise_refusals",
    "sort_copies",
    "stream_mismatch",
    "unique_name",
    "usage_from_glance",
]

#: The image property that names a copy's source: ``"<site>:<image id>"``.
COPIED_FROM_KEY = "denbi_copied_from"
#: Glance's unified limits count image sizes in MiB.
MIB = 1024 * 1024
#: Statuses of a copy that never finished (replaced by the next run).
PARTIAL_STATES = frozenset({"queued", "saving", "killed", "uploading", "importing"})

#: Properties never carried: Glance reserves ``os_glance_*`` and refuses them on create.
_RESERVED_PREFIXES = ("os_glance_",)
#: Properties of the source site only (volume-backed snapshots have no image data anyway).
_SITE_ONLY = frozenset({"block_device_mapping", "bdm_v2", "image_location", "stores"})
_BASE_FIELDS = frozenset(
    {
        "id", "name", "status", "visibility", "owner", "protected", "container_format",
        "disk_format", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value",
        "min_disk", "min_ram", "os_hidden", "created_at", "updated_at", "tags", "self", "file",
        "schema", "stores", "locations", "direct_url",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """A Glance image with what a copy needs: formats, data size and hashes."""

    id: str
    name: str
    status: str
    owner: str | None
    visibility: str
    protected: bool
    size: int | None
    checksum: str | None
    os_hash_algo: str | None
    os_hash_value: str | None
    disk_format: str | None
    container_format: str | None
    min_disk: int = 0
    min_ram: int = 0
    tags: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_glance(cls, record: Mapping[str, Any]) -> ImageRecord:
        """The record of a Glance v2 image JSON object."""

        def text(key: str) -> str | None:
            value = record.get(key)
            return str(value) if value not in (None, "") else None

        def number(key: str) -> int | None:
            value = record.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        properties = {
            str(key): value if isinstance(value, str) else str(value)
            for key, value in record.items()
            if key not in _BASE_FIELDS and value is not None
        }
        return cls(
            id=str(record["id"]),
            name=str(record.get("name") or ""),
            status=str(record.get("status") or "unknown"),
            owner=text("owner"),
            visibility=str(record.get("visibility") or "private"),
            protected=bool(record.get("protected")),
            size=number("size"),
            checksum=text("checksum"),
            os_hash_algo=text("os_hash_algo"),
            os_hash_value=text("os_hash_value"),
            disk_format=text("disk_format"),
            container_format=text("container_format"),
            min_disk=number("min_disk") or 0,
            min_ram=number("min_ram") or 0,
            tags=tuple(sorted(str(tag) for tag in record.get("tags") or ())),
            properties=properties,
        )

    @property
    def sha512(self) -> str | None:
        """The sha512 of the data, when Glance recorded it (old images may lack it)."""
        if (self.os_hash_algo or "sha512") != "sha512":
            return None
        return self.os_hash_value


@dataclass(frozen=True, slots=True)
class ImageUsage:
    """The target project's image limits and usage (None: no limit known)."""

    count_limit: int | None = None
    count_used: int | None = None
    size_limit_mib: int | None = None
    size_used_mib: int | None = None

    @property
    def count_left(self) -> int | None:
        """How many more images fit, or None when unknown or unlimited."""
        return _left(self.count_limit, self.count_used)

    @property
    def bytes_left(self) -> int | None:
        """How many more bytes of image data fit, or None when unknown or unlimited."""
        left = _left(self.size_limit_mib, self.size_used_mib)
        return None if left is None else left * MIB


def _left(limit: int | None, used: int | None) -> int | None:
    if limit is None or limit < 0:
        return None
    return max(0, limit - (used or 0))


def usage_from_glance(body: object) -> ImageUsage:
    """The usage of a ``GET /v2/info/usage`` answer (unified limits); unknown parts None.

    A Glance without unified limits answers 404 or another shape: that is "no limit known".
    """
    usage = body.get("usage") if isinstance(body, Mapping) else None
    if not isinstance(usage, Mapping):
        return ImageUsage()

    def pair(key: str) -> tuple[int | None, int | None]:
        entry = usage.get(key)
        if not isinstance(entry, Mapping):
            return None, None
        limit, used = entry.get("limit"), entry.get("usage")
        return (
            limit if isinstance(limit, int) else None,
            used if isinstance(used, int) else None,
        )

    count_limit, count_used = pair("image_count_total")
    size_limit, size_used = pair("image_size_total")
    return ImageUsage(count_limit, count_used, size_limit, size_used)


class CopyRefusal(StrEnum):
    """Why a copy must not start."""

    SAME_SITE = "same site"
    SOURCE_NOT_ACTIVE = "source not active"
    SOURCE_HAS_NO_DATA = "source has no data"
    COUNT_QUOTA = "image count quota"
    SIZE_QUOTA = "image size quota"
    BAD_NAME = "bad name"


@dataclass(frozen=True, slots=True)
class CopyProblem:
    """One reason a copy must not start, and the sentence for people."""

    reason: CopyRefusal
    message: str


def copied_from_mark(site: str, image_id: str) -> str:
    """The :data:`COPIED_FROM_KEY` value of a copy of ``image_id`` read from ``site``."""
    return f"{site}:{image_id}"


def parse_mark(mark: str) -> tuple[str, str] | None:
    """(site, image id) of a :data:`COPIED_FROM_KEY` value, or None when it is not one."""
    site, sep, image_id = mark.rpartition(":")
    return (site, image_id) if sep and site and image_id else None


def copy_problems(
    *, source: ImageRecord, source_site: str, target_site: str, usage: ImageUsage
) -> tuple[CopyProblem, ...]:
    """Everything that speaks against copying ``source`` from one site to the other."""
    problems: list[CopyProblem] = []
    if source_site.strip() == target_site.strip():
        problems.append(
            CopyProblem(
                CopyRefusal.SAME_SITE,
                f"The target site {target_site!r} is the source site: choose another site.",
            )
        )
    label = f"Image {source.name!r} ({source.id}) on {source_site}"
    if source.status != "active":
        problems.append(
            CopyProblem(
                CopyRefusal.SOURCE_NOT_ACTIVE,
                f"{label} is {source.status!r}: only active images can be copied; wait "
                "until it is active.",
            )
        )
    elif not source.size or "block_device_mapping" in source.properties:
        problems.append(
            CopyProblem(
                CopyRefusal.SOURCE_HAS_NO_DATA,
                f"{label} has no image data (a volume-backed snapshot?): there is nothing to copy.",
            )
        )
    if usage.count_left is not None and usage.count_left < 1:
        problems.append(
            CopyProblem(
                CopyRefusal.COUNT_QUOTA,
                f"The project on {target_site} has used all {usage.count_limit} images its "
                "quota allows: delete images there or ask the site for more quota.",
            )
        )
    bytes_left = usage.bytes_left
    if bytes_left is not None and source.size and source.size > bytes_left:
        problems.append(
            CopyProblem(
                CopyRefusal.SIZE_QUOTA,
                f"{label} has {source.size / MIB:.1f} MiB, but the project on {target_site} "
                f"has only {bytes_left / MIB:.1f} MiB of image quota left: delete images "
                "there or ask the site for more quota.",
            )
        )
    return tuple(problems)


_ERROR_OF: Mapping[CopyRefusal, type[DenbiError]] = {
    CopyRefusal.SAME_SITE: UserInputError,
    CopyRefusal.BAD_NAME: UserInputError,
    CopyRefusal.SOURCE_NOT_ACTIVE: ConflictError,
    CopyRefusal.SOURCE_HAS_NO_DATA: UserInputError,
    CopyRefusal.COUNT_QUOTA: QuotaExceededError,
    CopyRefusal.SIZE_QUOTA: QuotaExceededError,
}


def raise_refusals(problems: Iterable[CopyProblem]) -> None:
    """Raise the error of the first problem, its message listing every one; no problem: no-op.

    Raises:
        UserInputError: Same site, bad name, no data to copy.
        ConflictError: The source is not active.
        QuotaExceededError: The target's image quota does not allow the copy.
    """
    found = list(problems)
    if found:
        kind = _ERROR_OF[found[0].reason]
        raise kind("Copy refused: " + " ".join(problem.message for problem in found))


def carried_properties(source: ImageRecord, *, mark: str) -> dict[str, str]:
    """The source's properties a copy keeps (all but Glance-reserved and site-only), plus
    :data:`COPIED_FROM_KEY` = ``mark``."""
    kept = {
        key: value
        for key, value in source.properties.items()
        if key not in _SITE_ONLY and not key.startswith(_RESERVED_PREFIXES)
    }
    kept[COPIED_FROM_KEY] = mark
    return kept


def carried_tags(source: ImageRecord) -> tuple[str, ...]:
    """The source's tags a copy keeps: all but schedule marks (they name the source's id)."""
    return tuple(tag for tag in source.tags if not is_schedule_mark(tag))


def create_body(
    source: ImageRecord, *, name: str, mark: str, desktop_source_id: str | None = None
) -> dict[str, Any]:
    """The ``POST /v2/images`` body of the copy (private, the source's formats and minimums).

    ``desktop_source_id`` is the target site's image that tells the copy's desktop (the
    equivalent of the source's): it replaces :data:`SOURCE_IMAGE_ID`, which names an image of
    the source site.
    """
    properties = carried_properties(source, mark=mark)
    if desktop_source_id:
        properties[SOURCE_IMAGE_ID] = desktop_source_id
    body: dict[str, Any] = {
        **properties,
        "name": name,
        "visibility": "private",
        "min_disk": source.min_disk,
        "min_ram": source.min_ram,
        "tags": list(carried_tags(source)),
    }
    if source.disk_format:
        body["disk_format"] = source.disk_format
    if source.container_format:
        body["container_format"] = source.container_format
    return body


def _same_data(copy: ImageRecord, source: ImageRecord) -> bool:
    if copy.size is None or copy.size != source.size:
        return False
    if source.sha512 and copy.sha512:
        return copy.sha512 == source.sha512
    return bool(source.checksum) and copy.checksum == source.checksum


def sort_copies(
    found: Iterable[ImageRecord], source: ImageRecord, *, mark: str, project_id: str
) -> tuple[ImageRecord | None, tuple[ImageRecord, ...]]:
    """(the finished copy, the partial ones to replace) among images found by the mark.

    Only the project's own images carrying exactly ``mark`` count. A finished copy is active
    with the source's size and hash; a partial one is unfinished (:data:`PARTIAL_STATES`) or
    active with other data (a run that died before its check).
    """
    finished: ImageRecord | None = None
    partial: list[ImageRecord] = []
    for image in found:
        if image.owner != project_id or image.properties.get(COPIED_FROM_KEY) != mark:
            continue
        if image.status == "active" and _same_data(image, source) and finished is None:
            finished = image
        elif (image.status in PARTIAL_STATES or image.status == "active") and not image.protected:
            partial.append(image)
    return finished, tuple(partial)


def unique_name(wanted: str, taken: Callable[[str], bool], *, attempts: int = 50) -> str:
    """``wanted`` trimmed, or with a `` (copy N)`` suffix when ``taken(name)`` says it is used.

    Raises:
        UserInputError: The name breaks the name rules, or no free name was found.
    """
    clean = wanted.strip()
    problem = name_problem(NameKind.SNAPSHOT, clean)
    if problem:
        raise UserInputError(problem)
    if not taken(clean):
        return clean
    for number in range(2, attempts + 2):
        suffix = f" (copy {number})"
        candidate = clean[: NAME_MAX - len(suffix)] + suffix
        if not taken(candidate):
            return candidate
    raise UserInputError(
        f"The name {clean!r} and {attempts} numbered variants are taken on the target: "
        "give the copy another name."
    )


@dataclass(frozen=True, slots=True)
class StreamDigest:
    """What went through the copy's stream: bytes and their hashes (``md5`` empty when it was
    not computed: the source's sha512 checked the stream)."""

    size: int
    sha512: str
    md5: str


def stream_mismatch(source: ImageRecord, streamed: StreamDigest, *, source_site: str) -> str:
    """Why the streamed data is not the source's, or ``''`` when it is.

    Checked against the source's own record: its size and ``os_hash_value`` (sha512), or its
    md5 ``checksum`` on an old image without one.
    """
    if source.size is not None and streamed.size != source.size:
        return (
            f"The download from {source_site} ended after {streamed.size} of {source.size} "
            "bytes (cut off)"
        )
    if source.sha512 and streamed.sha512 != source.sha512:
        return (
            f"The data read from {source_site} does not match the source's sha512 "
            "(corrupted on the way)"
        )
    if not source.sha512 and source.checksum and streamed.md5 != source.checksum:
        return (
            f"The data read from {source_site} does not match the source's md5 "
            "(corrupted on the way)"
        )
    return ""


def data_mismatch(
    source: ImageRecord, streamed: StreamDigest, target: ImageRecord | None, *, source_site: str
) -> str:
    """Why the copy's data is not the source's, or ``''`` when size and sha512 agree.

    The stream is checked against the source (:func:`stream_mismatch`), then the target's
    record against the stream.
    """
    problem = stream_mismatch(source, streamed, source_site=source_site)
    if problem:
        return problem
    if target is None:
        return "The copy vanished from the target before it could be checked"
    if target.status != "active":
        return f"The target left the copy {target.status!r} after the upload"
    if target.size != streamed.size:
        return f"The target stored {target.size} bytes instead of {streamed.size}"
    if target.sha512 and target.sha512 != streamed.sha512:
        return "The target's sha512 of the copy differs from the data sent"
    # The stream's md5 is computed only without a source sha512; else the source's md5 is it.
    if not target.sha512 and target.checksum != (streamed.md5 or source.checksum):
        return "The target's md5 of the copy differs from the data sent"
    return ""
