"""Launcher "de.NBI Cloud" tile → the side panel's first complete render, in a real lab.

Run: ``.venv/bin/python benchmarks/lab_launcher_render.py`` (about two minutes). It starts the
local cloud (default seed, fast timings) and JupyterLab with the server extension's Prefect
server, as ``denbi-jupyter demo`` does, waits until that server is ready, and drives headless
Chromium (Debian's, as the browser tests do). Each repetition loads the lab afresh (a workspace
of its own, the Launcher showing; every kernel of the lab shut down before), so the click
starts a fresh kernel, and measures with ``time.perf_counter`` from the click to the first
complete render: a ``.denbi-image-row`` of the CloudPanel visible with no "loading…" badge left
in its image list (the public images show first; the project's own uploads join them once the
snapshot index has loaded, and only then the list is final; ``lab_support.COMPLETE``):

* **Launcher path**: click the tile; the panel starts its kernel, runs
  ``denbi_jupyter.lab_panel.show()`` and renders the widget. Target < 3 s.
* **Baseline** (same run, same lab): click the Launcher's "Python 3" notebook tile, type
  ``from denbi_jupyter.panels import CloudPanel; CloudPanel()`` into the first cell, run it
  with Shift+Enter once the status bar says the kernel is idle (a cell run before the notebook
  has its kernel is dropped), until the same row is visible in the cell's output.

The two paths alternate (N=3 each). Besides the figure, the page's own marks after the click
are printed (kernel states of the panel, widget shown, first rows shown), to tell kernel start
from render. Timings are noisy: the machine has 2 cores and other work may be running on it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from lab_support import (
    COMPLETE,
    LAUNCHER_TILE,
    NOTEBOOK_TILE,
    SIDEBAR,
    BenchmarkError,
    chromium_page,
    click_tile,
    marks_line,
    open_fresh_workspace,
    page_marks,
    print_verdict,
    running_lab,
    shot,
    shutdown_kernels,
    summary,
    wait_prefect_ready,
)

from denbi_jupyter.lab import LabSession

TARGET_S = 3.0
REPETITIONS = 3
CODE = "from denbi_jupyter.panels import CloudPanel; CloudPanel()"
_PANEL_MARKS = ("kernel starting", "kernel idle", "kernel busy", "panel", "first rows")


def launcher_path(page: Any, session: LabSession) -> tuple[float, dict[str, float]]:
    """Click the tile → the side panel's first image row visible; seconds and page marks."""
    open_fresh_workspace(page, session)
    began = time.perf_counter()
    click_tile(page, LAUNCHER_TILE, "de.NBI Cloud")
    page.wait_for_selector(f"{SIDEBAR} {COMPLETE}", state="visible")
    seconds = time.perf_counter() - began
    return seconds, page_marks(page)


def notebook_path(page: Any, session: LabSession) -> tuple[float, float, dict[str, float]]:
    """Python 3 tile, type the cell, Shift+Enter → its first image row visible.

    Returns the seconds from the tile click, from Shift+Enter, and the page marks.
    """
    open_fresh_workspace(page, session)
    began = time.perf_counter()
    click_tile(page, NOTEBOOK_TILE, "Python 3")
    editor = page.locator(".jp-Notebook .jp-Cell .cm-content").first
    editor.click()
    page.keyboard.insert_text(CODE)
    # A cell run before the notebook has its kernel is dropped (JupyterLab clears it): wait,
    # as a person waits for "Idle" in the status bar (the kernel starts during the typing).
    page.locator(".jp-StatusBar-TextItem", has_text="ipykernel) | Idle").first.wait_for()
    typed = time.perf_counter()
    page.keyboard.press("Shift+Enter")
    page.wait_for_selector(f".jp-Notebook .jp-OutputArea-output {COMPLETE}", state="visible")
    done = time.perf_counter()
    return done - began, done - typed, page_marks(page)


def measure(page: Any, session: LabSession) -> dict[str, list[Any]]:
    """Alternate both paths ``REPETITIONS`` times; print each run."""
    runs: dict[str, list[Any]] = {"launcher": [], "notebook": [], "shift_enter": []}
    for index in range(REPETITIONS):
        order = ("launcher", "notebook") if index % 2 == 0 else ("notebook", "launcher")
        for path in order:
            try:
                if path == "launcher":
                    seconds, marks = launcher_path(page, session)
                    runs["launcher"].append(seconds)
                    print(
                        f"run {index + 1} Launcher tile → panel rows  {seconds * 1000:6.0f} ms"
                        f"   [{marks_line(marks, _PANEL_MARKS)}]",
                        flush=True,
                    )
                else:
                    seconds, after_enter, marks = notebook_path(page, session)
                    runs["notebook"].append(seconds)
                    runs["shift_enter"].append(after_enter)
                    print(
                        f"run {index + 1} notebook tile → cell rows   {seconds * 1000:6.0f} ms"
                        f"   [kernel idle → Shift+Enter → rows {after_enter * 1000:.0f} ms]",
                        flush=True,
                    )
            except Exception as exc:
                picture = shot(page, f"launcher-render-{path}-{index + 1}")
                raise BenchmarkError(
                    f"{path} run {index + 1}: the panel did not render ({exc}); see {picture}"
                ) from exc
            finally:
                shutdown_kernels(session)
    return runs


def main() -> int:
    kept: list[Path] = []
    try:
        with running_lab(prefect=True, keep=kept) as session:
            waited = wait_prefect_ready(session)
            print(f"lab up; its Prefect server ready {waited:.1f} s after the lab answered")
            with chromium_page() as page:
                runs = measure(page, session)
    except BenchmarkError as error:
        print(f"FAILED: {error} (lab log: {kept[0] / 'lab.log' if kept else 'n/a'})")
        return 1
    for folder in kept:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    print("--- click → first complete render (image rows visible, nothing loading) ---")
    print(f"Launcher tile → side panel (kernel start included)  {summary(runs['launcher'])}")
    print(f"baseline: notebook tile → type → Shift+Enter → cell  {summary(runs['notebook'])}")
    print(f"          of which kernel idle, Shift+Enter → rows   {summary(runs['shift_enter'])}")
    print_verdict("Launcher path", runs["launcher"], TARGET_S)
    return 0


if __name__ == "__main__":
    sys.exit(main())
