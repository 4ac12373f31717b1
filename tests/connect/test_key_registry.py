"""The key registry: remembered private key paths and last boot keys, per site."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from denbi_jupyter.connect.key_registry import STATE_DIR_ENV, KeyRegistry, state_dir


@pytest.fixture(autouse=True)
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv(STATE_DIR_ENV, str(folder))
    return folder


def a_key(folder: Path, name: str = "id_test") -> Path:
    path = folder / name
    path.write_text("not really a key, the registry never reads it\n")
    return path


def test_state_dir_follows_the_override_then_xdg_then_home(tmp_path: Path) -> None:
    assert state_dir({STATE_DIR_ENV: str(tmp_path / "s")}) == tmp_path / "s"
    assert state_dir({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "denbi-jupyter"
    assert state_dir({}) == Path.home() / ".local" / "state" / "denbi-jupyter"


def test_a_remembered_key_is_found_per_site_and_the_file_is_private(
    tmp_path: Path, isolated_state: Path
) -> None:
    registry = KeyRegistry()
    key = a_key(tmp_path)
    registry.remember_key("bielefeld", "laptop", key)
    assert registry.private_key("bielefeld", "laptop") == key
    assert registry.private_key("heidelberg", "laptop") is None
    assert registry.private_key("bielefeld", "other") is None
    assert registry.private_key("bielefeld", None) is None
    assert registry.path == isolated_state / "keys.json"
    assert stat.S_IMODE(os.stat(registry.path).st_mode) == 0o600
    stored = json.loads(registry.path.read_text())
    assert stored["keys"] == {"bielefeld": {"laptop": str(key)}}
    assert "not really a key" not in registry.path.read_text()  # paths only


def test_a_vanished_key_file_is_ignored(tmp_path: Path) -> None:
    registry = KeyRegistry()
    key = a_key(tmp_path)
    registry.remember_key("bielefeld", "laptop", key)
    key.unlink()
    assert registry.private_key("bielefeld", "laptop") is None


def test_the_last_boot_key_is_per_site_and_none_is_not_remembered() -> None:
    registry = KeyRegistry()
    assert registry.last_boot_key("bielefeld") is None
    registry.remember_boot_key("bielefeld", "laptop")
    registry.remember_boot_key("bielefeld", None)
    registry.remember_boot_key("heidelberg", "work")
    assert registry.last_boot_key("bielefeld") == "laptop"
    assert registry.last_boot_key("heidelberg") == "work"


def test_a_damaged_file_reads_as_empty_and_is_replaced_on_the_next_write(
    tmp_path: Path, isolated_state: Path
) -> None:
    isolated_state.mkdir()
    (isolated_state / "keys.json").write_text('{"keys": {"bielefeld": ')
    registry = KeyRegistry()
    assert registry.private_key("bielefeld", "laptop") is None
    registry.remember_key("bielefeld", "laptop", a_key(tmp_path))
    assert registry.private_key("bielefeld", "laptop") is not None


def test_concurrent_writers_never_corrupt_the_file_nor_lose_an_entry(tmp_path: Path) -> None:
    keys = [a_key(tmp_path, f"id_{n}") for n in range(24)]
    start = threading.Barrier(len(keys))

    def write(n: int) -> None:
        start.wait()
        KeyRegistry().remember_key("bielefeld", f"key-{n}", keys[n])  # each its own instance

    threads = [threading.Thread(target=write, args=(n,)) for n in range(len(keys))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    registry = KeyRegistry()
    assert all(registry.private_key("bielefeld", f"key-{n}") == keys[n] for n in range(len(keys)))
    assert not [p for p in registry.path.parent.iterdir() if p.name.endswith(".tmp")]
