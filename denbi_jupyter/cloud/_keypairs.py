"""The key-pair half of :class:`~denbi_jupyter.cloud.client.OpenStackCloud`, and its checks.

Split from ``client.py`` (one subject per module): list, import, generate and delete Nova key
pairs. A public key is checked here before Nova sees it (:func:`check_public_key`), so a pasted
private key, a PuTTYgen SSH2 export or a line cut off while copying gets a message naming what
is wrong. A generated key pair is made on this machine (Ed25519, by
:func:`denbi_jupyter.connect.keys.generate_ed25519`); Nova only ever receives the public key,
and no value returned, logged or raised here holds private key material.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import os
import struct
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_ssh_public_key

from denbi_jupyter.cloud.rules.names import NameKind, check_name
from denbi_jupyter.cloud.types import GeneratedKeyPair, KeyPair, SiteSettings
from denbi_jupyter.errors import (
    CloudUnavailableError,
    ConflictError,
    NotFoundError,
    UserInputError,
)

if TYPE_CHECKING:
    from denbi_jupyter.cloud._gateway import CloudGateway

__all__ = ["LANDING_WINDOW_S", "KeyPairCalls", "check_public_key", "sha256_fingerprint"]

_log = logging.getLogger(__name__)

#: Key types OpenSSH and Nova accept, and whether ``cryptography`` can parse them.
_KEY_TYPES = {
    "ssh-ed25519": True,
    "ssh-rsa": True,
    "ecdsa-sha2-nistp256": True,
    "ecdsa-sha2-nistp384": True,
    "ecdsa-sha2-nistp521": True,
    "sk-ssh-ed25519@openssh.com": False,
    "sk-ecdsa-sha2-nistp256@openssh.com": False,
}
#: After an import got no answer, how long (s) to look for the key pair before giving up.
LANDING_WINDOW_S = 15.0
_ACCEPTED = "ssh-ed25519, ssh-rsa or ecdsa-sha2-nistp256/384/521"
_SHAPE = "one line '<type> <base64 key> [comment]', the content of your .pub file"


def _blob_type(blob: bytes) -> str | None:
    """The key type written inside an SSH wire-format public key blob."""
    if len(blob) < 4:
        return None
    (length,) = struct.unpack(">I", blob[:4])
    if length > len(blob) - 4:
        return None
    return blob[4 : 4 + length].decode("ascii", errors="replace")


def _check_shape(key: str) -> list[str]:
    """The fields of a one-line public key; UserInputError naming what is off."""
    if not key:
        raise UserInputError(f"The public key is empty: give {_SHAPE}.")
    if "PRIVATE KEY" in key or "PuTTY-User-Key-File" in key:
        raise UserInputError(
            "That is a private key: give the public key (one line starting with "
            "ssh-ed25519 or ssh-rsa) and keep the private key to yourself."
        )
    if "BEGIN SSH2 PUBLIC KEY" in key:
        raise UserInputError(
            "That is a public key in SSH2 (RFC 4716) format, as PuTTYgen saves it: give the "
            "OpenSSH line from PuTTYgen's 'Public key for pasting into OpenSSH authorized_keys' "
            "box, or import the .ppk itself (keypair import --from-ppk)."
        )
    lines = key.splitlines()
    if len(lines) > 1:
        raise UserInputError(f"The public key has {len(lines)} lines: give {_SHAPE}.")
    fields = key.split()
    if len(fields) < 2:
        raise UserInputError(f"That is not an OpenSSH public key: give {_SHAPE}.")
    if fields[0] not in _KEY_TYPES:
        reason = "no longer accepted by OpenSSH" if fields[0] == "ssh-dss" else "not supported"
        raise UserInputError(
            f"Key type {fields[0][:40]!r} is {reason}: use {_ACCEPTED} (ssh-keygen -t ed25519 "
            "makes one)."
        )
    return fields


def check_public_key(text: str) -> str:
    """The OpenSSH public key line in ``text`` (stripped), checked with ``cryptography``.

    Raises:
        UserInputError: Not one valid OpenSSH public key line; the message says what is wrong
            and never repeats the text.
    """
    key = text.strip()
    fields = _check_shape(key)
    kind = fields[0]
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except (binascii.Error, ValueError):
        raise UserInputError(
            f"The key data after {kind!r} is not valid base64: was the line cut off or "
            "wrapped while copying?"
        ) from None
    inner = _blob_type(blob)
    if inner != kind:
        raise UserInputError(
            f"The key data does not belong to a {kind!r} key: it is damaged, cut off, or the "
            "type at the start of the line was changed."
        )
    if _KEY_TYPES[kind]:
        try:
            load_ssh_public_key(f"{kind} {fields[1]}".encode("ascii"))
        except (ValueError, UnsupportedAlgorithm):
            raise UserInputError(
                f"The {kind!r} key data is damaged or cut off: copy the whole .pub line again."
            ) from None
    return key


def sha256_fingerprint(public_key: str) -> str:
    """``SHA256:…`` of a public key line, as ``ssh-keygen -lf`` prints it ("" if unreadable)."""
    fields = public_key.split()
    if len(fields) < 2:
        return ""
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except (binascii.Error, ValueError):
        return ""
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


class KeyPairCalls:
    """Key pairs for a client that has a gateway and a site (a mixin)."""

    _gateway: CloudGateway
    _site: SiteSettings

    def list_keypairs(self) -> list[KeyPair]:
        """The user's key pairs, by name."""
        return sorted(self._gateway.list_keypairs(), key=lambda k: k.name)

    def import_keypair(self, name: str, public_key: str) -> KeyPair:
        """Import an OpenSSH public key (never a private key: refused without echoing it).

        Raises:
            UserInputError: The name breaks Nova's rule, or the key is no public key line.
            ConflictError: The user has a key pair of that name (the message says whether it
                holds this very key, e.g. after an import whose answer was lost).
            CloudUnavailableError: Nova failed, or did not answer and the key pair did not
                appear within :data:`LANDING_WINDOW_S` seconds.
        """
        return self._import(name, public_key, reuse=False)[0]

    def import_or_find_keypair(self, name: str, public_key: str) -> tuple[KeyPair, bool]:
        """:meth:`import_keypair`, or the user's key pair ``name`` when it holds this very key
        already (imported before, e.g. by a run whose answer was lost): ``(pair, reused)``.

        Raises:
            ConflictError: The name holds another key (or Nova was busy).
            UserInputError, CloudUnavailableError: As :meth:`import_keypair`.
        """
        return self._import(name, public_key, reuse=True)

    def _import(self, name: str, public_key: str, *, reuse: bool) -> tuple[KeyPair, bool]:
        """Import the key, or with ``reuse`` find it imported already: ``(pair, reused)``."""
        clean_name = check_name(NameKind.KEYPAIR, name)
        key = check_public_key(public_key)
        held = self._taken(clean_name, key, reuse=reuse)  # (signs in, too)
        if held is not None:
            return held, True
        try:
            return self._gateway.import_keypair(clean_name, key), False
        except ConflictError as refused:
            held = self._taken(clean_name, key, reuse=reuse, cause=refused)
            if held is not None:
                return held, True
            raise  # Nova was busy: there is no key pair of that name
        except CloudUnavailableError as lost:
            if lost.status is not None and lost.status not in (502, 504):
                raise  # refused, not lost: nothing was made
            landed = self._await_key(clean_name, key)
            if landed is not None:
                return landed, False  # this very import, its answer lost
            raise CloudUnavailableError(
                f"{self._site.name} did not answer the import of key pair {clean_name!r} "
                f"({lost}). Nova may still be importing it: run 'keypair list' in a minute "
                "before importing it again.",
                site=self._site.name,
                action=f"import key pair {clean_name!r}",
                status=lost.status,
            ) from lost

    def _taken(
        self, name: str, key: str, *, reuse: bool, cause: Exception | None = None
    ) -> KeyPair | None:
        """The user's key pair ``name`` when ``reuse`` and it holds this very key; None when
        there is none. Else ConflictError, saying whether it holds this very key (imported
        already, e.g. by an import whose answer was lost)."""
        holder = self._holder(name)
        if holder is None:
            return None
        same = holder.sha256_fingerprint == sha256_fingerprint(key)
        if same and reuse:
            return holder
        raise ConflictError(
            f"{self._site.name} already has a key pair {name!r} "
            + (
                "with this very key: it is imported already ('keypair list' shows it)."
                if same
                else "with another key: choose another name, or delete that one first."
            ),
            site=self._site.name,
            action=f"import key pair {name!r}",
            status=409,
        ) from cause

    def _holder(self, name: str) -> KeyPair | None:
        """The user's key pair ``name``, or None."""
        return next((pair for pair in self._gateway.list_keypairs() if pair.name == name), None)

    def _same_key(self, name: str, public_key: str) -> KeyPair | None:
        """The user's key pair ``name`` if it holds ``public_key``, else None."""
        pair = self._holder(name)
        if pair is not None and pair.sha256_fingerprint == sha256_fingerprint(public_key):
            return pair
        return None

    def _await_key(self, name: str, public_key: str) -> KeyPair | None:
        """Look for an import whose answer was lost, for :data:`LANDING_WINDOW_S` seconds."""
        deadline = time.monotonic() + LANDING_WINDOW_S
        tick = threading.Event()  # never set: waits between looks without a bare sleep
        interval = 0.25
        while True:
            with contextlib.suppress(CloudUnavailableError):
                found = self._same_key(name, public_key)
                if found is not None:
                    return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            tick.wait(min(interval, remaining))
            interval = min(2.0, interval * 1.5)

    def delete_keypair(self, name: str) -> None:
        """Delete the user's key pair ``name``.

        Raises:
            NotFoundError: There is no key pair of that name.
        """
        try:
            self._gateway.delete_keypair(name)
        except NotFoundError:
            raise NotFoundError(
                f"{self._site.name} has no key pair {name!r} (keypair list shows yours).",
                site=self._site.name,
                action=f"delete key pair {name!r}",
                status=404,
            ) from None

    def generate_keypair(
        self, name: str, *, private_key_path: str | os.PathLike[str], overwrite: bool = False
    ) -> GeneratedKeyPair:
        """Make an Ed25519 key pair here, write it to disk and import its public key.

        The private key goes to ``private_key_path`` (mode 0600), the public key beside it as
        ``.pub``. If Nova refuses the import, both files are removed again.

        Raises:
            UserInputError: Bad name, or the files exist (and not ``overwrite``) or cannot be
                written.
            ConflictError: The user already has a key pair of that name.
        """
        from denbi_jupyter.connect.keys import generate_ed25519

        clean_name = check_name(NameKind.KEYPAIR, name)
        if any(pair.name == clean_name for pair in self._gateway.list_keypairs()):
            raise ConflictError(
                f"{self._site.name} already has a key pair {clean_name!r}: choose another name "
                "or delete that one first.",
                site=self._site.name,
                action=f"generate key pair {clean_name!r}",
                status=409,
            )
        files = generate_ed25519(Path(private_key_path), comment=clean_name, overwrite=overwrite)
        try:
            pair = self._gateway.import_keypair(clean_name, files.public_line)
        except BaseException:
            for path in (files.private_path, files.public_path):
                with contextlib.suppress(OSError):
                    path.unlink()
            raise
        _log.info("Imported the generated key pair %r on %s", clean_name, self._site.name)
        return GeneratedKeyPair(
            name=pair.name,
            fingerprint=pair.fingerprint,
            sha256_fingerprint=files.fingerprint,
            private_key_path=files.private_path,
            public_key_path=files.public_path,
        )
