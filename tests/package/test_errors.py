"""The error tree and how the command line reports each kind."""

from __future__ import annotations

import pytest

from denbi_jupyter import errors
from denbi_jupyter.cli import EXIT_CODES, _exit_code


def test_every_error_derives_from_the_root() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.DenbiError)


def test_operation_failed_is_a_cloud_unavailable_error() -> None:
    assert issubclass(errors.OperationFailedError, errors.CloudUnavailableError)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.UserInputError("bad"), 2),
        (errors.NotFoundError("gone"), 3),
        (errors.ConflictError("busy"), 4),
        (errors.QuotaExceededError("full"), 5),
        (errors.AuthenticationError("who"), 6),
        (errors.PermissionDeniedError("no"), 7),
        (errors.OperationFailedError("killed"), 8),
        (errors.DenbiError("other"), 1),
    ],
)
def test_each_error_kind_has_its_own_exit_code(error: errors.DenbiError, code: int) -> None:
    assert _exit_code(error) == code


def test_exit_codes_are_distinct() -> None:
    assert len(set(EXIT_CODES.values())) == len(EXIT_CODES)
