"""The error tree and how the command line reports each kind."""

from __future__ import annotations

import pickle

import cloudpickle  # type: ignore[import-untyped]
import pytest

from denbi_jupyter import errors
from denbi_jupyter.cli import EXIT_CODES
from denbi_jupyter.cli._output import exit_code


def test_every_error_derives_from_the_root() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.DenbiError)


def test_operation_failed_is_not_a_cloud_unavailable_error() -> None:
    assert errors.OperationFailedError.__bases__ == (errors.DenbiError,)
    assert not issubclass(errors.OperationFailedError, errors.CloudUnavailableError)


def test_context_is_keyword_only_and_defaults_to_none() -> None:
    plain = errors.ConflictError("busy")
    assert (plain.site, plain.action, plain.status) == (None, None, None)
    error = errors.ConflictError("busy", site="bielefeld", action="delete image 1", status=409)
    assert (error.site, error.action, error.status) == ("bielefeld", "delete image 1", 409)
    assert str(error) == "busy"
    assert error.args == ("busy",)


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps])
@pytest.mark.parametrize("name", sorted(errors.__all__))
def test_every_error_survives_pickling_with_its_context(name: str, dumps: object) -> None:
    kind = getattr(errors, name)
    error = kind("it broke", site="heidelberg", action="snapshot server 7", status=503)
    copy = pickle.loads(dumps(error))  # type: ignore[operator]
    assert type(copy) is kind
    assert str(copy) == "it broke"
    assert (copy.site, copy.action, copy.status) == ("heidelberg", "snapshot server 7", 503)


def test_a_subclass_of_ours_pickles_with_its_context() -> None:
    from denbi_jupyter.connect import WrongPassphraseError

    copy = pickle.loads(pickle.dumps(WrongPassphraseError("nope", action="open key")))
    assert type(copy) is WrongPassphraseError
    assert (str(copy), copy.action, copy.site) == ("nope", "open key", None)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.UserInputError("bad"), 2),
        (errors.NotFoundError("gone"), 3),
        (errors.ConflictError("busy"), 4),
        (errors.QuotaExceededError("full"), 5),
        (errors.AuthenticationError("who"), 6),
        (errors.PermissionDeniedError("no"), 7),
        (errors.DenbiError("other"), 1),
    ],
)
def test_each_error_kind_has_its_ownexit_code(error: errors.DenbiError, code: int) -> None:
    assert exit_code(error) == code


def test_operation_failed_has_a_specificexit_code() -> None:
    # No longer inherited from CloudUnavailableError (8): the CLI must name it in EXIT_CODES.
    assert exit_code(errors.OperationFailedError("killed")) not in (0, 1)


def test_exit_codes_are_distinct() -> None:
    assert len(set(EXIT_CODES.values())) == len(EXIT_CODES)
