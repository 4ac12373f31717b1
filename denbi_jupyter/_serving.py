"""Servers we start: wait until one answers over HTTP; stop it when a ``with`` block ends."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from types import TracebackType

from denbi_jupyter.errors import CloudUnavailableError

__all__ = ["StopsOnExit", "wait_until_answering"]


def wait_until_answering(
    request: urllib.request.Request | str,
    *,
    process: subprocess.Popen[bytes],
    what: str,
    timeout_s: float,
    exited_hint: str,
) -> None:
    """Poll ``request`` until it answers 200; fail early if ``process`` exits.

    Args:
        request: The URL (or request with headers) that answers once the server is up.
        process: The server process.
        what: The server's name in messages ("JupyterLab", "The Prefect server").
        timeout_s: How long to wait.
        exited_hint: What to do when the process exits while starting.

    Raises:
        CloudUnavailableError: The process exited, or nothing answered within ``timeout_s``.
    """
    url = request.full_url if isinstance(request, urllib.request.Request) else request
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CloudUnavailableError(
                f"{what} exited with code {process.returncode} while starting; {exited_hint}"
            )
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)  # polling a starting server: nothing to wait on but its port
    raise CloudUnavailableError(f"{what} did not answer on {url} within {timeout_s:.0f} s.")


class StopsOnExit:
    """Mixin of the things we start (local cloud, lab, Prefect server): leaving ``with`` stops.

    A subclass defines :meth:`stop` and its own ``__enter__`` (which may start it).
    """

    def stop(self) -> None:
        """Stop what was started; idempotent."""
        raise NotImplementedError

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
