"""``GET /v2/images`` in SQL: visibility, Glance's filters, sorting and marker paging.

Filters are exact-match (as Glance's): base attributes, repeated ``tag`` (all must match), any
custom property, ``in:"a","b"`` lists, ``gt:``/``gte:``/``lt:``/``lte:``/``eq:``/``neq:`` on
``created_at``/``updated_at`` and ``size_min``/``size_max``. Paging is keyset paging from the
marker's sort values, so a page costs the same wherever it is.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from denbi_jupyter.localcloud.glance_records import IMAGE_STATUSES, db_time
from denbi_jupyter.localcloud.responses import ApiError

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "SORT_KEYS",
    "ImageQuery",
    "Viewer",
    "list_images",
    "parse_image_query",
    "split_in_list",
    "visible_clause",
]

#: Glance's ``limit_param_default`` and ``api_limit_max``.
DEFAULT_LIMIT = 25
MAX_LIMIT = 1000
#: Keys Glance can sort on, in the order its error message lists them.
SORT_KEYS = (
    "name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at"
)  # fmt: skip

# NULLs become values that sort first ascending, so keyset comparisons stay total.
_SORT_EXPR = {
    "name": "COALESCE(name, '')",
    "status": "status",
    "container_format": "COALESCE(container_format, '')",
    "disk_format": "COALESCE(disk_format, '')",
    "size": "COALESCE(size, -1)",
    "id": "id",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
_IN_FIELDS = ("name", "id", "status", "container_format", "disk_format")
_EXACT_FIELDS = ("owner", "checksum", "os_hash_value", "os_hash_algo")
_INT_FIELDS = ("min_ram", "min_disk")
_TIME_FIELDS = ("created_at", "updated_at")
_TIME_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=", "neq": "!="}
_VISIBILITIES = ("public", "private", "shared", "community", "all")
_MEMBER_STATUSES = ("accepted", "pending", "rejected", "all")
_PAGING_PARAMS = ("limit", "marker", "sort", "sort_key", "sort_dir")


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who lists: the token's project and whether it is an admin."""

    project_id: str | None
    is_admin: bool


@dataclass(slots=True)
class ImageQuery:
    """A parsed listing request."""

    where: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    sort: list[tuple[str, str]] = field(default_factory=list)
    limit: int = DEFAULT_LIMIT
    marker: str | None = None


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


def split_in_list(text: str) -> list[str]:
    """Split Glance's ``a,"b,c",d`` list syntax (quotes protect commas; ``\\"`` escapes)."""
    values: list[str] = []
    index = 0
    while index <= len(text):
        if index < len(text) and text[index] == '"':
            end = index + 1
            chars: list[str] = []
            while end < len(text) and text[end] != '"':
                if text[end] == "\\" and end + 1 < len(text):
                    end += 1
                chars.append(text[end])
                end += 1
            if end >= len(text):
                raise _bad(f"Invalid filter value {text}. The quote is not closed.")
            values.append("".join(chars))
            index = end + 1
            if index < len(text) and text[index] != ",":
                raise _bad(
                    f"Invalid filter value {text}. There is no comma after closing quotation mark."
                )
        else:
            end = text.find(",", index)
            end = len(text) if end < 0 else end
            values.append(text[index:end])
            index = end
        index += 1
    return values


def _parse_bool(name: str, value: str) -> int:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise _bad(
            f"Invalid value '{value}' for '{name}' filter. Valid values are 'true' or 'false'."
        )
    return int(lowered == "true")


