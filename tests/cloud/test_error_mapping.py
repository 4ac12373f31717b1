"""Every openstacksdk / keystoneauth exception we can meet maps to our tree, with a safe message."""

from __future__ import annotations

import inspect
from typing import Any

import keystoneauth1.exceptions as ks_exc
import pytest
import requests
from openstack import exceptions as os_exc

from denbi_jupyter import errors
from denbi_jupyter.cloud._openstack import map_error

#: openstacksdk's non-HTTP exceptions and what each must become.
SDK_EXPECTED: dict[str, type[errors.DenbiError]] = {
    "SDKException": errors.CloudUnavailableError,
    "EndpointNotFound": errors.CloudUnavailableError,
    "InvalidResponse": errors.CloudUnavailableError,
    "InvalidRequest": errors.UserInputError,
    "MethodNotSupported": errors.UserInputError,
    "DuplicateResource": errors.UserInputError,
    "ResourceTimeout": errors.OperationFailedError,
    "ResourceFailure": errors.CloudUnavailableError,
    "InvalidResourceQuery": errors.UserInputError,
    "ConfigException": errors.UserInputError,
    "NotSupported": errors.CloudUnavailableError,
    "ValidationException": errors.UserInputError,
    "ServiceDisabledException": errors.UserInputError,
    "ServiceDiscoveryException": errors.CloudUnavailableError,
}
#: openstacksdk's HTTP exceptions (mapped by status; the class fixes the status for most).
SDK_HTTP = {
    "HttpException": 500,
    "BadRequestException": 400,
    "NotFoundException": 404,
    "ForbiddenException": 403,
    "ConflictException": 409,
    "PreconditionFailedException": 412,
}
KS_EXPECTED_NON_HTTP: dict[str, type[errors.DenbiError]] = {
    "ClientException": errors.CloudUnavailableError,
    "ConnectionError": errors.CloudUnavailableError,
    "ConnectFailure": errors.CloudUnavailableError,
    "ConnectTimeout": errors.CloudUnavailableError,
    "SSLError": errors.CloudUnavailableError,
    "UnknownConnectionError": errors.CloudUnavailableError,
    "RetriableConnectionFailure": errors.CloudUnavailableError,
    "CatalogException": errors.CloudUnavailableError,
    "EndpointNotFound": errors.CloudUnavailableError,
    "EmptyCatalog": errors.CloudUnavailableError,
    "DiscoveryFailure": errors.CloudUnavailableError,
    "VersionNotAvailable": errors.CloudUnavailableError,
    "ImpliedVersionMismatch": errors.CloudUnavailableError,
    "ImpliedMinVersionMismatch": errors.CloudUnavailableError,
    "ImpliedMaxVersionMismatch": errors.CloudUnavailableError,
    "ServiceProviderNotFound": errors.CloudUnavailableError,
    "InvalidResponse": errors.CloudUnavailableError,
    "AuthPluginException": errors.AuthenticationError,
    "AuthorizationFailure": errors.AuthenticationError,
    "MissingAuthMethods": errors.AuthenticationError,
    "MissingAuthPlugin": errors.AuthenticationError,
    "NoMatchingPlugin": errors.AuthenticationError,
    "OptionError": errors.AuthenticationError,
    "MissingRequiredOptions": errors.AuthenticationError,
    "UnsupportedParameters": errors.AuthenticationError,
    "InvalidDiscoveryEndpoint": errors.AuthenticationError,
    "InvalidOidcDiscoveryDocument": errors.AuthenticationError,
    "OidcAccessTokenEndpointNotFound": errors.AuthenticationError,
    "OidcAuthorizationEndpointNotFound": errors.AuthenticationError,
    "OidcInvalidCodeChallengeMethod": errors.AuthenticationError,
    "OidcPluginNotSupported": errors.AuthenticationError,
}

STATUS_EXPECTED: dict[int, type[errors.DenbiError]] = {
    400: errors.UserInputError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    405: errors.UserInputError,
    406: errors.CloudUnavailableError,
    409: errors.ConflictError,
    410: errors.NotFoundError,
    412: errors.ConflictError,
    413: errors.QuotaExceededError,
    415: errors.UserInputError,
    429: errors.CloudUnavailableError,
    500: errors.CloudUnavailableError,
    501: errors.CloudUnavailableError,
    502: errors.CloudUnavailableError,
    503: errors.CloudUnavailableError,
    504: errors.CloudUnavailableError,
}


def _exception_classes(module: Any) -> dict[str, type[BaseException]]:
    return {
        name: value
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__.startswith(module.__name__.split(".")[0])
    }


