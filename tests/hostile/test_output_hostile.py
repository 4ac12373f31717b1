"""CLI tables: no cell text adds a line or a terminal escape sequence."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from denbi_jupyter.cli._output import table, visible
from tests.hostile._budget import examples
from tests.hostile.test_names_hostile import HOSTILE_TEXT


@settings(max_examples=examples(60))
@given(text=st.one_of(HOSTILE_TEXT, st.text(alphabet=st.characters(), max_size=80)))
@example(text="\x1b]0;owned\x07")
@example(text="\ud800")  # a lone surrogate (JSON from the cloud can carry one)
@example(text="row\nforged  row")
def test_visible_text_is_printable_and_keeps_printable_text(text: str) -> None:
    shown = visible(text)
    assert shown.isprintable()
    assert len(shown.splitlines() or [""]) == 1
    if text.isprintable():
        assert shown == text


@settings(max_examples=examples(40))
@given(
    rows=st.lists(
        st.lists(st.one_of(HOSTILE_TEXT, st.none(), st.integers()), min_size=3, max_size=3),
        max_size=6,
    ),
)
@example(rows=[["a\nb", "\x1b[31mred", None]])
def test_a_table_has_one_line_per_row_and_no_control_characters(
    rows: list[list[object]],
) -> None:
    text = table(["NAME", "ID", "STATUS"], rows)
    lines = text.split("\n")
    if not rows:
        assert text == "(nothing found)"
        return
    assert len(lines) == len(rows) + 2
    assert (text + "\n").splitlines() == lines  # no \v, \f, \x1c-\x1e, \x85, \u2028 inside a line
    assert all(line.isprintable() for line in lines)
