"""The public surface of denbi_jupyter.connect."""

from __future__ import annotations

import importlib

import denbi_jupyter.connect as connect
from tests.support.imports import heavy_modules_loaded_by

MODULES = ["guacamole", "keyfile", "ports", "ppk", "probe", "ssh", "x2go"]


def test_all_is_sorted_unique_and_resolves() -> None:
    assert connect.__all__ == sorted(connect.__all__, key=lambda n: (not n.isupper(), n))
    assert len(set(connect.__all__)) == len(connect.__all__)
    for name in connect.__all__:
        assert getattr(connect, name) is not None, name


def test_every_module_export_is_reexported() -> None:
    for module_name in MODULES:
        module = importlib.import_module(f"denbi_jupyter.connect.{module_name}")
        missing = set(module.__all__) - set(connect.__all__)
        assert not missing, f"{module_name}: {sorted(missing)}"


def test_connect_imports_no_openstack_prefect_or_widgets() -> None:
    assert heavy_modules_loaded_by("denbi_jupyter.connect") == []
