"""Names we create (VMs, snapshots, key pairs): any text ends in a usable name or a clear error."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from denbi_jupyter.cloud.rules.names import NAME_MAX, NameKind, check_name, name_problem
from denbi_jupyter.errors import UserInputError
from tests.hostile._budget import examples

#: Text as people and scripts type it, with the characters that break tables and files.
HOSTILE_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from("\n\r\0\t\x1b\x7f\x85\u2028\u2029\u202e\u200b=\"' ;,#%@[]"),
    ),
    max_size=400,
)


def _one_line_of_printable_text(name: str) -> bool:
    return not any(
        unicodedata.category(ch).startswith("C") or unicodedata.category(ch) in ("Zl", "Zp")
        for ch in name
    )


@pytest.mark.parametrize("kind", list(NameKind))
@settings(max_examples=examples(60))
@given(name=HOSTILE_TEXT)
@example(name="analysis\nvm")  # a newline forged a table row before names refused it
@example(name="snap\x00shot")
@example(name="vm\x1b[2J")
@example(name="evil\u202etxt.exe")
@example(name=" " * 20)
@example(name="x" * 300)
@example(name='name=value "quoted"')
def test_any_name_is_refused_clearly_or_accepted_as_one_printable_line(
    kind: NameKind, name: str
) -> None:
    problem = name_problem(kind, name)
    if problem:
        with pytest.raises(UserInputError) as caught:
            check_name(kind, name)
        assert str(caught.value) == problem
        assert problem.isprintable(), "the message itself must not carry the bad character"
        return
    accepted = check_name(kind, name)
    assert accepted == name.strip() and 1 <= len(accepted) <= NAME_MAX
    assert _one_line_of_printable_text(accepted)


@pytest.mark.parametrize("kind", list(NameKind))
@pytest.mark.parametrize("bad", ["\n", "\r", "\0", "\x1b", "\x7f", "\x85", "\u2028", "\u202e"])
def test_a_control_character_inside_a_name_is_refused(kind: NameKind, bad: str) -> None:
    with pytest.raises(UserInputError, match="control or format character"):
        check_name(kind, f"my{bad}name")
