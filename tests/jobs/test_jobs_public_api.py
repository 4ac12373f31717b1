"""The jobs interface the panels build on: names, shapes and a light import."""

from __future__ import annotations

import inspect
import subprocess
import sys

import flows
from denbi_jupyter import jobs
from denbi_jupyter.jobs import Job, JobRunner, JobState


def test_all_is_sorted_and_every_name_resolves() -> None:
    for module in (jobs, flows):
        names = [name for name in module.__all__ if not name.startswith("__")]
        assert names == sorted(names), module.__name__
        assert all(getattr(module, name) is not None for name in module.__all__)


def test_the_contract_with_the_panels_holds() -> None:
    assert [state.value for state in JobState] == ["pending", "running", "completed", "failed"]
    job = Job("title")
    for attribute in (
        "id",
        "title",
        "state",
        "progress",
        "message",
        "logs",
        "result",
        "error",
        "error_type",
        "flow_run_id",
        "done",
    ):
        assert hasattr(job, attribute), attribute
    submit = inspect.signature(JobRunner.submit)
    assert [p.kind for p in submit.parameters.values()] == [
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.VAR_KEYWORD,
    ]
    assert inspect.signature(JobRunner).parameters["max_parallel"].default == 4


def test_importing_jobs_does_not_load_prefect() -> None:
    code = "import sys, denbi_jupyter.jobs; print('prefect' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
