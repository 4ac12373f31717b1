"""A subcommand that runs one flow: to its end here, or with ``--no-wait`` in the background.

Its options are the flow's parameters (same names, unless ``renamed``), so the detached child
is started with the same options, read back from the parsed arguments.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from denbi_jupyter.cli._progress import run_flow_and_report, start_detached
from denbi_jupyter.cloud.rules.names import NameKind, name_problem
from denbi_jupyter.errors import UserInputError
from denbi_jupyter.jobs import FlowRef

__all__ = ["FlowCommand"]


def _replay(args: argparse.Namespace, options: Sequence[str]) -> list[str]:
    """The command-line words that set ``options`` (dest names) as they are set in ``args``.

    A true flag is ``--flag``; an option that is unset, false or empty is left out. A value is
    joined to its flag (``--name=-backup``), so one that starts with ``-`` stays a value.
    """
    words: list[str] = []
    for option in options:
        value = getattr(args, option)
        flag = "--" + option.replace("_", "-")
        if value is True:
            words.append(flag)
        elif value is not None and value is not False and value != "":
            words.append(f"{flag}={value:g}" if isinstance(value, float) else f"{flag}={value}")
    return words


@dataclass(frozen=True, slots=True)
class FlowCommand:
    """How a subcommand runs its flow.

    Attributes:
        words: The subcommand, e.g. ``("snapshot", "create")``; the first names the log file.
        flow: The flow it runs.
        options: The options (``argparse`` dest names) that are the flow's parameters.
        started: What ``--no-wait`` says it started; ``{name}`` is the ``--name`` given.
        hint: How to wait for what was started.
        renamed: The flow parameter of each option whose name differs.
        names: What ``--name`` names (its rules are checked before detaching).
    """

    words: tuple[str, ...]
    flow: FlowRef
    options: tuple[str, ...]
    started: str
    hint: str
    renamed: Mapping[str, str] = field(default_factory=dict)
    #: What ``--name`` names, checked by the name rules before ``--no-wait`` detaches.
    names: NameKind | None = None

    def run(
        self, args: argparse.Namespace, site: str, *, title: str, describe: Callable[[Any], None]
    ) -> int:
        """Run the flow on ``site`` and report its result, or start it detached (``--no-wait``)."""
        if args.no_wait:
            problem = name_problem(self.names, args.name) if self.names is not None else ""
            if problem:  # the detached run would refuse it where nobody reads it
                raise UserInputError(problem)
            return start_detached(
                [*self.words, "--site", site, *_replay(args, self.options), "--json"],
                name=self.words[0],
                what=self.started.format(name=args.name),
                hint=self.hint,
                as_json=args.json,
            )
        parameters = {
            self.renamed.get(option, option): getattr(args, option) for option in self.options
        }
        return run_flow_and_report(
            self.flow.resolve(),
            title=title,
            as_json=args.json,
            describe=describe,
            site=site,
            **parameters,
        )
