"""Delete snapshots in bulk, each with its own result, never touching what was not named.

Each named image is looked at first: protected images, images another project owns and
images that are not snapshots are refused without a delete call; the rest are deleted, a few
at a time. Every id gets exactly one result line:

``deleted`` · ``refused: protected`` · ``refused: not owned by project X`` ·
``refused: not a snapshot`` · ``not found`` · ``failed: <reason>``
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor

from prefect import flow

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.errors import DenbiError, NotFoundError, PermissionDeniedError, UserInputError
from flows import _tasks as tasks
from flows._progress import report, run_logger

__all__ = ["DELETED", "NOT_FOUND", "delete_one", "delete_snapshots"]

DELETED = "deleted"
NOT_FOUND = "not found"
#: Most deletions a bulk delete runs at once.
MAX_PARALLEL = 16


def delete_one(client: CloudClient, image_id: str) -> dict[str, object]:
    """Check and delete one image; return ``{"id", "name", "result"}`` (never raises ours)."""
    try:
        image = tasks.get_image(client, image_id)
    except DenbiError as exc:
        return {"id": image_id, "name": None, "result": f"failed: {exc}"}
    if image is None:
        return {"id": image_id, "name": None, "result": NOT_FOUND}
    outcome: dict[str, object] = {"id": image_id, "name": image.name}
    if image.protected:
        return outcome | {"result": "refused: protected"}
    if image.owner != client.project_id:
        return outcome | {"result": f"refused: not owned by project {client.project_name}"}
    if not image.is_snapshot:
        return outcome | {"result": "refused: not a snapshot"}
    try:
        tasks.delete_image(client, image_id)
    except NotFoundError:
        # It existed a moment ago: gone now, whoever was quicker.
        return outcome | {"result": DELETED}
    except PermissionDeniedError as exc:
        return outcome | {"result": f"refused: {exc}"}
    except DenbiError as exc:
        return outcome | {"result": f"failed: {exc}"}
    return outcome | {"result": DELETED}


def _summary(results: list[dict[str, object]]) -> dict[str, object]:
    texts = [str(item["result"]) for item in results]
    return {
        "results": results,
        "deleted": sum(text == DELETED for text in texts),
        "refused": sum(text.startswith("refused") for text in texts),
        "not_found": sum(text == NOT_FOUND for text in texts),
        "failed": sum(text.startswith("failed") for text in texts),
    }


@flow(name="delete-snapshots", flow_run_name="delete-{site}", persist_result=False)
def delete_snapshots(site: str, image_ids: list[str], max_parallel: int = 4) -> dict[str, object]:
    """Delete the named snapshots, ``max_parallel`` at a time.

    Args:
        site: The ``clouds.yaml`` entry of the site.
        image_ids: The snapshot ids (duplicates are handled once).
        max_parallel: Deletions at once (1..16).

    Returns:
        ``results`` (one ``{"id", "name", "result"}`` per id, in the given order) and the
        counts ``deleted``, ``refused``, ``not_found``, ``failed``.
    """
    if not 1 <= max_parallel <= MAX_PARALLEL:
        raise UserInputError(f"max_parallel must be 1..{MAX_PARALLEL}, not {max_parallel}.")
    wanted = list(dict.fromkeys(i.strip() for i in image_ids if i.strip()))
    if not wanted:
        raise UserInputError("No snapshot ids given: name at least one snapshot to delete.")
    logger = run_logger()
    client = tasks.open_site(site)
    report(0.0, f"Deleting {len(wanted)} snapshot(s)")
    results: list[dict[str, object]] = []
    with ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="denbi-delete") as pool:
        # Each worker runs in a copy of this flow run's context, so its tasks belong to it.
        futures = [
            pool.submit(contextvars.copy_context().run, delete_one, client, image_id)
            for image_id in wanted
        ]
        for done, future in enumerate(futures, start=1):
            item = future.result()
            results.append(item)
            logger.info("%s %s: %s", item["id"], item["name"] or "", item["result"])
            report(done / len(wanted), f"{done} of {len(wanted)} handled")
    return _summary(results)
