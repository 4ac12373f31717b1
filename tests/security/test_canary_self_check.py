"""The search itself finds a secret in every kind of place it claims to search.

A separate canary string is planted in a log record, a widget, a file, a Prefect run's log
(the database) and an exception, and searched for the same way as the real canaries; every
place kind must report a hit. The real canaries are not involved, so their sweeps stay clean.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import ipywidgets as w
import pytest

from tests.security.canary import Canaries, LogSink, exception_text
from tests.security.conftest import CanaryCloud, search_everywhere
from tests.support.sdk import sdk_connection

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_a_planted_secret_is_found_in_every_kind_of_place(
    log_sink: LogSink, tmp_path: Path
) -> None:
    from prefect import flow, get_run_logger

    plant = f"CANARY-plant-{secrets.token_hex(12)}"
    found = Canaries()
    found.add("plant", plant)

    @flow(name="canary-self-check")
    def leaky() -> None:
        get_run_logger().info("leaking %s", plant)

    leaky()
    logging.getLogger("denbi_jupyter.selfcheck").debug("a record with %s", plant)
    widget = w.HTML(value=f"<b>{plant}</b>")
    (tmp_path / "written.txt").write_text(plant)
    held = tmp_path / "holder"
    held.write_text(plant)
    held.chmod(0o644)
    found.hold(held)  # a holder is not searched, but must be 0600
    try:
        raise RuntimeError("outer") from ValueError(plant)
    except RuntimeError as error:
        text = exception_text(error)
    try:
        search_everywhere(found, [("exception", text)], logs=list(log_sink.texts), files=tmp_path)
    finally:
        widget.close()
    kinds = {place.split(" ", 1)[0] for _label, place in found.hits}
    assert {"exception", "prefect", "log", "widget", "file"} <= kinds, found.hits
    assert ("mode 0o644 of a secret holder", str(held)) in found.hits
    assert not any(place == f"file {held}" for _label, place in found.hits)


def test_the_token_watch_sees_the_token_a_plain_sdk_connection_gets(
    canary_cloud: CanaryCloud, canaries: Canaries
) -> None:
    with sdk_connection(canary_cloud.clouds_yaml, "bielefeld") as connection:
        token = connection.session.get_token()
    assert token in canary_cloud.tokens.tokens()
    canaries.add("sdk token", token)
