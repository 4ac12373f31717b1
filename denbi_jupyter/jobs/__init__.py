"""Run denbi-jupyter's flows from a kernel in the background and watch them.

```python
runner = JobRunner()
runner.warm_up()                                # start Prefect while the user looks around
job = runner.submit("Snapshot vm1 → nightly-1", FlowRef.CREATE_SNAPSHOT,
                    site="bielefeld", server="vm1", name="nightly-1")
job.on_update(lambda j: print(j.state, j.progress, j.message))
```

Layers: jobs → flows → cloud. Importing this package imports neither ``flows`` nor Prefect;
the first job (or :meth:`JobRunner.warm_up`) does, and checks then that the top-level
``flows`` package is denbi-jupyter's (see :func:`load_flows`). Name flows by
:class:`FlowRef`; :func:`use_clients` lets the jobs submitted inside it open sites through
clients the caller already holds.

With a work pool (``JobRunner(work_pool="denbi-process")`` or ``DENBI_WORK_POOL``), the flows
that have a deployment (:data:`DEPLOYMENTS`) run on the pool's workers instead and outlive the
kernel; :meth:`JobRunner.in_flight` lists the runs still going, from any kernel.
"""

from __future__ import annotations

from denbi_jupyter.jobs._busy import start_while_busy
from denbi_jupyter.jobs._deployments import DEPLOYMENTS, WorkPool
from denbi_jupyter.jobs._flows import FlowRef, load_flows, resolve_flow, use_clients
from denbi_jupyter.jobs._job import Job, JobState
from denbi_jupyter.jobs._runner import JobRunner, describe_failure

__all__ = [
    "DEPLOYMENTS",
    "FlowRef",
    "Job",
    "JobRunner",
    "JobState",
    "WorkPool",
    "describe_failure",
    "load_flows",
    "resolve_flow",
    "start_while_busy",
    "use_clients",
]
