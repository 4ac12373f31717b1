"""Run denbi-jupyter's flows from a kernel in the background and watch them.

```python
runner = JobRunner()
runner.warm_up()                                # start Prefect while the user looks around
job = runner.submit("Snapshot vm1 → nightly-1", create_snapshot,
                    site="bielefeld", server="vm1", name="nightly-1")
job.on_update(lambda j: print(j.state, j.progress, j.message))
```

Layers: jobs → flows → cloud. Importing this package checks that the top-level ``flows``
package is denbi-jupyter's (see :func:`load_flows`).
"""

from __future__ import annotations

from denbi_jupyter.jobs._flows import load_flows
from denbi_jupyter.jobs._job import Job, JobState
from denbi_jupyter.jobs._runner import JobRunner, describe_failure

__all__ = ["Job", "JobRunner", "JobState", "describe_failure", "load_flows"]
