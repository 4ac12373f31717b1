"""Checks of a caller's port and timeout, shared by the connection kit's functions."""

from __future__ import annotations

from denbi_jupyter.errors import UserInputError

__all__ = ["check_port", "check_timeout"]


def check_port(port: int) -> int:
    """``port`` when it is a TCP port (an ``int`` from 1 to 65535).

    Raises:
        UserInputError: It is not.
    """
    if type(port) is not int or not 1 <= port <= 65535:
        raise UserInputError(f"{port!r} is not a TCP port; give a number from 1 to 65535.")
    return port


def check_timeout(timeout: float, *, maximum: float, what: str) -> float:
    """``timeout`` when it is more than 0 and at most ``maximum`` seconds.

    Raises:
        UserInputError: It is out of that range; the message starts with ``what``
            (``"Probe timeout"``).
    """
    if not 0 < timeout <= maximum:
        raise UserInputError(
            f"{what} {timeout!r} s is out of range; use more than 0 and at most {maximum:g} s."
        )
    return timeout
