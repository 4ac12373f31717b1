"""The layer rules of DESIGN.md, checked over the source of every module of ours.

Imports are read with :mod:`ast`, so imports inside functions (lazy ones), under
``TYPE_CHECKING`` and ``importlib.import_module("...")`` / ``__import__("...")`` calls with a
literal name (or an f-string with a literal prefix such as ``f"flows.{name}"``) all count.

``from package import name`` counts as an import of ``package.name`` when that is a module of
ours, else of ``package``. Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``;
the rules are about what a module asks for, not about those side effects.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("denbi_jupyter", "flows")
OURS = PACKAGES

#: The gateway and the two private modules split from it: the only importers of the SDK.
GATEWAY = frozenset(
    {
        "denbi_jupyter.cloud._openstack",
        "denbi_jupyter.cloud._openstack_config",
        "denbi_jupyter.cloud._openstack_errors",
    }
)
SDK = ("openstack", "keystoneauth1")


@dataclass(frozen=True, slots=True)
class Import:
    """One import of one module: who imports what, and where."""

    importer: str
    target: str
    line: int

    def __str__(self) -> str:
        path = self.importer.replace(".", "/")
        return f"{path}.py:{self.line} imports {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _sources() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _literal_prefix(node: ast.expr) -> str | None:
    """The module name of an ``import_module`` argument: a literal, or an f-string's prefix."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value:
            return first.value.rstrip(".") or None
    return None


def _is_dynamic_import(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in ("import_module", "__import__") and bool(call.args)


def _resolve_from(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = importer.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(node: ast.AST, importer: str, is_package: bool) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = _resolve_from(node, importer, is_package)
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            yield candidate if candidate in _sources() else base
    elif isinstance(node, ast.Call) and _is_dynamic_import(node):
        name = _literal_prefix(node.args[0])
        if name is not None:
            yield name


@cache
def imports() -> tuple[Import, ...]:
    """Every import in every module of ``denbi_jupyter`` and ``flows``."""
    found: list[Import] = []
    for module, path in _sources().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            for target in _targets(node, module, is_package):
                found.append(Import(module, target, getattr(node, "lineno", 0)))
    return tuple(found)


def _within(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _from(prefix: str) -> list[Import]:
    return [i for i in imports() if _within(i.importer, [prefix])]


def _report(bad: Iterable[Import]) -> str:
    return "\n".join(sorted(str(i) for i in bad))


# --- the parser itself ------------------------------------------------------------------------
def test_the_scan_sees_lazy_relative_and_importlib_imports() -> None:
    source = (
        "import importlib\n"
        "from . import sibling\n"
        "def later():\n"
        "    import openstack.exceptions\n"
        "    importlib.import_module('prefect')\n"
        "    importlib.import_module(f'flows.{name}')\n"
        "    importlib.import_module(f'{unknown}.x')\n"
    )
    found = {
        target
        for node in ast.walk(ast.parse(source))
        for target in _targets(node, "denbi_jupyter.panels.view", is_package=False)
    }
    assert found == {
        "importlib",
        "denbi_jupyter.panels",
        "openstack.exceptions",
        "prefect",
        "flows",
    }


def test_the_scan_covers_both_packages() -> None:
    modules = _sources()
    assert set(modules) >= GATEWAY
    for package in (
        "denbi_jupyter.cloud",
        "denbi_jupyter.connect",
        "denbi_jupyter.labserver",
        "denbi_jupyter.localcloud",
        "denbi_jupyter.panels",
        "flows",
    ):
        assert package in modules, package


# --- the rules --------------------------------------------------------------------------------
def test_only_the_gateway_imports_openstack_or_keystoneauth() -> None:
    sdk = [i for i in imports() if _within(i.target, SDK)]
    assert {i.importer for i in sdk} == GATEWAY, _report(
        i for i in sdk if i.importer not in GATEWAY
    )


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        pytest.param("denbi_jupyter.panels", ("flows", *SDK), id="panels-no-flows-no-sdk"),
        pytest.param(
            "flows",
            ("denbi_jupyter.jobs", "denbi_jupyter.panels", "denbi_jupyter.cli"),
            id="flows-below-jobs-panels-cli",
        ),
        pytest.param(
            "denbi_jupyter.cloud",
            (
                "flows",
                "denbi_jupyter.jobs",
                "denbi_jupyter.panels",
                "denbi_jupyter.cli",
                "denbi_jupyter.localcloud",
            ),
            id="cloud-is-the-bottom",
        ),
        pytest.param(
            "denbi_jupyter.connect",
            (
                *SDK,
                "httpx",
                "requests",
                "prefect",
                "ipywidgets",
                "flows",
                "denbi_jupyter.jobs",
                "denbi_jupyter.panels",
                "denbi_jupyter.cli",
                "denbi_jupyter.localcloud",
            ),
            id="connect-is-pure",
        ),
        pytest.param(
            "denbi_jupyter.labserver",
            (
                *SDK,
                "prefect",
                "ipywidgets",
                "flows",
                "denbi_jupyter.cloud",
                "denbi_jupyter.jobs",
                "denbi_jupyter.panels",
                "denbi_jupyter.cli",
                "denbi_jupyter.localcloud",
            ),
            id="labserver-is-server-side",
        ),
        pytest.param(
            "denbi_jupyter.prefect_server",
            ("prefect", "flows", "denbi_jupyter.localcloud", "denbi_jupyter.panels"),
            id="prefect-server-starts-a-process-only",
        ),
    ],
)
def test_layer_does_not_import_what_is_above_it(layer: str, forbidden: tuple[str, ...]) -> None:
    bad = [i for i in _from(layer) if _within(i.target, forbidden)]
    assert not bad, _report(bad)


def test_connect_uses_only_the_domain_types_of_cloud() -> None:
    cloud = [
        i for i in _from("denbi_jupyter.connect") if _within(i.target, ["denbi_jupyter.cloud"])
    ]
    bad = [i for i in cloud if i.target != "denbi_jupyter.cloud.types"]
    assert not bad, _report(bad)


#: What the local cloud may use of ours besides itself: leaves below every layer (``_serving``
#: waits for and stops servers; it imports only ``errors``).
LOCALCLOUD_MAY_USE = ("denbi_jupyter.localcloud", "denbi_jupyter._serving", "denbi_jupyter.errors")


def test_localcloud_imports_nothing_of_ours_above_it() -> None:
    ours = [i for i in _from("denbi_jupyter.localcloud") if _within(i.target, OURS)]
    bad = [i for i in ours if not _within(i.target, LOCALCLOUD_MAY_USE)]
    assert not bad, _report(bad)
    assert ours, "the scan found no imports inside localcloud: the parser is broken"
