"""`make test` runs the suite in groups (Makefile ``TEST_GROUPS``): no file of tests is left out.

A group lists folders and files. A test file in no group would silently never run in CI; one
in two groups would run twice. ``tests/load`` is run by ``make load`` instead.
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


def _test_files(entry: str) -> list[str]:
    """The test files a group's entry stands for (a folder: every ``test_*.py`` below it)."""
    path = ROOT / entry
    assert path.exists(), f"{entry} is in a group but does not exist"
    found = [path] if path.is_file() else sorted(path.rglob("test_*.py"))
    return [str(file.relative_to(ROOT)) for file in found]


def _all_test_files() -> set[str]:
    return {str(path.relative_to(ROOT)) for path in (ROOT / "tests").rglob("test_*.py")}


def test_every_file_of_tests_is_in_exactly_one_group() -> None:
    listed = [file for entries in _groups().values() for e in entries for file in _test_files(e)]
    twice = sorted({file for file in listed if listed.count(file) > 1})
    assert twice == []
    others = {file for folder in OTHER_TARGETS for file in _test_files(folder)}
    assert others, OTHER_TARGETS
    assert sorted(_all_test_files() - others - set(listed)) == []
    assert set(listed) <= _all_test_files() - others
