"""What the lab benchmarks share (not a benchmark itself): a real JupyterLab with the local
cloud, Debian's Chromium driven by Playwright, and the page marks they time.

The lab serves a copy of ``notebooks/`` in a temporary folder (new notebooks, the lab's log and
Prefect's state go there, never into the checkout); the browser is launched like the browser
tests launch it (``tests/support/browser.py``). Each measurement opens a workspace of its own
(``/lab/workspaces/<fresh name>``: the Launcher in the main area, nothing restored) and ends by
shutting every kernel of the lab down, so the next one starts from a quiet lab.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from denbi_jupyter.lab import LabSession, copy_notebooks, demo_cloud_config, notebooks_dir
from denbi_jupyter.lab import start_lab as _start_lab
from denbi_jupyter.localcloud import Timings
from tests.support.browser import chromium_page as browser_page

#: The side panel's Launcher tile (label and category "de.NBI Cloud").
LAUNCHER_TILE = '.jp-LauncherCard[data-category="de.NBI Cloud"]'
#: The Launcher's first notebook tile (Python 3).
NOTEBOOK_TILE = '.jp-LauncherCard[data-category="Notebook"]'
#: "Complete": the CloudPanel's image list is final: rows shown (a row exists only for a loaded
#: image) and no "loading…" badge left (the project's own uploads join the public images
#: after the snapshot index has loaded; until then rows may still move).
COMPLETE = (
    '.denbi-cloud-panel .denbi-image-panel:not(:has(.denbi-badge:has-text("loading")))'
    " .denbi-image-row"
)
SIDEBAR = ".denbi-cloud-sidebar"
#: How long a page may take to get somewhere (ms): a cold Prefect start on a busy machine.
WAIT_MS = 180_000


class BenchmarkError(RuntimeError):
    """Something did not happen in the page (the message says what); exit 1."""


@contextmanager
def running_lab(*, prefect: bool, keep: list[Path] | None = None) -> Iterator[LabSession]:
    """A lab with the local cloud (default seed, fast timings) in a temporary folder.

    Args:
        prefect: Start the server extension's Prefect server (``start_lab(prefect_home=)``:
            kernels get ``PREFECT_API_URL``); False: kernels use Prefect's ephemeral API.
        keep: When given, the temporary folder is appended and kept (its ``lab.log``); else it
            is removed with the lab.
    """
    folder = Path(tempfile.mkdtemp(prefix="denbi-bench-lab-"))
    notebooks = folder / "notebooks"
    copy_notebooks(notebooks_dir(), notebooks)
    session = _start_lab(
        notebook_dir=notebooks,
        cloud_config=demo_cloud_config(timings=Timings.fast()),
        prefect_home=folder / "lab-prefect" if prefect else None,
        # the kernels' ephemeral Prefect (without the lab's server) keeps its state here too
        env={"PREFECT_HOME": str(folder / "kernel-prefect")},
        log_file=folder / "lab.log",
    )
    try:
        yield session
    finally:
        session.stop()
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            keep.append(folder)


def api(session: LabSession, path: str, *, method: str = "GET") -> Any:
    """Call the lab's REST API with its token; the decoded JSON answer (None when empty)."""
    request = urllib.request.Request(
        f"{session.url}/{path.lstrip('/')}",
        method=method,
        headers={"Authorization": f"token {session.token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        body = answer.read()
    return json.loads(body) if body else None


def wait_prefect_ready(session: LabSession, timeout_s: float = 180.0) -> float:
    """Wait until ``GET denbi-jupyter/status`` says the lab's Prefect server is ready.

    Returns the seconds waited. Raises BenchmarkError when it fails or takes too long.
    """
    began = time.perf_counter()
    state = "?"
    while time.perf_counter() - began < timeout_s:
        prefect = api(session, "denbi-jupyter/status")["prefect"]
        state = prefect["state"]
        if state == "ready":
            return time.perf_counter() - began
        if state in ("failed", "disabled"):
            raise BenchmarkError(f"the lab's Prefect server is {state}: {prefect['error']}")
        time.sleep(0.25)
    raise BenchmarkError(f"the lab's Prefect server is still {state} after {timeout_s:.0f} s")


def shutdown_kernels(session: LabSession, timeout_s: float = 60.0) -> None:
    """Shut every session and kernel of the lab down and wait until none is left."""
    for item in api(session, "api/sessions"):
        api(session, f"api/sessions/{item['id']}", method="DELETE")
    for kernel in api(session, "api/kernels"):
        api(session, f"api/kernels/{kernel['id']}", method="DELETE")
    deadline = time.monotonic() + timeout_s
    while api(session, "api/kernels") and time.monotonic() < deadline:
        time.sleep(0.2)


@contextmanager
def chromium_page() -> Iterator[Any]:
    """One Chromium page (a Playwright ``Page``), closed with its browser at the end."""
    with browser_page(width=1400, height=1000, timeout_ms=WAIT_MS) as page:
        yield page


#: Records, in ``window.__denbi``, when things first showed up in the page (performance.now()).
_RECORDER = r"""
() => {
  const marks = {};
  window.__denbi = marks;
  const first = (key, now) => { if (!(key in marks)) marks[key] = now; };
  const check = () => {
    const now = performance.now();
    const status = document.querySelector('.denbi-cloud-sidebar .denbi-kernel-status');
    if (status && status.dataset.state) first('kernel ' + status.dataset.state, now);
    if (document.querySelector('.denbi-cloud-sidebar .denbi-cloud-panel')) first('panel', now);
    if (document.querySelector('.denbi-cloud-panel .denbi-image-row')) first('first rows', now);
    if (document.querySelector('.denbi-job-pending')) first('placeholder', now);
    for (const card of document.querySelectorAll('.denbi-job-card:not(.denbi-job-pending)')) {
      first('job card', now);
      if (/running/.test(card.textContent || '')) first('job running', now);
      if (!window.__denbiCard) window.__denbiCard = card.textContent;
      if (/· \d+%/.test(card.textContent || '')) first('progress', now);
    }
  };
  document.addEventListener('click', () => first('click', performance.now()), true);
  document.addEventListener('keydown', event => {
    if (event.key === 'Enter' && event.shiftKey) first('shift-enter', performance.now());
  }, true);
  new MutationObserver(check).observe(document.body, {
    subtree: true, childList: true, characterData: true, attributes: true,
    attributeFilter: ['data-state', 'class']
  });
}
"""


def open_fresh_workspace(page: Any, session: LabSession) -> None:
    """Load the lab in a workspace of its own (the Launcher shown) and start the recorder."""
    name = f"bench-{uuid.uuid4().hex[:10]}"
    page.goto(f"{session.url}/lab/workspaces/{name}?token={session.token}")
    page.wait_for_selector(LAUNCHER_TILE, state="visible")
    page.wait_for_selector(NOTEBOOK_TILE, state="visible")
    # Let the lab finish what it does right after it appears (kernel specs, settings, the
    # first polls), as a person takes a moment to find the tile.
    page.wait_for_timeout(1000)
    page.evaluate(_RECORDER)


def page_marks(page: Any) -> dict[str, float]:
    """The recorder's marks in seconds after the click (or the first mark)."""
    marks: dict[str, float] = page.evaluate("() => window.__denbi || {}")
    start = marks.get("click", min(marks.values(), default=0.0))
    return {key: (value - start) / 1000 for key, value in sorted(marks.items(), key=lambda i: i[1])}


_FORGET = (
    "() => { for (const k in window.__denbi) delete window.__denbi[k]; window.__denbiCard = ''; }"
)


def reset_marks(page: Any) -> None:
    """Forget the recorder's marks so far (the next click starts the clock again)."""
    page.evaluate(_FORGET)


def first_card_text(page: Any) -> str:
    """What the first job card said when it appeared (after :func:`reset_marks`)."""
    return str(page.evaluate("() => window.__denbiCard || ''"))


def flow_run_times(api_url: str, name: str) -> dict[str, float]:
    """When the Prefect API at ``api_url`` created flow run ``name`` and when it started running
    (Unix seconds, as ``created`` and ``start_time``; missing when not found)."""
    from datetime import datetime

    body = json.dumps({"flow_runs": {"name": {"any_": [name]}}}).encode()
    request = urllib.request.Request(
        f"{api_url.rstrip('/')}/flow_runs/filter",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        runs = json.loads(answer.read())
    times: dict[str, float] = {}
    for key in ("created", "start_time"):
        if runs and runs[0].get(key):
            times[key] = datetime.fromisoformat(runs[0][key]).timestamp()
    return times


def click_tile(page: Any, tile: str, label: str) -> None:
    """Click the Launcher tile ``tile`` labelled exactly ``label``."""
    import re

    card = page.locator(tile).filter(
        has=page.locator(".jp-LauncherCard-label", has_text=re.compile(f"^{re.escape(label)}"))
    )
    card.first.click()


def shot(page: Any, name: str) -> Path:
    """Save a screenshot of the page as ``/tmp/denbi-bench-<name>.png``."""
    path = Path(tempfile.gettempdir()) / f"denbi-bench-{name}.png"
    try:
        page.screenshot(path=str(path))
    except Exception as exc:  # noqa: BLE001 - a failed screenshot must not hide the failure
        print(f"(no screenshot: {exc})", file=sys.stderr)
    return path


def summary(samples: Sequence[float]) -> str:
    """``median … (min … – max …)`` in ms."""
    return (
        f"median {statistics.median(samples) * 1000:6.0f} ms "
        f"(min {min(samples) * 1000:6.0f}, max {max(samples) * 1000:6.0f}; n={len(samples)})"
    )


def print_verdict(label: str, samples: Sequence[float], target_s: float) -> None:
    """Print ``<label> median … ms, target < … ms: OK`` (or ``OVER TARGET``) for the samples."""
    median = statistics.median(samples)
    print(
        f"{label} median {median * 1000:.0f} ms, target < {target_s * 1000:.0f} ms:",
        "OK" if median < target_s else "OVER TARGET",
        "(2-core machine, other work running: timings are noisy)",
    )


def marks_line(marks: dict[str, float], keys: Sequence[str]) -> str:
    """``key +123 ms · key +456 ms`` for the keys that were recorded, in time order."""
    shown = sorted((marks[k], k) for k in keys if k in marks)
    return " · ".join(f"{k} +{value * 1000:.0f} ms" for value, k in shown)
