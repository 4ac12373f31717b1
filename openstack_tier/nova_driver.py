"""Nova's fake virt driver, plus snapshots that upload data (runs inside nova-compute only).

The stock fake driver never uploads snapshot data, so the image stays `queued` forever. The
base is `FakeDriverWithoutFakeNodes`: the stock `FakeDriver` refuses to restart ("No local node
identity found, but this is not our first startup").
"""

from __future__ import annotations

from typing import Any, ClassVar

from nova import exception
from nova.compute import task_states
from nova.image import glance
from nova.virt import fake

from openstack_tier.snapshot_upload import upload_snapshot

__all__ = ["SnapshotUploadingFakeDriver"]


class SnapshotUploadingFakeDriver(fake.FakeDriverWithoutFakeNodes):  # type: ignore[misc]
    """A single-node fake hypervisor whose snapshots become `active` in Glance."""

    capabilities: ClassVar[dict[str, bool]] = {
        **fake.FakeDriver.capabilities,
        "supports_image_type_qcow2": True,
    }

    def __init__(self, virtapi: Any, read_only: bool = False) -> None:
        super().__init__(virtapi, read_only)
        self._image_api = glance.API()

    def snapshot(self, context: Any, instance: Any, image_id: str, update_task_state: Any) -> None:
        if instance.uuid not in self.instances:
            raise exception.InstanceNotRunning(instance_id=instance.uuid)
        upload_snapshot(
            self._image_api,
            context,
            image_id=image_id,
            source_image_id=instance.image_ref or None,
            update_task_state=update_task_state,
            uploading_state=task_states.IMAGE_UPLOADING,
        )