def _response(
    status: int, body: str = "", url: str = "http://cloud/v2/images"
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body.encode()
    response.headers["Content-Type"] = "application/json"
    response.url = url
    response.request = requests.Request("GET", url).prepare()
    return response


def _bare(cls: type[BaseException]) -> BaseException:
    """An instance without running a constructor that needs special arguments."""
    exc = cls.__new__(cls)
    Exception.__init__(exc, "boom")
    exc.message = "boom"  # type: ignore[attr-defined]
    return exc


def _sdk_http(cls: type[os_exc.HttpException], status: int, details: str = "") -> BaseException:
    return cls(message="x", response=_response(status), details=details)


def test_every_openstack_exception_class_has_a_decided_mapping() -> None:
    classes = _exception_classes(os_exc).values()
    found = {cls.__name__ for cls in classes if issubclass(cls, os_exc.SDKException)}
    assert found == set(SDK_EXPECTED) | set(SDK_HTTP), (
        "a new openstacksdk exception needs a decision"
    )


#: Every exception of openstacksdk and keystoneauth without an HTTP status, and its error.
_NON_HTTP = [
    pytest.param(getattr(module, name), expected, id=f"{module.__name__}.{name}")
    for module, decided in ((os_exc, SDK_EXPECTED), (ks_exc, KS_EXPECTED_NON_HTTP))
    for name, expected in sorted(decided.items())
]


@pytest.mark.parametrize(("cls", "expected"), _NON_HTTP)
def test_non_http_exceptions_map_to_the_decided_error(
    cls: type[BaseException], expected: type[errors.DenbiError]
) -> None:
    mapped = map_error(_bare(cls), site="bielefeld", action="list images")
    assert type(mapped) is expected


@pytest.mark.parametrize(("name", "status"), sorted(SDK_HTTP.items()))
def test_openstack_http_exceptions_map_by_their_status(name: str, status: int) -> None:
    mapped = map_error(_sdk_http(getattr(os_exc, name), status), site="s", action="list images")
    assert type(mapped) is STATUS_EXPECTED[status]


@pytest.mark.parametrize(("status", "expected"), sorted(STATUS_EXPECTED.items()))
def test_each_http_status_maps_to_its_error(status: int, expected: type[errors.DenbiError]) -> None:
    mapped = map_error(_sdk_http(os_exc.HttpException, status), site="s", action="delete image 1")
    assert type(mapped) is expected


@pytest.mark.parametrize(
    "message",
    [
        "Quota exceeded for cores: Requested 4, but already used 20 of 20 cores",
        "Quota exceeded, too many key pairs.",
        "Maximum number of instances exceeded",
    ],
)
def test_forbidden_about_quota_is_a_quota_error(message: str) -> None:
    exc = _sdk_http(os_exc.ForbiddenException, 403, details=message)
    mapped = map_error(exc, site="bielefeld", action="boot server 'vm'")
    assert isinstance(mapped, errors.QuotaExceededError)
    assert "quota" in str(mapped).lower()


def test_every_keystoneauth_exception_class_has_a_decided_mapping() -> None:
    classes = _exception_classes(ks_exc)
    http = {name for name, cls in classes.items() if issubclass(cls, ks_exc.HttpError)}
    assert set(classes) - http == set(KS_EXPECTED_NON_HTTP), "new keystoneauth exception"
    for name in sorted(http):
        cls: Any = classes[name]
        status = cls.http_status or 500
        mapped = map_error(cls(message="m", http_status=status), site="s", action="list images")
        expected = STATUS_EXPECTED.get(status) or (
            errors.UserInputError if status < 500 else errors.CloudUnavailableError
        )
        assert type(mapped) is expected, name


def test_wrong_password_says_to_check_clouds_yaml() -> None:
    exc = ks_exc.Unauthorized(message="The request you have made requires authentication.")
    mapped = map_error(exc, site="bielefeld", action="authenticate")
    assert isinstance(mapped, errors.AuthenticationError)
    assert "clouds.yaml" in str(mapped)
    assert "bielefeld" in str(mapped)


def test_requests_connection_errors_are_cloud_unavailable() -> None:
    for exc in (requests.ConnectionError("refused"), requests.Timeout("slow")):
        mapped = map_error(exc, site="heidelberg", action="list images")
        assert isinstance(mapped, errors.CloudUnavailableError)
        assert "try again" in str(mapped)


def test_messages_drop_html_query_strings_and_token_like_strings() -> None:
    token = "gAAAAA" + "x" * 180
    details = (
        "Invalid marker<br /><br />\n\n\n see http://cloud:9292/v2/images?marker=abc&"
        f"token={token} and X-Auth-Token: {token}"
    )
    mapped = map_error(
        _sdk_http(os_exc.BadRequestException, 400, details=details),
        site="bielefeld",
        action="list snapshots",
    )
    text = str(mapped)
    assert token not in text
    assert "?marker" not in text
    assert "<br" not in text
    assert "Invalid marker" in text
    assert "http://cloud:9292/v2/images" in text


def test_our_own_errors_pass_through_unchanged() -> None:
    error = errors.ConflictError("busy")
    assert map_error(error, site="s", action="a") is error


def test_http_errors_carry_site_action_and_status() -> None:
    mapped = map_error(
        _sdk_http(os_exc.ConflictException, 409), site="bielefeld", action="delete image 1"
    )
    assert (mapped.site, mapped.action, mapped.status) == ("bielefeld", "delete image 1", 409)
    ks_mapped = map_error(ks_exc.Unauthorized(message="no"), site="s", action="authenticate")
    assert (ks_mapped.site, ks_mapped.action, ks_mapped.status) == ("s", "authenticate", 401)


def test_errors_without_an_answer_carry_site_and_action_but_no_status() -> None:
    mapped = map_error(requests.ConnectionError("refused"), site="heidelberg", action="list images")
    assert (mapped.site, mapped.action, mapped.status) == ("heidelberg", "list images", None)


def test_every_table_entry_is_one_of_our_types_and_formats() -> None:
    from denbi_jupyter.cloud._openstack_errors import ERRORS, make_error

    for key, (kind, _) in ERRORS.items():
        error = make_error(key, site="s", action="do it", detail="why", status=499)
        assert type(error) is kind, key
        assert "{" not in str(error), key
        assert error.site == "s"


def test_operation_failed_is_not_caught_as_cloud_unavailable() -> None:
    mapped = map_error(_bare(os_exc.ResourceTimeout), site="s", action="wait for image 1")
    assert isinstance(mapped, errors.OperationFailedError)
    assert not isinstance(mapped, errors.CloudUnavailableError)
