"""Carrying out a work-pool flow run in the test's own process, as a pool's worker would."""

from __future__ import annotations

import contextvars
import threading
from typing import Any
from uuid import UUID


def work_here(flow_run_id: UUID | str, flow: Any) -> threading.Thread:
    """Run the flow run ``flow_run_id`` of ``flow`` in a started daemon thread.

    The thread runs in a copy of the caller's context, so a ``use_clients`` around the call
    decides which clients the flow opens sites with.
    """
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow

    run_id = flow_run_id if isinstance(flow_run_id, UUID) else UUID(flow_run_id)
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(run_id)
    context = contextvars.copy_context()
    thread = threading.Thread(
        target=context.run,
        args=(run_flow, flow),
        kwargs={"flow_run": flow_run, "parameters": flow_run.parameters, "return_type": "state"},
        daemon=True,
    )
    thread.start()
    return thread
