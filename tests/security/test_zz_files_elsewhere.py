"""Last: files this session changed outside the test folders hold no canary either.

Run after the other modules (pytest takes files in name order): every regular file under
``/tmp`` and ``$HOME`` changed since the canaries were made (up to 64 MB; package caches, the
repository's tooling and other pytest sessions' folders left out) is searched, e.g. Prefect's
result storage and database under ``~/.prefect``, Prefect's and the lab's temporary folders.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.security.canary import Canaries, recent_files
from tests.security.conftest import CanaryCloud

MAX_BYTES = 64 * 2**20


def test_files_changed_elsewhere_during_the_session(
    canary_cloud: CanaryCloud,
    canaries: Canaries,
    sweep: Callable[..., None],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    since = canary_cloud.started
    temp = Path(tempfile.gettempdir())
    skip = [tmp_path_factory.getbasetemp().parent, *temp.glob("bash_*")]  # sweep: our own
    searched = 0
    for root in (temp, Path.home()):
        for path in recent_files(root, since=since, max_bytes=MAX_BYTES, skip=skip):
            if any(path.resolve().is_relative_to(folder) for folder in canaries.skipped):
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue  # removed meanwhile
            canaries.files += 1
            searched += 1
            canaries.check(f"file {path}", data)
    assert searched, "no file changed during the session was found outside the test folders"
    sweep(prefect=False)
