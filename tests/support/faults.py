"""Fault rules on a running local cloud, for one test or one block."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from denbi_jupyter.localcloud import LocalCloud

__all__ = ["fault_rules"]


@contextlib.contextmanager
def fault_rules(cloud: LocalCloud) -> Iterator[Callable[..., None]]:
    """``add(rule, ...)`` adds fault rules to ``cloud``; all rules go when the block ends."""
    with httpx.Client(base_url=cloud.url, timeout=10) as http:

        def add(*rules: dict[str, Any]) -> None:
            response = http.post("/_admin/faults", json=list(rules))
            assert response.status_code == 201, response.text

        yield add
        http.delete("/_admin/faults")
