"""URLs fit to show: a leaf module below every layer (the cloud layer and the lab use it)."""

from __future__ import annotations

import urllib.parse

__all__ = ["public_url"]


def public_url(url: str) -> str:
    """``url`` without user info, query and fragment (safe to show); "" stays ""."""
    if not url:
        return ""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:  # e.g. a port that is not a number: show no more than the scheme
        return f"{url.split(':', 1)[0]}://…" if "://" in url else "…"
    host = parts.hostname or ""
    netloc = f"{host}:{port}" if port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
