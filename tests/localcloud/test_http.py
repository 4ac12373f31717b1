"""The shared body reading, error rendering and route marking of the local cloud's services."""

from __future__ import annotations

import json

import pytest

from denbi_jupyter.localcloud.http import MALFORMED_BODY, parse_json, route, routes_of
from denbi_jupyter.localcloud.responses import ApiError, Service, render_error


@pytest.mark.parametrize(("service", "message"), sorted(MALFORMED_BODY.items()))
@pytest.mark.parametrize("raw", [b"", b"{", b"\xff"])
def test_a_body_that_is_not_json_is_a_400_in_the_services_words(
    service: Service, message: str, raw: bytes
) -> None:
    with pytest.raises(ApiError) as caught:
        parse_json(raw, service)
    assert (caught.value.status, caught.value.message) == (400, message)


@pytest.mark.parametrize(
    ("service", "body"),
    [
        ("identity", {"error": {"code": 404, "message": "gone", "title": "Not Found"}}),
        ("compute", {"itemNotFound": {"code": 404, "message": "gone"}}),
        ("network", {"NeutronError": {"type": "HTTPNotFound", "message": "gone", "detail": ""}}),
        (
            "image",
            {"message": "gone<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found"},
        ),
    ],
)
def test_one_error_renders_in_each_services_shape(service: Service, body: object) -> None:
    response = render_error(service, ApiError(404, "gone", headers={"X-Extra": "1"}))
    assert json.loads(bytes(response.body)) == body
    assert response.headers["X-Extra"] == "1"


@pytest.mark.parametrize("service", ["compute", "network"])
def test_a_401_behind_keystonemiddleware_has_keystones_shape(service: Service) -> None:
    response = render_error(service, ApiError(401, "no token", kind="unauthorized"))
    assert json.loads(bytes(response.body))["error"]["title"] == "Unauthorized"


def test_marked_routes_come_out_bound_in_the_order_written() -> None:
    class Base:
        @route("GET", "/things")
        def list_things(self) -> str:
            return "list"

    class Things(Base):
        @route("GET", "/things/detail")
        def detail(self) -> str:
            return "detail"

        @route("GET", "/things/{thing_id}")
        @route("GET", "/things/{thing_id}.json")
        def show(self) -> str:
            return "show"

    routes = routes_of(Things())
    assert [(method, path) for method, path, _ in routes] == [
        ("GET", "/things"),
        ("GET", "/things/detail"),
        ("GET", "/things/{thing_id}"),
        ("GET", "/things/{thing_id}.json"),
    ]
    assert [endpoint() for _, _, endpoint in routes] == ["list", "detail", "show", "show"]
