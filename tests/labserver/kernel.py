"""Run code in a kernel of a real lab through its REST API and kernel websocket."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from denbi_jupyter.lab import LabSession
from tests.labserver.conftest import call


def run_in_new_kernel(session: LabSession, code: str, *, timeout_s: float = 120.0) -> str:
    """Start a kernel, run ``code``, return its stdout; the kernel is shut down afterwards.

    Raises:
        AssertionError: The code raised (its traceback is in the message).
    """
    kernel = call(session, "api/kernels", method="POST", body={"name": "python3"})
    try:
        return asyncio.run(asyncio.wait_for(_execute(session, kernel["id"], code), timeout_s))
    finally:
        call(session, f"api/kernels/{kernel['id']}", method="DELETE")


async def _execute(session: LabSession, kernel_id: str, code: str) -> str:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    ws_url = session.url.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels"
    request = HTTPRequest(ws_url, headers={"Authorization": f"token {session.token}"})
    connection = await websocket_connect(request)
    msg_id = uuid.uuid4().hex
    connection.write_message(json.dumps(_execute_request(msg_id, code)))
    out: list[str] = []
    try:
        while True:
            raw = await connection.read_message()
            assert raw is not None, "the kernel websocket closed"
            message: dict[str, Any] = json.loads(raw)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream" and content["name"] == "stdout":
                out.append(content["text"])
            elif kind == "error":
                raise AssertionError("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(out)
    finally:
        connection.close()


def _execute_request(msg_id: str, code: str) -> dict[str, Any]:
    return {
        "header": {
            "msg_id": msg_id,
            "username": "test",
            "session": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {
            "code": code,
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
        },
        "channel": "shell",
        "buffers": [],
    }
