"""JupyterLab on loopback with the local cloud, and Debian's Chromium driven by Playwright.

One lab and one browser page serve the whole module: the tests run the main notebook once and
then click through it in order (filter, boot, snapshot, browse, delete), like a person would.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from denbi_jupyter.lab import LabSession, demo_cloud_config, notebooks_dir, start_lab
from denbi_jupyter.localcloud import Timings
from tests.support.browser import CHROMIUM, chromium_page

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"

needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (make system-deps)"
)


def _serving(
    *,
    notebook_dir: Path,
    log_name: str,
    seed_snapshots: int = 0,
    env: Mapping[str, str] | None = None,
    prefect_home: Path | None = None,
) -> Iterator[LabSession]:
    """A lab with a fast local cloud for a module (its log ``test-artifacts/<log_name>``)."""
    ARTIFACTS.mkdir(exist_ok=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    session = start_lab(
        notebook_dir=notebook_dir,
        cloud_config=demo_cloud_config(timings=Timings.fast(), seed_snapshots=seed_snapshots),
        env=env,
        prefect_home=prefect_home,
        log_file=ARTIFACTS / log_name,
    )
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabSession]:
    """JupyterLab serving notebooks/ with a local cloud (fast timings, 40 extra snapshots)."""
    prefect_home = tmp_path_factory.mktemp("prefect-home")
    # Serve a copy: running (and autosaving) the notebook must not touch the one in git.
    notebooks = tmp_path_factory.mktemp("lab") / "notebooks"
    shutil.copytree(notebooks_dir(), notebooks)
    yield from _serving(
        notebook_dir=notebooks,
        seed_snapshots=40,
        env={"PREFECT_HOME": str(prefect_home)},
        log_name="browser-lab.log",
    )


@pytest.fixture(scope="module")
def extension_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabSession]:
    """JupyterLab on an empty folder with the local cloud and the lab's own Prefect server.

    The front-end extension is what the user sees (no notebook is served): its Launcher
    tiles, the left-area panel and the Prefect UI under the lab's URL.
    """
    yield from _serving(
        notebook_dir=tmp_path_factory.mktemp("extension-root"),
        prefect_home=tmp_path_factory.mktemp("extension-prefect-home"),
        log_name="browser-extension-lab.log",
    )


@pytest.fixture(scope="module")
def page(lab: LabSession) -> Iterator[object]:
    """A Chromium page with the main notebook open and run."""
    with chromium_page(width=1300, height=1500, timeout_ms=60_000) as tab:
        yield tab


@pytest.fixture(scope="module")
def extension_page(extension_lab: LabSession) -> Iterator[object]:
    """A Chromium page (not yet navigated) for the extension's stories."""
    with chromium_page(width=1600, height=1000, timeout_ms=60_000) as tab:
        yield tab


#: The page fixtures the screenshot-on-failure fixture looks for.
PAGE_FIXTURES = ("page", "extension_page")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Iterator[None]:
    """Keep each phase's report on the test item, for the screenshot-on-failure fixture."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(autouse=True)
def screenshot_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """Save the whole page as ``failure-<test>.png`` when a browser test fails."""
    yield
    report = getattr(request.node, "report_call", None)
    if report is None or not report.failed:
        return
    for name in PAGE_FIXTURES:
        if name in request.fixturenames:
            page = request.getfixturevalue(name)
            page.screenshot(path=str(SCREENSHOTS / f"failure-{request.node.name}.png"))
            return
