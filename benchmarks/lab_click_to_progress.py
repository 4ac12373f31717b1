"""Side panel "Boot VM" click → the flow's first real progress, in a fresh panel kernel of a lab.

Run: ``.venv/bin/python benchmarks/lab_click_to_progress.py`` (two to three minutes). Two labs
with the local cloud (default seed, fast timings) are started one after the other and driven
in headless Chromium (Debian's, as the browser tests do):

* **with the server extension's Prefect server** (``start_lab(prefect_home=...)``: kernels get
  ``PREFECT_API_URL``); the benchmark waits until ``GET denbi-jupyter/status`` says it is
  ready before it clicks anything, as a user who opens the panel once the lab is up. Target:
  click → first real progress < 1 s.
* **baseline, without it** (``start_lab()`` without ``prefect_home``): the panel's kernel
  starts Prefect's ephemeral API itself (warming up from the moment the panel opens), and the
  first flow waits for what is left of that start.

Each lab is measured twice, each time in a fresh page (a workspace of its own, every kernel of
the lab shut down before), so the panel starts a fresh kernel: click the Launcher's
"de.NBI Cloud" tile, wait for the image list, select the Ubuntu-22.04 image, name the VM
(a unique name each time; Tab, and the panel's kernel idle, so the name reached it) and click
"Boot VM" as soon as it is enabled, like a quick user.
Marks, from the click (``time.perf_counter`` for the figure, the page's own clock for the rest):

* the placeholder card (shown at once, before any flow runs: *not* progress);
* the runner's job card (its status line is still the runner's, e.g. "Starting the Prefect
  backend": not progress either);
* **the first real progress**: the job card shows a progress figure (`` · 0%``), which it does
  only once the running flow has reported its first ``progress`` event (the boot flow's
  "Resolving image, flavor and key on <site>"), as ``panels_click_to_progress.py`` decides;
* the job done (VM ACTIVE), for information.

Timings are noisy: the machine has 2 cores and other work may be running on it.
"""

from __future__ import annotations

import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from lab_support import (
    COMPLETE,
    LAUNCHER_TILE,
    SIDEBAR,
    BenchmarkError,
    api,
    chromium_page,
    click_tile,
    first_card_text,
    flow_run_times,
    marks_line,
    open_fresh_workspace,
    page_marks,
    print_verdict,
    reset_marks,
    running_lab,
    shot,
    shutdown_kernels,
    summary,
    wait_prefect_ready,
)

from denbi_jupyter.lab import LabSession

TARGET_S = 1.0
REPETITIONS = 2
IMAGE = re.compile(r"^Ubuntu-22\.04 de\.NBI")
PROGRESS = re.compile(r"· \d+%")
_MARKS = ("placeholder", "job card", "job running", "run created", "run start_time", "progress")
_DONE_TIMEOUT_MS = 120_000


def _open_panel(page: Any, session: LabSession) -> tuple[Any, float]:
    """A fresh page, the side panel opened from the Launcher and its image list shown.

    Returns the panel and the ``perf_counter`` time of the click on the Launcher tile.
    """
    from playwright.sync_api import expect

    open_fresh_workspace(page, session)
    opened = time.perf_counter()
    click_tile(page, LAUNCHER_TILE, "de.NBI Cloud")
    page.wait_for_selector(f"{SIDEBAR} {COMPLETE}", state="visible")
    sidebar = page.locator(SIDEBAR)
    row = sidebar.locator(".denbi-image-row").filter(has=page.locator("b", has_text=IMAGE))
    row.first.get_by_role("button").click()
    expect(row.first.get_by_role("button", name="Selected")).to_be_visible()
    # the kernel suggests a name on selection: wait for it, then type over it
    expect(sidebar.get_by_placeholder("e.g. rnaseq-vm-1")).not_to_have_value("")
    expect(sidebar.get_by_role("button", name="Boot VM")).to_be_enabled()
    return sidebar, opened


