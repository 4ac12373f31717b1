"""Request ids: what makes a re-run of the same request find its earlier result.

A flow records its request id on what it creates (server metadata, image property
``denbi_request_id``) and looks it up before creating anything. When the caller gives no id,
one is derived from the request itself, so Prefect's own retries and a user's "run again"
land on the same server or snapshot instead of making a second one.
"""

from __future__ import annotations

import hashlib

from denbi_jupyter.cloud.rules.retention import SCHEDULE_KEY

__all__ = ["REQUEST_ID_KEY", "SCHEDULE_KEY", "derive_request_id"]

#: Server metadata key and image property that carry the request id.
REQUEST_ID_KEY = "denbi_request_id"


def derive_request_id(kind: str, *parts: str) -> str:
    """A stable id for a request: ``kind`` plus a hash of its defining parts.

    Example: ``derive_request_id("snapshot", "bielefeld", server_id, "nightly-1")``.
    """
    digest = hashlib.sha256("\0".join((kind, *parts)).encode("utf-8")).hexdigest()
    return f"{kind}-{digest[:24]}"
