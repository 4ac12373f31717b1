"""Copy an image (a snapshot, or any image the user may read) to another site, verified.

Steps: read the source's record (formats, size, hashes); refuse what cannot work before any
data moves (:func:`~denbi_jupyter.cloud.rules.copy.copy_problems`: same site, source not
active or without data, the target's image quota); look for an earlier run's copy by its mark
(``denbi_copied_from = "<site>:<image id>"``, a Glance property filter) and return a finished
one (``reused``) or delete failed partial ones; create the target record (the source's
formats, ``min_disk``/``min_ram``, properties and tags, a unique name); stream the data from
the source's download into the target's upload (chunks of 1 MiB, hashed on the way, byte
progress); check the target's size and sha512 against the stream and the source. Any failure
after the record was made deletes that record (only it: never the source, never an image this
run did not create) and ends in one error naming the cause.

A copy of a snapshot keeps its desktop: the snapshot's ``denbi_source_image_id`` names an
image of the source site, so it is pointed at the target site's image of the same name (the
federation's images are named alike); without one, the copy's own name and tags tell it, and
the result carries a warning.

The data goes through this process, never whole in memory. Only a target that refuses
chunked uploads (HTTP 411) makes the flow spool the data to a temporary file first, after
checking the free disk space.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.results import CopyResult
from denbi_jupyter.cloud.rules.copy import (
    MIB,
    ImageRecord,
    ImageUsage,
    StreamDigest,
    copied_from_mark,
    copy_problems,
    create_body,
    data_mismatch,
    raise_refusals,
    sort_copies,
    unique_name,
)
from denbi_jupyter.errors import (
    CloudUnavailableError,
    DenbiError,
    NotFoundError,
    OperationFailedError,
    UserInputError,
)
from flows import _tasks as tasks
from flows._copy_data import HashingPipe, StreamAborted, spool
from flows._polling import LANDING_WINDOW_S, await_landing, unanswered
from flows._progress import current_flow_run_id, job_flow, report, run_logger
from flows._retry import idempotent, once
from flows._waiters import SYSTEM_CLOCK, Backoff

__all__ = ["copy_image"]

#: The share of the progress bar before the data moves, and after it.
_DATA_START, _DATA_END = 0.1, 0.95
#: HTTP status of a Glance (or proxy) that wants a Content-Length.
_LENGTH_REQUIRED = 411


@idempotent(name="read-image-record")
def _read_record(client: CloudClient, image_id: str) -> ImageRecord | None:
    return client.image_record(image_id)


@idempotent(name="find-copies")
def _find_copies(client: CloudClient, mark: str) -> list[ImageRecord]:
    return client.find_copies(mark)


@idempotent(name="check-name-in-use")
def _name_taken(client: CloudClient, name: str) -> bool:
    images = client.find_images_by_property("name", name)
    return any(image.owner == client.project_id for image in images)


@idempotent(name="find-desktop-twin")
def _desktop_twin(
    source: CloudClient, target: CloudClient, image_id: str
) -> tuple[str | None, str | None]:
    """(the target's image like the one that tells the source's desktop, or None; the name
    of that image when the target has none like it)."""
    desktop = source.desktop_image(image_id)
    if desktop is None or desktop.id == image_id:
        return None, None
    named = target.find_images_by_property("name", desktop.name)
    alike = [image for image in named if image.status == "active"]
    if not alike:
        return None, desktop.name
    best = max(alike, key=lambda image: (set(image.tags) == set(desktop.tags), image.created_at))
    return best.id, None


@once(name="create-image-record")
def _create_record(client: CloudClient, body: dict[str, object]) -> ImageRecord:
    return client.create_image_record(body)


#: Looks for a create whose answer was lost: soon at first, then every 2 s.
_LANDING_BACKOFF = Backoff(first=0.25, factor=1.5, cap=2.0)


def _create_or_find(target: CloudClient, body: dict[str, object], mark: str) -> ImageRecord:
    """Create the target record; after a lost answer, look for it by the copy's mark for a
    while (Glance may act on a create it got after we gave up) and go on with it, so that no
    record lands behind the flow's back where a run again would not see it."""
    try:
        return _create_record(target, body)
    except CloudUnavailableError as exc:
        if not unanswered(exc):
            raise
        name = body.get("name")
        run_logger().warning(
            "Creating %r got no answer (%s); looking whether it was made", name, exc
        )
        report(None, f"Glance did not confirm {name!r}; looking whether it was made")

        def landed() -> ImageRecord | None:
            fresh = [c for c in target.find_copies(mark) if c.name == name and c.status == "queued"]
            return fresh[0] if len(fresh) == 1 else None

        made = await_landing(
            landed, window_s=LANDING_WINDOW_S, clock=SYSTEM_CLOCK, backoff=_LANDING_BACKOFF
        )
        if made is None:
            raise
        run_logger().info("Glance made image %s after all; copying into it", made.id)
        return made


