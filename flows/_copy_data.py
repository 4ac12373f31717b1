"""The data path of the copy flow: stream, hash and count the bytes, spool only when needed.

:class:`HashingPipe` sits between the source's download and the target's upload: it passes
every chunk on (the upload reads it as an iterator, so requests sends it chunked), hashes it
(sha512 as Glance's ``os_hash_value``, md5 as its ``checksum``), reports byte progress, and
remembers why the stream ended early (a cut download). It holds the last chunk back until the
source is exhausted and its size and sha512 are checked: a stream that does not match the
source's record is aborted before its last byte is sent, so the target never completes an
upload of wrong data.

:func:`spool` writes the stream to a temporary file (after checking the free disk space) for
a target that refuses chunked uploads (HTTP 411 Length Required).
"""

from __future__ import annotations

import contextvars
import hashlib
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from queue import Queue

from denbi_jupyter.cloud.rules.copy import MIB, ImageRecord, StreamDigest, stream_mismatch
from denbi_jupyter.errors import DenbiError, OperationFailedError, UserInputError

__all__ = ["DISK_MARGIN_BYTES", "HashingPipe", "StreamAborted", "check_free_disk", "spool"]

#: Free disk space a spool file must leave (besides the image itself).
DISK_MARGIN_BYTES = 64 * MIB
#: How many progress reports a copy makes at most (every 2 %).
_REPORTS = 50
#: Chunks the download may run ahead of the upload (the memory a copy holds: ~8 MiB).
_AHEAD = 8
#: What the reader thread hands on: a chunk, the exception that ended the download, None (done).
_Ahead = Queue[bytes | BaseException | None]


class StreamAborted(Exception):
    """The pipe stopped the upload on purpose (its ``reason`` says why)."""


class HashingPipe:
    """Chunks from the source on their way to the target, hashed and counted.

    Args:
        chunks: The source's download.
        source: The source's record (the expected size and hashes).
        source_site: Where the source is (for messages).
        on_progress: Called with (bytes so far, expected total) every 2 % or so.
    """

    def __init__(
        self,
        chunks: Iterable[bytes],
        source: ImageRecord,
        *,
        source_site: str,
        on_progress: Callable[[int, int | None], None],
    ) -> None:
        self._chunks = chunks
        self._source = source
        self._site = source_site
        self._on_progress = on_progress
        self._sha512 = hashlib.sha512()
        # md5 only for an old source without a sha512 (hashing costs as much as sending).
        self._md5 = None if source.sha512 else hashlib.md5(usedforsecurity=False)
        self.size = 0
        #: Why the stream ended early or was aborted (a cut download, corrupted data).
        self.failure: str | None = None
        self._step = max(MIB, (source.size or 0) // _REPORTS)
        self._next_report = self._step

    def digest(self) -> StreamDigest:
        """Size and hashes of what went through so far."""
        md5 = self._md5.hexdigest() if self._md5 is not None else ""
        return StreamDigest(self.size, self._sha512.hexdigest(), md5)

    def __iter__(self) -> Iterator[bytes]:
        # A reader thread downloads and hashes up to _AHEAD chunks ahead of the upload, so
        # both sockets and the hashing work at once (hashlib and socket I/O release the GIL).
        queue: _Ahead = Queue(maxsize=_AHEAD)
        stop = threading.Event()
        reader = threading.Thread(
            target=contextvars.copy_context().run,  # progress reports reach this flow run
            args=(self._read_ahead, queue, stop),
            name="copy-read-ahead",
            daemon=True,
        )
        reader.start()
        held: bytes | None = None
        try:
            while (item := queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                if held is not None:
                    yield held
                held = item
        finally:
            stop.set()
            while not queue.empty():  # frees the reader's pending put
                queue.get_nowait()
            reader.join()
        problem = self._mismatch()
        if problem:
            self.failure = problem
            raise StreamAborted(problem)
        if held is not None:
            yield held

    def _read_ahead(self, queue: _Ahead, stop: threading.Event) -> None:
        """Download and hash into ``queue``: chunks, then None, or the exception that ended it."""
        try:
            for chunk in self._chunks:
                self._take(chunk)
                queue.put(chunk)
                if stop.is_set():
                    return
        except DenbiError as exc:
            self.failure = (
                f"The download from {self._site} broke off after {self.size / MIB:.1f} of "
                f"{(self._source.size or 0) / MIB:.1f} MiB ({exc})"
            )
            aborted = StreamAborted(self.failure)
            aborted.__cause__ = exc
            queue.put(aborted)
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the uploading thread, raised there
            queue.put(exc)
            return
        queue.put(None)

    def _take(self, chunk: bytes) -> None:
        self._sha512.update(chunk)
        if self._md5 is not None:
            self._md5.update(chunk)
        self.size += len(chunk)
        if self.size >= self._next_report:
            self._next_report = self.size + self._step
            self._on_progress(self.size, self._source.size)

    def _mismatch(self) -> str:
        return stream_mismatch(self._source, self.digest(), source_site=self._site)


def check_free_disk(folder: Path, size: int) -> None:
    """Make sure ``size`` bytes (plus :data:`DISK_MARGIN_BYTES`) fit in ``folder``.

    Raises:
        UserInputError: Not enough free space (the message says how much is needed).
    """
    free = shutil.disk_usage(folder).free
    if free < size + DISK_MARGIN_BYTES:
        raise UserInputError(
            f"The target needs the image as a temporary file first, but {folder} has only "
            f"{free / MIB:.0f} MiB free of the {(size + DISK_MARGIN_BYTES) / MIB:.0f} MiB "
            "needed: free disk space there or set TMPDIR to a larger folder."
        )


def spool(pipe: HashingPipe, size: int, *, folder: Path | None = None) -> Path:
    """Write the pipe's chunks to a temporary file (free disk checked first); its path.

    The caller deletes the file. Raises what :func:`check_free_disk` raises, and
    OperationFailedError when the stream ends early or does not match the source.
    """
    where = folder or Path(tempfile.gettempdir())
    check_free_disk(where, size)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept after close, for the upload
        dir=where, prefix="denbi-copy-", suffix=".img", delete=False
    )
    path = Path(handle.name)
    try:
        with handle:
            for chunk in pipe:
                handle.write(chunk)
    except StreamAborted as exc:
        path.unlink(missing_ok=True)
        raise OperationFailedError(str(exc)) from exc
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
