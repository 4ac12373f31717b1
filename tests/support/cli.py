"""Running ``denbi_jupyter.cli.main`` in-process and keeping what it printed."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from denbi_jupyter.cli import main


@dataclass
class Result:
    """What one command did."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli_runner(capsys: pytest.CaptureFixture[str], seen: list[str]) -> Callable[..., Result]:
    """A function that runs ``main(argv)``, appending its stdout and stderr to ``seen``.

    An exit by argparse (it refuses the arguments) is returned as the result's code.
    """

    def run(*argv: str) -> Result:
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse refuses the arguments
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        seen.extend([captured.out, captured.err])
        return Result(code, captured.out, captured.err)

    return run
