"""denbi-jupyter's Prefect flows: boot a VM, snapshot it, delete snapshots, scheduled runs.

This folder is where Prefect deployments point (``prefect.yaml`` entrypoints such as
``flows/scheduled.py:nightly_snapshots``) and it ships in the wheel beside ``denbi_jupyter``,
so the panels, the command line and deployments all run the same code.

Why a top-level package named ``flows`` and how it is guarded: Prefect entrypoints are file
paths, and a short, obvious folder at the project root is what ``prefect deploy`` and
``prefect.serve`` users expect. The price is that another distribution may also install a
top-level ``flows`` package. Rather than rename, we mark ours with ``__denbi_jupyter__ = True``;
every place in ``denbi_jupyter`` that imports the flows goes through
:func:`denbi_jupyter.jobs.load_flows`, which refuses a ``flows`` package without the marker
with a clear message, and a test checks that the ``flows`` found on ``sys.path`` is ours. The
guard runs when a flow is first needed (a :class:`denbi_jupyter.jobs.FlowRef` resolved, a job
or warm-up started, a CLI command run), never at import: importing ``denbi_jupyter.jobs``
imports neither ``flows`` nor Prefect.

Flows return the frozen types of :mod:`denbi_jupyter.cloud.results`; the rules they apply
live in :mod:`denbi_jupyter.cloud.rules`.

Layers: ``denbi_jupyter.jobs`` and the CLI import ``flows``; ``flows`` imports only
``denbi_jupyter.cloud``, ``denbi_jupyter.connect`` and ``denbi_jupyter.errors`` (never jobs,
panels or CLI). Importing this package is cheap: it holds the progress channel
(:func:`listen`, :func:`report`), the Prefect settings (:func:`flow_settings`) and the client
source for tests and kernels (:func:`use_clients`); Prefect loads with the flow modules
``flows.boot``, ``flows.snapshot``, ``flows.delete``, ``flows.servers`` (stop, start,
reboot, delete a VM) and ``flows.scheduled``.
"""

from __future__ import annotations

from flows._client import ClientSource, use_clients
from flows._progress import FlowEvent, Listener, listen, report
from flows._settings import flow_settings, quiet_console

__all__ = [
    "ClientSource",
    "FlowEvent",
    "Listener",
    "__denbi_jupyter__",
    "flow_settings",
    "listen",
    "quiet_console",
    "report",
    "use_clients",
]

#: Marks this ``flows`` package as denbi-jupyter's (see the module docstring).
__denbi_jupyter__ = True
