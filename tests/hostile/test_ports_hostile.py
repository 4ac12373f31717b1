"""The site's port formula: any text and any address end in a port or a clear error."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from denbi_jupyter.connect.ports import PortFormula, ssh_port
from denbi_jupyter.errors import UserInputError
from tests.hostile._budget import examples

_OCTETS = ("oct1", "oct2", "oct3", "oct4")
_FORMULA_TOKENS = st.sampled_from(list("0123456789 +-*/%()_xXeEj.,;:=<>!~&|^@'\"\\\n\t\0#")) | (
    st.sampled_from([*_OCTETS, "**", "//", "lambda", "__import__", "\ud800", "１", "²"])
)
_FORMULAS = st.lists(_FORMULA_TOKENS, max_size=40).map("".join)
_ADDRESS_TEXT = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.text(max_size=20),
)


@st.composite
def _expressions(draw: st.DrawFn, depth: int = 0) -> tuple[str, object]:
    """A formula in the allowed language and a tree to compute it by hand."""
    if depth > 4 or draw(st.booleans()):
        if draw(st.booleans()):
            name = draw(st.sampled_from(_OCTETS))
            return name, name
        number = draw(st.integers(0, 70000))
        return str(number), number
    op = draw(st.sampled_from(["+", "-", "*", "//", "%"]))
    left_text, left = draw(_expressions(depth + 1))
    right_text, right = draw(_expressions(depth + 1))
    return f"({left_text} {op} {right_text})", (op, left, right)


def _compute(tree: object, octets: dict[str, int]) -> int | None:
    """The formula's value, or None when it divides by zero."""
    if isinstance(tree, int):
        return tree
    if isinstance(tree, str):
        return octets[tree]
    assert isinstance(tree, tuple)
    op, left_tree, right_tree = tree
    left, right = _compute(left_tree, octets), _compute(right_tree, octets)
    if left is None or right is None:
        return None
    if op in ("//", "%") and right == 0:
        return None
    return {
        "+": lambda: left + right,
        "-": lambda: left - right,
        "*": lambda: left * right,
        "//": lambda: left // right,
        "%": lambda: left % right,
    }[op]()


@settings(max_examples=examples(80))
@given(
    formula=st.one_of(_FORMULAS, st.text(max_size=250)),
    address=_ADDRESS_TEXT,
)
@example(formula="\ud800", address="10.0.0.1")  # a lone surrogate crashed the parser's encoder
@example(formula="1\x00", address="10.0.0.1")
@example(formula="(" * 99 + "1" + ")" * 99, address="10.0.0.1")
@example(formula="-" * 150 + "1", address="10.0.0.1")
@example(formula="30000 + oct４", address="10.0.0.1")  # a full-width digit is not ASCII
def test_any_formula_and_address_give_a_port_or_a_clear_error(formula: str, address: str) -> None:
    try:
        port = ssh_port(formula, address)
    except UserInputError as error:
        assert str(error)
        return
    assert 1 <= port <= 65535


@settings(max_examples=examples(80))
@given(expression=_expressions(), address=st.ip_addresses(v=4))
@example(
    expression=("(30000 + (256 * oct3)) + oct4", None), address=ipaddress.IPv4Address("10.0.1.2")
)
def test_a_valid_formula_computes_exactly_or_says_the_port_is_out_of_range(
    expression: tuple[str, object], address: ipaddress.IPv4Address
) -> None:
    text, tree = expression
    if tree is None:  # the hand-written example: its value is known
        assert ssh_port(text, address) == 30000 + 256 * 1 + 2
        return
    octets = dict(zip(_OCTETS, address.packed, strict=True))
    expected = _compute(tree, octets)
    if len(text) > 200:
        with pytest.raises(UserInputError, match="longer than 200"):
            PortFormula.parse(text)
        return
    formula = PortFormula.parse(text)
    if expected is None:
        with pytest.raises(UserInputError, match="divides by zero"):
            formula.port_for(address)
    elif 1 <= expected <= 65535:
        assert formula.port_for(address) == expected
        assert formula.port_for(str(address)) == expected
    else:
        with pytest.raises(UserInputError, match="not a TCP port"):
            formula.port_for(address)
