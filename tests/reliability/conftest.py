"""Fixtures of the fault matrix; the matrix table is printed at the end of the run."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

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