def boot_once(page: Any, session: LabSession, name: str, api_url: str) -> dict[str, Any]:
    """Open the panel, click "Boot VM" for ``name``; the marks after the click (seconds)."""
    from playwright.sync_api import expect

    sidebar, opened = _open_panel(page, session)
    box = sidebar.get_by_placeholder("e.g. rnaseq-vm-1")
    box.fill(name)
    box.press("Tab")
    expect(box).to_have_value(name)
    # (ipywidgets holds a value update back while the kernel has not acknowledged the last
    # one, and a click is not held back: a kernel busy warming up may boot the suggested name)
    expect(sidebar.locator('.denbi-kernel-status[data-state="idle"]')).to_be_visible()
    button = sidebar.get_by_role("button", name="Boot VM")
    expect(button).to_be_enabled()
    reset_marks(page)
    # the only job of this fresh kernel (whatever name the kernel got)
    card = sidebar.locator(".denbi-job-card:not(.denbi-job-pending)").filter(has_text="Boot ")
    failed = card.filter(has=page.locator(".denbi-badge", has_text="failed"))
    began, clicked = time.perf_counter(), time.time()
    button.click()
    card.filter(has_text=PROGRESS).or_(failed).first.wait_for(state="visible")
    progress = time.perf_counter() - began
    if failed.count():
        raise BenchmarkError(f"the boot of {name} failed: {card.first.inner_text()}")
    marks: dict[str, Any] = {"figure": progress, "after_tile": began - opened}
    try:
        card.filter(has=page.locator(".denbi-badge", has_text="done")).first.wait_for(
            state="visible", timeout=_DONE_TIMEOUT_MS
        )
        marks["done"] = time.perf_counter() - began
    except Exception:  # noqa: BLE001 - the end is for information only
        marks["done"] = None
    marks["page"] = page_marks(page)
    marks["first_status"] = first_card_text(page)
    if api_url:  # the lab's Prefect server: when the flow run reached it
        for key, at in flow_run_times(api_url, f"boot-{name}").items():
            marks["page"][f"run {key}"] = at - clicked
    marks["message"] = card.first.inner_text().replace("\n", " ")[:90]
    marks["name_ok"] = f"Boot {name} from" in marks["message"]
    return marks


def measure_lab(page: Any, *, prefect: bool) -> list[dict[str, Any]]:
    """Start a lab (with or without its Prefect server) and boot ``REPETITIONS`` times."""
    label = "with the lab's Prefect server" if prefect else "without (ephemeral API)"
    runs: list[dict[str, Any]] = []
    kept: list[Path] = []
    try:
        with running_lab(prefect=prefect, keep=kept) as session:
            api_url = ""
            if prefect:
                waited = wait_prefect_ready(session)
                api_url = api(session, "denbi-jupyter/status")["prefect"]["api_url"]
                print(f"[{label}] lab up; Prefect ready {waited:.1f} s after the lab answered")
            else:
                print(f"[{label}] lab up")
            for index in range(REPETITIONS):
                name = f"bench-{uuid.uuid4().hex[:6]}"
                try:
                    marks = boot_once(page, session, name, api_url)
                except Exception as exc:
                    picture = shot(page, f"click-progress-{'prefect' if prefect else 'eph'}")
                    raise BenchmarkError(
                        f"{label}, run {index + 1}: {exc}; see {picture}, lab log "
                        f"{kept[0] / 'lab.log' if kept else '(in the lab folder)'}"
                    ) from exc
                finally:
                    shutdown_kernels(session)
                runs.append(marks)
                done = marks["done"]
                print(
                    f"[{label}] run {index + 1} click → first progress "
                    f"{marks['figure'] * 1000:6.0f} ms; → done "
                    f"{'n/a' if done is None else f'{done * 1000:.0f} ms'}"
                    f"   [{marks_line(marks['page'], _MARKS)}]",
                    flush=True,
                )
                print(
                    f"    clicked {marks['after_tile'] * 1000:.0f} ms after the Launcher tile "
                    "(the panel's kernel started then)",
                    flush=True,
                )
                status = re.sub(r"\s+", " ", marks["first_status"]).strip()
                print(f"    job card first said: {status[:100]}", flush=True)
                print(f"    job card at the end: {marks['message']}", flush=True)
                if not marks["name_ok"]:
                    print(f"    (the kernel booted another name than the typed {name})")
    finally:
        if runs and len(runs) == REPETITIONS:
            for folder in kept:
                import shutil

                shutil.rmtree(folder, ignore_errors=True)
    return runs


def main() -> int:
    try:
        with chromium_page() as page:
            served = measure_lab(page, prefect=True)
            ephemeral = measure_lab(page, prefect=False)
    except BenchmarkError as error:
        print(f"FAILED: {error}")
        return 1
    figures = [run["figure"] for run in served]
    baseline = [run["figure"] for run in ephemeral]
    print("--- side panel, fresh kernel: click 'Boot VM' → the flow's first real progress ---")
    print(f"with the lab's Prefect server (PREFECT_API_URL)   {summary(figures)}")
    print(f"baseline: without it (the kernel's ephemeral API) {summary(baseline)}")
    print_verdict("with the lab's server:", figures, TARGET_S)
    return 0


if __name__ == "__main__":
    sys.exit(main())