def _progress(done: int, total: int | None) -> None:
    share = done / total if total else 0.0
    fraction = _DATA_START + (_DATA_END - _DATA_START) * min(1.0, share)
    shown = f" of {total / MIB:.1f}" if total else ""
    report(fraction, f"Copying: {done / MIB:.1f}{shown} MiB")


def _upload(target: CloudClient, image_id: str, pipe: HashingPipe, size: int | None) -> None:
    try:
        target.upload_image_data(image_id, pipe)
    except StreamAborted:
        raise
    except DenbiError as exc:
        if exc.status != _LENGTH_REQUIRED or pipe.failure or pipe.size:
            raise
        run_logger().info("The target refuses chunked uploads: spooling to a temporary file")
        path = spool(pipe, size or 0)
        try:
            with path.open("rb") as handle:
                target.upload_image_data(image_id, handle, size=path.stat().st_size)
        finally:
            Path(path).unlink(missing_ok=True)


@once(name="stream-image-data")
def _transfer(
    source: CloudClient, target: CloudClient, record: ImageRecord, target_id: str, site: str
) -> StreamDigest:
    """Stream the source's data into the target's upload; what went through."""
    with source.open_image_data(record.id) as stream:
        pipe = HashingPipe(stream.chunks, record, source_site=site, on_progress=_progress)
        try:
            _upload(target, target_id, pipe, record.size)
        except (StreamAborted, DenbiError) as exc:
            if pipe.failure:
                raise OperationFailedError(pipe.failure) from exc
            raise
    return pipe.digest()


def _discard(target: CloudClient, image_id: str) -> str:
    """Delete this run's incomplete copy; what to tell the user about it."""
    try:
        tasks.delete_image(target, image_id)
    except NotFoundError:
        return f"The incomplete copy {image_id} is gone."
    except DenbiError as exc:
        return f"The incomplete copy {image_id} could not be deleted ({exc}): delete it by hand."
    return f"The incomplete copy {image_id} was deleted."


def _failed(error: BaseException, cause: str, cleanup: str) -> DenbiError:
    message = f"{cause}. {cleanup} Try again; the source was not changed."
    if isinstance(error, DenbiError):
        return type(error)(message, site=error.site, action=error.action, status=error.status)
    return OperationFailedError(message)


def _copy_data(
    source: CloudClient,
    target: CloudClient,
    record: ImageRecord,
    body: dict[str, object],
    site: str,
    mark: str,
) -> ImageRecord:
    """Create the target record, stream and verify; on failure delete it and raise."""
    made = _create_or_find(target, body, mark)
    label = f"Copying {record.name!r} ({record.id}) from {site} to {target.site.name} failed"
    try:
        digest = _transfer(source, target, record, made.id, site)
        report(_DATA_END, "Verifying size and sha512 on the target")
        copied = _read_record(target, made.id)
        problem = data_mismatch(record, digest, copied, source_site=site)
        if problem:
            raise OperationFailedError(problem)
    except BaseException as exc:
        cleanup = _discard(target, made.id)
        if not isinstance(exc, Exception):
            raise
        raise _failed(exc, f"{label}: {exc}".rstrip(". "), cleanup) from exc
    assert copied is not None  # data_mismatch says so when it is None
    return copied


