"""Glance's per-project image quota (Keystone unified limits) and ``GET /v2/info/usage``.

A site's :class:`~denbi_jupyter.localcloud.config.SiteProfile` holds the limits every project
starts with (Keystone's registered limits, default -1: unlimited); ``POST /_admin/image-limits``
changes them, or one project's, while the cloud runs (Keystone's project limits). Glance 33
counts and refuses exactly so:

* ``image_count_total``: images the project owns that are not ``killed``/``deleted``;
  ``POST /v2/images`` is refused when usage + 1 > limit.
* ``image_size_total``: whole MiB (``bytes // 2**20``) of the project's stored image data;
  an upload is refused *before* its data is read when usage + ``Content-Length // 2**20`` >
  limit. The local cloud also refuses an upload without a length (chunked) once its received
  size would pass the limit; real Glance stores such an upload.
* ``image_count_uploading``: images in ``saving``/``uploading``/``importing``; checked (delta 0)
  once the image being uploaded is ``saving``, which then goes back to ``queued``.
* ``image_stage_total``: MiB in the import staging area (no interoperable import here: 0).

A refusal is 413 with Glance's ``LimitExceeded`` text carrying oslo.limit's reason. With
``use_keystone_limits`` off nothing is enforced and ``/v2/info/usage`` answers
``{"usage": {}}`` (the real tier's Glance does: it runs without unified limits).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from denbi_jupyter.localcloud.config import IMAGE_LIMIT_NAMES, ImageLimits, SiteProfile
from denbi_jupyter.localcloud.responses import ApiError

if TYPE_CHECKING:
    from denbi_jupyter.localcloud.site import Site

__all__ = [
    "LIMIT_EXCEEDED",
    "ImageLimitBook",
    "check_change",
    "enforce",
    "usage",
    "usage_view",
]

#: Glance's ``LimitExceeded`` message; ``{body}`` is oslo.limit's ``ProjectOverLimit`` text.
LIMIT_EXCEEDED = (
    "The request returned a 413 Request Entity Too Large. This generally means that rate "
    "limiting or a quota threshold was breached.\n\nThe response body:\n{body}"
)
_MIB = 1024 * 1024
_GONE = ("killed", "deleted", "pending_delete")
_UPLOADING = ("saving", "uploading", "importing")


class ImageLimitBook:
    """A site's run-time changes to its image limits: site defaults and per-project limits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._defaults: ImageLimits | None = None
        self._projects: dict[str, ImageLimits] = {}
        self._enabled: bool | None = None

    def limits(self, profile: SiteProfile, project_id: str) -> ImageLimits:
        """The limits that apply to ``project_id`` on the site of ``profile``."""
        with self._lock:
            default = self._defaults or profile.image_limits
            return self._projects.get(project_id, default)

    def enabled(self, profile: SiteProfile) -> bool:
        """Whether the site enforces and reports unified limits (``use_keystone_limits``)."""
        with self._lock:
            return profile.use_keystone_limits if self._enabled is None else self._enabled

    def change(
        self, profile: SiteProfile, data: Mapping[str, Any], project_id: str | None
    ) -> ImageLimits:
        """Set the limits named in ``data`` for ``project_id`` (None: the site's default) and
        ``use_keystone_limits`` if given; return the limits now in force there.

        Raises:
            ValueError: An unknown name, or a limit that is not an integer >= -1.
        """
        values, enabled = check_change(data)
        with self._lock:
            default = self._defaults or profile.image_limits
            base = default if project_id is None else self._projects.get(project_id, default)
            changed = replace(base, **values)
            if project_id is None:
                self._defaults = changed
            else:
                self._projects[project_id] = changed
            if enabled is not None:
                self._enabled = enabled
        return changed

    def reset(self) -> None:
        """Forget every run-time change (back to the site's configuration)."""
        with self._lock:
            self._defaults, self._enabled = None, None
            self._projects.clear()

    def describe(self, profile: SiteProfile) -> dict[str, Any]:
        """The site's limits in JSON form (for ``GET /_admin/image-limits``)."""
        with self._lock:
            default = self._defaults or profile.image_limits
            enabled = profile.use_keystone_limits if self._enabled is None else self._enabled
            projects = {key: _as_dict(value) for key, value in self._projects.items()}
        return {"use_keystone_limits": enabled, "default": _as_dict(default), "projects": projects}


def check_change(data: Mapping[str, Any]) -> tuple[dict[str, int], bool | None]:
    """The limits and ``use_keystone_limits`` a change names (others are ignored).

    Raises:
        ValueError: A limit that is not an integer >= -1, or a non-boolean switch.
    """
    values = {key: value for key, value in data.items() if key in IMAGE_LIMIT_NAMES}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < -1:
            raise ValueError(f"{key} must be an integer >= -1 (-1: unlimited), got {value!r}")
    enabled = data.get("use_keystone_limits")
    if enabled is not None and not isinstance(enabled, bool):
        raise ValueError(f"use_keystone_limits must be true or false, got {enabled!r}")
    return values, enabled


def _as_dict(limits: ImageLimits) -> dict[str, int]:
    return {name: limits.value(name) for name in IMAGE_LIMIT_NAMES}


def usage(conn: sqlite3.Connection, owner: str) -> dict[str, int]:
    """What ``owner`` uses of each limit, counted as Glance 33 counts (sizes in whole MiB)."""
    gone = ", ".join("?" * len(_GONE))
    uploading = ", ".join("?" * len(_UPLOADING))
    row = conn.execute(
        f"SELECT COALESCE(SUM(CASE WHEN status NOT IN ({gone}) THEN size END), 0) AS size, "
        f"COALESCE(SUM(CASE WHEN status IN ('uploading', 'importing') AND size > 0 "
        f"THEN size END), 0) AS staged, "
        f"COUNT(CASE WHEN status NOT IN ({gone}) THEN 1 END) AS images, "
        f"COUNT(CASE WHEN status IN ({uploading}) THEN 1 END) AS uploading "
        "FROM images WHERE owner = ?",
        (*_GONE, *_GONE, *_UPLOADING, owner),
    ).fetchone()
    return {
        "image_size_total": int(row["size"]) // _MIB,
        "image_stage_total": int(row["staged"]) // _MIB,
        "image_count_total": int(row["images"]),
        "image_count_uploading": int(row["uploading"]),
    }


def usage_view(site: Site, conn: sqlite3.Connection, project_id: str) -> dict[str, Any]:
    """The body of ``GET /v2/info/usage`` for ``project_id``."""
    if not site.image_limits.enabled(site.profile):
        return {"usage": {}}
    limits = site.image_limits.limits(site.profile, project_id)
    used = usage(conn, project_id)
    return {
        "usage": {
            name: {"limit": limits.value(name), "usage": used[name]} for name in IMAGE_LIMIT_NAMES
        }
    }


def enforce(
    site: Site, conn: sqlite3.Connection, project_id: str, name: str, delta: int = 0
) -> None:
    """Refuse (413) when ``project_id``'s usage of ``name`` plus ``delta`` passes its limit.

    Raises:
        ApiError: 413 with Glance's ``LimitExceeded`` message.
    """
    if not site.image_limits.enabled(site.profile):
        return
    limit = site.image_limits.limits(site.profile, project_id).value(name)
    if limit < 0:
        return
    current = usage(conn, project_id)[name]
    if current + delta > limit:
        reason = (
            f"Project {project_id} is over a limit for [Resource {name} is over limit of "
            f"{limit} due to current usage {current} and delta {delta}]"
        )
        raise ApiError(413, LIMIT_EXCEEDED.format(body=reason))
