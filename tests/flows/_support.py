"""Helpers of the flow tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID
from denbi_jupyter.cloud.rules.retention import SCHEDULE_KEY, schedule_mark
from denbi_jupyter.cloud.types import Image
from tests.support.fake_cloud import FakeCloud


def scheduled_snapshots(
    cloud: FakeCloud,
    server_id: str,
    ages_days: Sequence[float],
    *,
    schedule: str,
    now: dt.datetime,
    prefix: str,
    status: str = "active",
) -> list[Image]:
    """Snapshots of ``server_id`` that ``schedule`` made ``ages_days`` before ``now``.

    Each is named ``<prefix>-<age>`` and carries the schedule's mark, as the scheduled flows
    leave them.
    """
    made = []
    for age in ages_days:
        snap = cloud.add_snapshot(
            f"{prefix}-{age}",
            status=status,
            properties={SCHEDULE_KEY: schedule, SOURCE_SERVER_ID: server_id},
        )
        image = replace(
            cloud.images[snap.id],
            created_at=now - dt.timedelta(days=age),
            tags=(schedule_mark(schedule, snap.id),),
        )
        cloud.images[snap.id] = image
        made.append(image)
    return made
