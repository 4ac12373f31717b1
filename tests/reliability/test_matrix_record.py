"""The matrix's record: cells written by two sessions make one table (what ``make test`` prints)."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.matrix import Cell, main, read_cells, record_cells, render_table


def test_cells_recorded_by_two_sessions_print_as_one_table(tmp_path: Path, capsys: object) -> None:
    first = [Cell("boot", "5xx burst", passed=True, injected=2)]
    second = [
        Cell("copy", "5xx burst", passed=True, injected=1),
        Cell("copy", "download cut", passed=True, injected=1),
    ]
    (tmp_path / "a").mkdir()
    # Two sessions: two files (this process writes both, so the first is renamed).
    record_cells(first, tmp_path / "a").rename(tmp_path / "a" / "cells-0.json")
    record_cells(second, tmp_path / "a")

    cells = read_cells(tmp_path / "a")
    assert sorted((c.flow, c.fault) for c in cells) == sorted(
        (c.flow, c.fault) for c in first + second
    )
    table = render_table(cells)
    assert table[-1] == "cells: 3, passed: 3, failed: 0, faults injected: 4"
    assert main([str(tmp_path / "a")]) == 0


def test_a_failed_cell_or_no_record_fails_the_table(tmp_path: Path) -> None:
    record_cells([Cell("boot", "quota", passed=False, detail="AssertionError: two VMs")], tmp_path)
    assert main([str(tmp_path)]) == 1
    assert "FAILED boot × quota: AssertionError: two VMs" in render_table(read_cells(tmp_path))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(empty)]) == 1
