"""A start the busy Prefect API refused (HTTP 503 on the create) is tried again; nothing else is.

Pure unit tests of :mod:`denbi_jupyter.jobs._busy` with Prefect's own exception type built from
real ``httpx`` requests and responses; ``make load`` drives it for real (fifty flows at once).
"""

from __future__ import annotations

import threading

import httpx
import pytest
from prefect.exceptions import PrefectHTTPStatusError

from denbi_jupyter.jobs import _busy
from denbi_jupyter.jobs._busy import busy_answer, refused_create, start_while_busy

API = "http://127.0.0.1:4200/api"


def _answer(method: str, path: str, status: int) -> PrefectHTTPStatusError:
    request = httpx.Request(method, f"{API}{path}")
    response = httpx.Response(status, request=request, json={"exception_message": "x"})
    try:
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        return PrefectHTTPStatusError.from_httpx_error(exc)
    raise AssertionError(f"{status} did not raise")


@pytest.fixture(autouse=True)
def no_back_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The back-off's waits return at once (its event is set)."""
    woken = threading.Event()
    woken.set()
    monkeypatch.setattr(_busy, "_RETRY_WAKE", woken)


class _Flaky:
    """Fails with ``errors`` in turn, then returns ``"run"``; counts its calls."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "run"


@pytest.mark.parametrize(
    ("method", "path", "refused"),
    [
        ("POST", "/flow_runs/", True),
        ("POST", "/deployments/7780d191-534d-4d3f-bdc5-e92b4786545e/create_flow_run", True),
        ("POST", "/flow_runs/7780d191-534d-4d3f-bdc5-e92b4786545e/set_state", False),
        ("GET", "/flow_runs/7780d191-534d-4d3f-bdc5-e92b4786545e", False),
        ("POST", "/logs/", False),
    ],
)
def test_only_a_refused_create_counts_as_nothing_ran(method: str, path: str, refused: bool) -> None:
    assert refused_create(_answer(method, path, 503)) is refused
    assert busy_answer(_answer(method, path, 503))
    assert not refused_create(_answer(method, path, 500))
    assert not busy_answer(_answer(method, path, 500))


def test_a_refused_create_is_started_again_until_it_is_made() -> None:
    start = _Flaky(*(_answer("POST", "/flow_runs/", 503) for _ in range(3)))
    assert start_while_busy(start) == "run"
    assert start.calls == 4


def test_a_busy_answer_after_the_run_was_made_is_raised_at_once() -> None:
    late = _answer("POST", "/flow_runs/7780d191-534d-4d3f-bdc5-e92b4786545e/set_state", 503)
    start = _Flaky(late)
    with pytest.raises(PrefectHTTPStatusError) as raised:
        start_while_busy(start)
    assert raised.value is late and start.calls == 1


def test_another_failure_is_raised_at_once() -> None:
    start = _Flaky(ValueError("a bad parameter"))
    with pytest.raises(ValueError, match="a bad parameter"):
        start_while_busy(start)
    assert start.calls == 1


def test_the_last_refusal_is_raised_once_the_window_has_passed() -> None:
    refusals = [_answer("POST", "/flow_runs/", 503) for _ in range(5)]
    start = _Flaky(*refusals)
    with pytest.raises(PrefectHTTPStatusError) as raised:
        start_while_busy(start, window_s=0.0)
    assert raised.value is refusals[0] and start.calls == 1


def test_a_deployment_start_may_retry_any_busy_answer() -> None:
    start = _Flaky(_answer("GET", "/deployments/name/create-snapshot/create-snapshot", 503))
    assert start_while_busy(start, retryable=busy_answer) == "run"
    assert start.calls == 2
