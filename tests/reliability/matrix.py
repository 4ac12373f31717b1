"""The fault matrix's record: one cell per flow × fault, printed as a table after the run.

A test opens a cell with :func:`cell` (through the ``matrix_cell`` fixture): the block runs the
flow under the fault and asserts what the cell promises. The cell counts the faults the local
cloud fired while it was open (the ``fired`` counts of ``GET /_admin/faults``, plus any
``injected`` the block reports itself, e.g. a SIGKILL) and whether the block passed.

``make test`` runs the matrix in two pytest sessions: each one writes its cells into the
folder named by ``MATRIX_RECORD`` (:func:`record_cells`), and ``python -m
tests.reliability.matrix FOLDER`` prints the table of them all (exit 1 when a cell failed
or none was recorded).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

__all__ = [
    "CELLS",
    "RECORD_ENV",
    "Cell",
    "cell",
    "fired_faults",
    "read_cells",
    "record_cells",
    "render_table",
]

#: The environment variable naming the folder where each session records its cells.
RECORD_ENV = "MATRIX_RECORD"


@dataclass
class Cell:
    """One flow under one fault."""

    flow: str
    fault: str
    passed: bool = False
    injected: int = 0
    detail: str = ""


@dataclass
class _Record:
    cells: list[Cell] = field(default_factory=list)


_RECORD = _Record()
#: Every cell of this run, in the order they ran.
CELLS = _RECORD.cells


def fired_faults(cloud_url: str) -> int:
    """How often the local cloud's current fault rules fired so far."""
    with httpx.Client(base_url=cloud_url, timeout=10) as http:
        response = http.get("/_admin/faults")
        response.raise_for_status()
        rules = response.json()
    rules = rules.get("rules", rules) if isinstance(rules, dict) else rules
    return sum(int(rule.get("fired", 0)) for rule in rules)


@contextlib.contextmanager
def cell(flow: str, fault: str, *, cloud_url: str) -> Iterator[Cell]:
    """Record one cell: passed when the block ends without an exception.

    The faults fired are read before the block ends (the ``faults`` fixture clears the rules
    after the test), so add rules inside the block or before it in the same test.
    """
    entry = Cell(flow=flow, fault=fault)
    CELLS.append(entry)
    try:
        yield entry
        entry.passed = True
    except BaseException as exc:
        entry.detail = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        raise
    finally:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            entry.injected += fired_faults(cloud_url)


def render_table(cells: list[Cell]) -> list[str]:
    """The matrix as text lines: a row per flow, a column per fault, then the totals."""
    if not cells:
        return []
    flows = list(dict.fromkeys(c.flow for c in cells))
    faults = list(dict.fromkeys(c.fault for c in cells))
    by_key: dict[tuple[str, str], list[Cell]] = {}
    for entry in cells:
        by_key.setdefault((entry.flow, entry.fault), []).append(entry)
    width = max(len(f) for f in flows)
    lines = ["fault matrix (rows: flows; columns: faults; ok = passed, X = failed, . = n/a)"]
    for number, fault in enumerate(faults, 1):
        lines.append(f"  f{number:<2} {fault}")
    header = " " * width + " " + " ".join(f"f{n:<3}" for n in range(1, len(faults) + 1))
    lines.append(header)
    for flow in flows:
        marks = []
        for fault in faults:
            group = by_key.get((flow, fault))
            mark = "." if not group else ("ok" if all(c.passed for c in group) else "X")
            marks.append(f"{mark:<4}")
        lines.append(f"{flow:<{width}} " + " ".join(marks))
    passed = sum(c.passed for c in cells)
    injected = sum(c.injected for c in cells)
    lines.append(
        f"cells: {len(cells)}, passed: {passed}, failed: {len(cells) - passed}, "
        f"faults injected: {injected}"
    )
    lines.extend(f"FAILED {c.flow} × {c.fault}: {c.detail}" for c in cells if not c.passed)
    return lines


def record_cells(cells: list[Cell], folder: Path) -> Path:
    """Write ``cells`` as JSON into ``folder`` (one file per session); the file written."""
    path = folder / f"cells-{os.getpid()}.json"
    path.write_text(json.dumps([asdict(c) for c in cells]), encoding="utf-8")
    return path


def read_cells(folder: Path) -> list[Cell]:
    """Every cell the sessions recorded in ``folder``, session by session."""
    return [
        Cell(**entry)
        for path in sorted(folder.glob("cells-*.json"))
        for entry in json.loads(path.read_text(encoding="utf-8"))
    ]


def main(argv: list[str]) -> int:
    """Print the table of the cells recorded in the folder ``argv[0]``; 1 if any failed."""
    cells = read_cells(Path(argv[0]))
    if not cells:
        print(f"fault matrix: no cells recorded in {argv[0]}", file=sys.stderr)
        return 1
    print("\n".join(render_table(cells)))
    return 0 if all(c.passed for c in cells) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
