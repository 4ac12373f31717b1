"""Fixtures of the fault matrix; the matrix table is printed at the end of the run."""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from prefect import Task

import flows.delete
from denbi_jupyter.localcloud import LocalCloud
from tests.flows.harness import (  # noqa: F401  (fixtures)
    cloud_password,
    faults,
    local_env,
    prefect_harness,
    site_clients,
)
from tests.reliability._cells import matrix, matrix_env  # noqa: F401  (fixtures)
from tests.reliability.matrix import CELLS, RECORD_ENV, Cell, cell, record_cells, render_table

MatrixCell = Callable[[str, str], AbstractContextManager[Cell]]

#: The matrix waits a tenth of the real delays between retries: its faults are counted (the
#: first N requests, or all of them), never timed, so the same retries happen, only sooner.
RETRY_SPEEDUP = 10


@pytest.fixture(scope="session", autouse=True)
def quick_retries() -> Iterator[None]:
    """Every retried task of ``flows`` and the delete flow's re-tries wait 1/10 as long."""
    tasks: dict[int, Task[..., object]] = {}
    for info in pkgutil.iter_modules(flows.__path__, "flows."):
        module = importlib.import_module(info.name)
        tasks.update(
            (id(value), value)
            for value in vars(module).values()
            if isinstance(value, Task) and value.retries and value.retry_delay_seconds
        )
    with pytest.MonkeyPatch.context() as patch:
        for task in tasks.values():  # each once: modules import the same task objects
            delays = task.retry_delay_seconds
            assert isinstance(delays, list), f"{task.name}: {delays!r}"
            patch.setattr(task, "retry_delay_seconds", [d / RETRY_SPEEDUP for d in delays])
        quick_deletes = tuple(d / RETRY_SPEEDUP for d in flows.delete.DELETE_RETRY_DELAYS)
        patch.setattr(flows.delete, "DELETE_RETRY_DELAYS", quick_deletes)
        yield


@pytest.fixture
def matrix_cell(local_cloud: LocalCloud) -> Iterator[MatrixCell]:
    """``with matrix_cell(flow, fault) as c:`` records one cell of the matrix."""

    def open_cell(flow: str, fault: str) -> AbstractContextManager[Cell]:
        return cell(flow, fault, cloud_url=local_cloud.url)

    yield open_cell


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the fault matrix after the run (when any cell ran); record it for ``make test``."""
    lines = render_table(CELLS)
    if not lines:
        return
    folder = os.environ.get(RECORD_ENV)
    if folder:
        record_cells(CELLS, Path(folder))
    terminalreporter.section("fault matrix")
    for line in lines:
        terminalreporter.write_line(line)
