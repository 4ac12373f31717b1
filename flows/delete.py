"""Delete snapshots in bulk, each with its own result, never touching what was not named.

The guards read each named image once: one Glance listing per 40 ids (``id=in:…``, with
``visibility=all`` so shared and community images are judged too), and one ``GET`` only for an
id that listing did not show. :func:`~denbi_jupyter.cloud.rules.deletion.deletion_refusal`
refuses protected images, images another project owns and images that are not snapshots
without a delete call; the rest are deleted by one task with up to ``max_parallel`` deletes in
flight inside it (no Prefect task per item: a task run costs more than a Glance DELETE). Every
id gets exactly one :class:`~denbi_jupyter.cloud.results.DeleteItem`; its ``text`` reads

``deleted`` · ``refused: protected`` · ``refused: not owned by project X`` ·
``refused: not a snapshot`` · ``not found`` · ``failed: <reason>``

A DELETE that failed on the way (a 5xx, a dropped connection, no answer within the client's
``api_timeout``) is tried again, :data:`DELETE_RETRY_DELAYS` apart: deleting is idempotent,
and a delete that went through although its answer was lost then finds the image gone
(404), which is the ``deleted`` it was. Without that an item was reported ``failed`` after a
single lost answer, and even while the image was already deleted. When every attempt's
answer is lost, one read decides: an image that is gone is ``deleted``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.results import DeleteItem, DeleteOutcome, DeleteReport
from denbi_jupyter.cloud.rules.deletion import Refusal, deletion_refusal
from denbi_jupyter.cloud.types import Image
from denbi_jupyter.errors import (
    CloudUnavailableError,
    DenbiError,
    NotFoundError,
    PermissionDeniedError,
    UserInputError,
)
from flows import _tasks as tasks
from flows._progress import job_flow, report, run_logger
from flows._retry import idempotent, once

__all__ = ["DELETE_RETRY_DELAYS", "MAX_PARALLEL", "delete_checked", "delete_snapshots", "judge"]

#: Most deletions a bulk delete runs at once.
MAX_PARALLEL = 16
#: Seconds before each further attempt of a DELETE that failed on the way.
DELETE_RETRY_DELAYS = (0.5, 2.0)


def judge(client: CloudClient, image_id: str, image: Image | str | None) -> DeleteItem | None:
    """The item's result when it must not be deleted, else None.

    ``image`` is what reading it gave: the image, None (it does not exist) or why it could not
    be read. The rule is :func:`~denbi_jupyter.cloud.rules.deletion.deletion_refusal`.
    """
    if image is None:
        return DeleteItem(id=image_id, name=None, outcome=DeleteOutcome.NOT_FOUND)
    if isinstance(image, str):
        return DeleteItem(id=image_id, name=None, outcome=DeleteOutcome.FAILED, reason=image)
    refusal = deletion_refusal(image, client.project_id)
    if refusal is None:
        return None
    reason = (
        f"not owned by project {client.project_name}"
        if refusal is Refusal.NOT_OWNED
        else refusal.value
    )
    return DeleteItem(id=image_id, name=image.name, outcome=DeleteOutcome.REFUSED, reason=reason)


def delete_checked(client: CloudClient, image: Image) -> DeleteItem:
    """Delete an image the guards let through; never raises ours."""

    def item(outcome: DeleteOutcome, reason: str = "") -> DeleteItem:
        return DeleteItem(id=image.id, name=image.name, outcome=outcome, reason=reason)

    for delay in (*DELETE_RETRY_DELAYS, None):
        try:
            client.delete_image(image.id, checked=image)  # no second read of the image
        except NotFoundError:  # it existed a moment ago: gone now, whoever was quicker
            return item(DeleteOutcome.DELETED)
        except PermissionDeniedError as exc:
            return item(DeleteOutcome.REFUSED, str(exc))
        except CloudUnavailableError as exc:  # lost on the way: ask again (idempotent)
            if delay is None:
                if _gone_after_all(client, image.id):
                    return item(DeleteOutcome.DELETED)
                return item(DeleteOutcome.FAILED, str(exc))
            time.sleep(delay)
        except DenbiError as exc:
            return item(DeleteOutcome.FAILED, str(exc))
        else:
            return item(DeleteOutcome.DELETED)
    raise AssertionError("unreachable")  # the last attempt always returns


def _gone_after_all(client: CloudClient, image_id: str) -> bool:
    """Whether an image whose every DELETE answer was lost is gone after all (one read)."""
    try:
        image = client.get_image(image_id)
    except DenbiError:
        return False
    return image is None or image.status in ("deleted", "pending_delete")


@idempotent(name="read-images")
def read_images(client: CloudClient, image_ids: Sequence[str]) -> dict[str, Image | str | None]:
    """Each id's image, None when it does not exist, or why it could not be read.

    One listing per 40 ids where the client can; an id the listing did not show (or every id,
    when the listing failed) is read with one ``GET``, whose failure is that item's alone.
    """
    found: dict[str, Image | str | None] = {}
    try:
        found.update(client.get_images(image_ids))
    except DenbiError as exc:  # judge item by item instead
        run_logger().warning("Listing the named images failed (%s); reading each", exc)
    for image_id in image_ids:
        if image_id in found:
            continue
        try:
            found[image_id] = client.get_image(image_id)
        except DenbiError as exc:
            found[image_id] = str(exc)
    return found


@once(name="delete-batch")
def delete_batch(
    client: CloudClient, images: Sequence[Image], max_parallel: int
) -> dict[str, DeleteItem]:
    """Delete ``images`` with up to ``max_parallel`` in flight; one result per image.

    Logs one line per image that was not deleted and one summary line (a log line per
    deleted image would cost more than its DELETE); progress at most every 2 %.
    """
    done: dict[str, DeleteItem] = {}
    logger = run_logger()
    step = max(1, len(images) // 50)
    with ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="denbi-delete") as pool:
        for count, item in enumerate(pool.map(delete_checked, repeat(client), images), start=1):
            done[item.id] = item
            if item.outcome is not DeleteOutcome.DELETED:
                logger.warning("%s %s: %s", item.id, item.name or "", item.text)
            if count % step == 0 or count == len(images):
                report(0.05 + 0.95 * count / len(images), f"{count} of {len(images)} handled")
    deleted = sum(item.outcome is DeleteOutcome.DELETED for item in done.values())
    logger.info("%d of %d snapshot(s) deleted", deleted, len(images))
    return done


def _wanted(image_ids: Sequence[str], max_parallel: int) -> list[str]:
    if not 1 <= max_parallel <= MAX_PARALLEL:
        raise UserInputError(f"max_parallel must be 1..{MAX_PARALLEL}, not {max_parallel}.")
    wanted = list(dict.fromkeys(i.strip() for i in image_ids if i.strip()))
    if not wanted:
        raise UserInputError("No snapshot ids given: name at least one snapshot to delete.")
    return wanted


def _report(wanted: Sequence[str], *parts: Mapping[str, DeleteItem]) -> DeleteReport:
    merged: dict[str, DeleteItem] = {}
    for part in parts:
        merged.update(part)
    return DeleteReport(items=tuple(merged[image_id] for image_id in wanted))


@job_flow("delete-snapshots", "delete-{site}")
def delete_snapshots(site: str, image_ids: list[str], max_parallel: int = 8) -> DeleteReport:
    """Delete the named snapshots, ``max_parallel`` at a time.

    Args:
        site: The ``clouds.yaml`` entry of the site.
        image_ids: The snapshot ids (duplicates are handled once).
        max_parallel: Deletions at once (1..16).

    Returns:
        One item per distinct id, in the given order.
    """
    wanted = _wanted(image_ids, max_parallel)
    client = tasks.open_site(site)
    report(0.0, f"Checking {len(wanted)} snapshot(s)")
    images = read_images(client, wanted)
    judged: dict[str, DeleteItem] = {}
    allowed: list[Image] = []
    for image_id in wanted:
        image = images[image_id]
        verdict = judge(client, image_id, image)
        if verdict is None and isinstance(image, Image):
            allowed.append(image)
        elif verdict is not None:
            judged[image_id] = verdict
            run_logger().info("%s %s: %s", image_id, verdict.name or "", verdict.text)
    if not allowed:
        return _report(wanted, judged)
    report(0.05, f"Deleting {len(allowed)} snapshot(s)")
    return _report(wanted, judged, delete_batch(client, allowed, max_parallel))