def _result(
    site: str,
    target_site: str,
    source: ImageRecord,
    copy: ImageRecord,
    *,
    reused: bool,
    replaced: bool,
    warnings: Iterable[str] = (),
) -> CopyResult:
    return CopyResult(
        source_site=site,
        source_id=source.id,
        target_site=target_site,
        target_id=copy.id,
        name=copy.name,
        size=copy.size or 0,
        sha512=copy.sha512 or "",
        reused=reused,
        replaced_partial=replaced,
        status=copy.status,
        flow_run_id=current_flow_run_id(),
        tags=copy.tags,
        warnings=tuple(warnings),
    )


def _target_name(target: CloudClient, source: ImageRecord, name: str | None) -> str:
    if name is None or not name.strip():
        return unique_name(source.name or source.id, lambda n: _name_taken(target, n))
    clean = unique_name(name, lambda _n: False)
    if _name_taken(target, clean):
        raise UserInputError(
            f"The name {clean!r} is already used in the project on {target.site.name}: choose "
            "another, or leave the name out to get a free one."
        )
    return clean


@job_flow("copy-image", "copy-{image_id}-to-{target_site}")
def copy_image(site: str, image_id: str, target_site: str, name: str | None = None) -> CopyResult:
    """Copy an image to another site and verify it (sha512 and size equal the source's).

    Args:
        site: The ``clouds.yaml`` entry of the source site.
        image_id: The source image's id.
        target_site: The ``clouds.yaml`` entry of the target site.
        name: The copy's name; default the source's (with `` (copy N)`` when taken).

    Returns:
        The active copy (``reused`` when an earlier run had made it, ``replaced_partial``
        when a failed earlier copy was deleted first).

    Raises:
        UserInputError: Same site, a bad or taken name, nothing to copy.
        NotFoundError: No such source image.
        ConflictError: The source is not active.
        QuotaExceededError: The target's image quota does not allow it (before any data moves,
            or the target refused the upload).
        OperationFailedError: The download broke off, the data did not match, the target
            failed; the incomplete copy was deleted.
    """
    logger = run_logger()
    report(0.0, f"Reading image {image_id} on {site}")
    source_client = tasks.open_site(site)
    source = _read_record(source_client, image_id)
    if source is None:
        raise NotFoundError(f"{site} has no image with id {image_id!r}: check the image list.")
    raise_refusals(
        copy_problems(source=source, source_site=site, target_site=target_site, usage=ImageUsage())
    )
    target = tasks.open_site(target_site)
    mark = copied_from_mark(site, source.id)
    finished, partial = sort_copies(
        _find_copies(target, mark), source, mark=mark, project_id=target.project_id
    )
    if finished is not None:
        logger.info("Image %s on %s is a finished copy already", finished.id, target_site)
        report(1.0, f"{finished.name!r} exists on {target_site} already")
        return _result(site, target_site, source, finished, reused=True, replaced=False)
    for image in partial:
        logger.warning("Replacing the failed earlier copy %s (%s)", image.id, image.status)
        tasks.delete_image(target, image.id)
    report(0.05, f"Checking the image quota on {target_site}")
    usage = tasks.image_usage(target)
    raise_refusals(
        copy_problems(source=source, source_site=site, target_site=target_site, usage=usage)
    )
    warnings: list[str] = []
    twin_id, missing = _desktop_twin(source_client, target, source.id)
    if missing is not None:
        warnings.append(
            f"{target_site} has no image named {missing!r}: the copy's desktop is told by its "
            "own name and tags."
        )
        logger.warning(warnings[-1])
    body = create_body(
        source, name=_target_name(target, source, name), mark=mark, desktop_source_id=twin_id
    )
    report(_DATA_START, f"Creating {body['name']!r} on {target_site}")
    copy = _copy_data(source_client, target, source, body, site, mark)
    report(1.0, f"{copy.name!r} is active on {target_site}, sha512 checked")
    return _result(
        site, target_site, source, copy, reused=False, replaced=bool(partial), warnings=warnings
    )
