"""`make test` runs the suite in groups (Makefile ``TEST_GROUPS``): no folder of tests is left out.

A folder missing from every group would silently never run in CI; one in two groups would run
twice. ``tests/load`` is run by ``make load`` instead.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Folders of tests that `make test` leaves to another target.
OTHER_TARGETS = {"tests/load"}


def _groups() -> dict[str, list[str]]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    names = re.search(r"^TEST_GROUPS := (.+)$", text, re.MULTILINE)
    assert names, "the Makefile names its TEST_GROUPS"
    groups = {}
    for name in names.group(1).split():
        folders = re.search(rf"^group_{name} := (.+)$", text, re.MULTILINE)
        assert folders, f"group {name!r} lists its folders"
        groups[name] = folders.group(1).split()
    return groups


def _folders_with_tests() -> set[str]:
    return {str(path.parent.relative_to(ROOT)) for path in (ROOT / "tests").rglob("test_*.py")}


def test_every_folder_of_tests_is_in_exactly_one_group() -> None:
    listed = [folder for folders in _groups().values() for folder in folders]
    twice = sorted({folder for folder in listed if listed.count(folder) > 1})
    assert twice == []
    assert set(listed) == _folders_with_tests() - OTHER_TARGETS
    assert _folders_with_tests() >= OTHER_TARGETS