def _parse_int(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise _bad(f"Invalid value '{value}' for '{name}': it must be an integer.") from None
    if number < 0:
        raise _bad(f"Invalid value '{value}' for '{name}': it must not be negative.")
    return number


def _parse_time(name: str, value: str) -> str:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _bad(f"Invalid date format '{value}' for '{name}': use ISO 8601.") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return db_time(moment)


def visible_clause(viewer: Viewer, *, member_status: str = "all") -> tuple[str, list[Any]]:
    """SQL that is true for every image the viewer may see (``show``, markers)."""
    if viewer.is_admin:
        return "1", []
    member_sql, member_params = _member_clause(viewer, member_status)
    return (
        f"(visibility IN ('public', 'community') OR owner = ? OR {member_sql})",
        [viewer.project_id, *member_params],
    )


def _member_clause(viewer: Viewer, member_status: str) -> tuple[str, list[Any]]:
    status_sql = "" if member_status == "all" else " AND m.status = ?"
    sql = (
        "(visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m "
        f"WHERE m.image_id = images.id AND m.member_id = ?{status_sql}))"
    )
    params: list[Any] = [viewer.project_id]
    if member_status != "all":
        params.append(member_status)
    return sql, params


def _visibility_filter(
    query: ImageQuery, viewer: Viewer, visibility: str | None, member_status: str
) -> None:
    if visibility is not None and visibility not in _VISIBILITIES:
        raise _bad(f"Invalid visibility value: {visibility}")
    if viewer.is_admin:
        if visibility not in (None, "all"):
            query.where.append("visibility = ?")
            query.params.append(visibility)
        return
    member_sql, member_params = _member_clause(viewer, member_status)
    project = viewer.project_id
    if visibility is None:
        query.where.append(f"(visibility = 'public' OR owner = ? OR {member_sql})")
        query.params += [project, *member_params]
    elif visibility == "all":
        query.where.append(f"(visibility IN ('public', 'community') OR owner = ? OR {member_sql})")
        query.params += [project, *member_params]
    elif visibility == "private":
        query.where.append("(visibility = 'private' AND owner = ?)")
        query.params.append(project)
    elif visibility == "shared":
        query.where.append(f"(visibility = 'shared' AND (owner = ? OR {member_sql}))")
        query.params += [project, *member_params]
    else:
        query.where.append("visibility = ?")
        query.params.append(visibility)


def _sort_pairs(sort_values: list[str], keys: list[str], dirs: list[str]) -> list[tuple[str, str]]:
    """The ``(key, direction)`` pairs asked for, in ``sort=`` or ``sort_key``/``sort_dir`` form."""
    if sort_values and (keys or dirs):
        raise _bad("The 'sort' parameter cannot be combined with 'sort_key' or 'sort_dir'.")
    pairs: list[tuple[str, str]] = []
    if sort_values:
        for part in sort_values[-1].split(","):
            key, _, direction = part.strip().partition(":")
            pairs.append((key.strip(), direction.strip() or "desc"))
        return pairs
    if dirs and len(dirs) not in (1, len(keys) or 1):
        raise _bad("The number of sort_dir values must be one or match sort_key.")
    for index, key in enumerate(keys):
        direction = dirs[index] if len(dirs) == len(keys) else (dirs[0] if dirs else "desc")
        pairs.append((key, direction))
    if not keys and dirs:
        pairs.append(("created_at", dirs[0]))
    return pairs


def _check_sort(pairs: list[tuple[str, str]]) -> None:
    for key, direction in pairs:
        if key not in SORT_KEYS:
            raise _bad(
                f"Invalid sort key: {key}. It must be one of the following: {', '.join(SORT_KEYS)}."
            )
        if direction not in ("asc", "desc"):
            raise _bad(f"Invalid sort direction: {direction}")
    seen = [key for key, _ in pairs]
    if len(set(seen)) != len(seen):
        raise _bad("Sort keys must not repeat.")


def _parse_sort(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The sort of a listing, ending in ``created_at`` and ``id`` (stable keyset paging)."""
    pairs = _sort_pairs(
        [value for key, value in items if key == "sort"],
        [value for key, value in items if key == "sort_key"],
        [value for key, value in items if key == "sort_dir"],
    )
    _check_sort(pairs)
    if not pairs:
        pairs.append(("created_at", "desc"))
    for extra in ("created_at", "id"):
        if not any(key == extra for key, _ in pairs):
            pairs.append((extra, "desc"))
    return pairs


def _parse_limit(items: list[tuple[str, str]]) -> int:
    values = [value for key, value in items if key == "limit"]
    if not values:
        return DEFAULT_LIMIT
    try:
        limit = int(values[-1])
    except ValueError:
        raise _bad("limit param must be an integer") from None
    if limit < 0:
        raise _bad("limit param must be positive")
    return min(limit, MAX_LIMIT)


def _field_filter(query: ImageQuery, name: str, value: str) -> None:
    if name in _IN_FIELDS:
        values = split_in_list(value[3:]) if value.startswith("in:") else [value]
        if name == "status":
            for status in values:
                if status not in IMAGE_STATUSES:
                    raise _bad(f"Invalid status value: {status}")
        expression = "COALESCE(name, '')" if name == "name" else name
        query.where.append(f"{expression} IN ({', '.join('?' * len(values))})")
        query.params += values
    elif name in _EXACT_FIELDS:
        query.where.append(f"{name} = ?")
        query.params.append(value)
    elif name in _INT_FIELDS:
        query.where.append(f"{name} = ?")
        query.params.append(_parse_int(name, value))
    elif name in ("protected", "os_hidden"):
        query.where.append(f"{name} = ?")
        query.params.append(_parse_bool(name, value))
    elif name in ("size_min", "size_max"):
        operator = ">=" if name == "size_min" else "<="
        query.where.append(f"size {operator} ?")
        query.params.append(_parse_int(name, value))
    elif name in _TIME_FIELDS:
        operator, sep, moment = value.partition(":")
        if not sep or operator not in _TIME_OPS:
            operator, moment = "eq", value
        query.where.append(f"{name} {_TIME_OPS[operator]} ?")
        query.params.append(_parse_time(name, moment))
    elif name == "image_type":
        query.where.append("image_type = ?")
        query.params.append(value)
    else:
        query.where.append("json_extract(properties, ?) = ?")
        query.params += ['$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"', value]


def parse_image_query(items: list[tuple[str, str]], viewer: Viewer) -> ImageQuery:
    """Turn the query parameters of ``GET /v2/images`` into SQL pieces.

    Args:
        items: The query parameters in order, repeated keys included.
        viewer: Who lists (decides visibility).

    Raises:
        ApiError: 400 for an unknown sort key, bad operator or malformed value.
    """
    query = ImageQuery(limit=_parse_limit(items), sort=_parse_sort(items))
    markers = [value for key, value in items if key == "marker"]
    query.marker = markers[-1] if markers else None
    tags = [value for key, value in items if key == "tag"]
    single = {key: value for key, value in items if key not in (*_PAGING_PARAMS, "tag")}
    member_status = single.pop("member_status", "accepted")
    if member_status not in _MEMBER_STATUSES:
        raise _bad(f"Invalid status: {member_status}")
    _visibility_filter(query, viewer, single.pop("visibility", None), member_status)
    query.where.append("os_hidden = ?")
    query.params.append(_parse_bool("os_hidden", single.pop("os_hidden", "false")))
    for tag in tags:
        query.where.append(
            "EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = images.id AND t.tag = ?)"
        )
        query.params.append(tag)
    for name, value in single.items():
        _field_filter(query, name, value)
    return query


def _keyset(sort: list[tuple[str, str]], marker: sqlite3.Row) -> tuple[str, list[Any]]:
    """Rows strictly after ``marker`` in the given order (expanded lexicographic compare)."""
    clauses: list[str] = []
    params: list[Any] = []
    for depth, (key, direction) in enumerate(sort):
        parts: list[str] = []
        for prior_key, _ in sort[:depth]:
            parts.append(f"{_SORT_EXPR[prior_key]} = ?")
            params.append(marker[f"k_{prior_key}"])
        parts.append(f"{_SORT_EXPR[key]} {'>' if direction == 'asc' else '<'} ?")
        params.append(marker[f"k_{key}"])
        clauses.append("(" + " AND ".join(parts) + ")")
    return "(" + " OR ".join(clauses) + ")", params


def list_images(conn: sqlite3.Connection, query: ImageQuery, viewer: Viewer) -> list[sqlite3.Row]:
    """One page of image rows for ``query``.

    Raises:
        ApiError: 400 when the marker is unknown or not visible to the viewer.
    """
    where = list(query.where)
    params = list(query.params)
    if query.marker is not None:
        seen_sql, seen_params = visible_clause(viewer)
        columns = ", ".join(f"{_SORT_EXPR[key]} AS k_{key}" for key, _ in query.sort)
        marker = conn.execute(
            f"SELECT {columns} FROM images WHERE id = ? AND {seen_sql}",
            [query.marker, *seen_params],
        ).fetchone()
        if marker is None:
            raise _bad(f"No image found with ID {query.marker}")
        keyset_sql, keyset_params = _keyset(query.sort, marker)
        where.append(keyset_sql)
        params += keyset_params
    order = ", ".join(f"{_SORT_EXPR[key]} {direction.upper()}" for key, direction in query.sort)
    sql = f"SELECT * FROM images WHERE {' AND '.join(where) or '1'} ORDER BY {order} LIMIT ?"
    return conn.execute(sql, [*params, query.limit]).fetchall()
