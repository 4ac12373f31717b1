"""The public surface: an explicit, sorted ``__all__`` whose names all resolve, imported lazily."""

from __future__ import annotations

import denbi_jupyter
from tests.support.imports import heavy_modules_loaded_by


def test_all_is_sorted_and_unique() -> None:
    names = [n for n in denbi_jupyter.__all__ if n != "__version__"]
    assert names == sorted(names)
    assert len(set(denbi_jupyter.__all__)) == len(denbi_jupyter.__all__)


def test_every_exported_name_resolves() -> None:
    for name in denbi_jupyter.__all__:
        assert getattr(denbi_jupyter, name) is not None, name


def test_unknown_attribute_raises_attribute_error() -> None:
    try:
        denbi_jupyter.no_such_name  # noqa: B018
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:
        raise AssertionError("expected AttributeError")


def test_import_does_not_load_openstack_prefect_or_widgets() -> None:
    assert heavy_modules_loaded_by("denbi_jupyter") == []
