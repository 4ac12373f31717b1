"""SSH ports from a site's port formula over a VM's private IPv4 address.

de.NBI sites forward one gateway port per VM, computed from the VM's private address, e.g.
``30000 + 256*oct3 + oct4`` or ``30000 + oct4``. The formula is site configuration, so it is
parsed with :mod:`ast` and evaluated by a small interpreter that knows only integer literals,
the names ``oct1`` .. ``oct4``, ``+ - * // %``, unary minus and parentheses. Nothing is ever
passed to ``eval``.
"""

from __future__ import annotations

import ast
import ipaddress
from dataclasses import dataclass, field

from denbi_jupyter.errors import UserInputError

__all__ = ["PortFormula", "ssh_port"]

_OCTET_NAMES = ("oct1", "oct2", "oct3", "oct4")
_MAX_FORMULA_CHARS = 200
_MAX_LITERAL = 2**32
_MAX_DEPTH = 32
_ALLOWED = "integers, oct1..oct4, + - * // %, and parentheses"

_BINARY_OPERATORS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.FloorDiv: "//",
    ast.Mod: "%",
}


def _bad(formula: str, why: str) -> UserInputError:
    return UserInputError(
        f"SSH port formula {formula!r} is not valid: {why}. Allowed are {_ALLOWED}, "
        "e.g. '30000 + 256*oct3 + oct4'."
    )


def _check(node: ast.AST, formula: str, depth: int) -> None:
    """Reject every node that is not part of the tiny port-formula language."""
    if depth > _MAX_DEPTH:
        raise _bad(formula, "it is nested too deeply")
    if isinstance(node, ast.Constant):
        if type(node.value) is not int:
            raise _bad(formula, f"{node.value!r} is not an integer")
        if node.value > _MAX_LITERAL:
            raise _bad(formula, f"the number {node.value} is too large")
        return
    if isinstance(node, ast.Name):
        if node.id not in _OCTET_NAMES:
            raise _bad(formula, f"unknown name {node.id!r}")
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY_OPERATORS:
            raise _bad(formula, f"operator {type(node.op).__name__} is not allowed")
        _check(node.left, formula, depth + 1)
        _check(node.right, formula, depth + 1)
        return
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise _bad(formula, f"operator {type(node.op).__name__} is not allowed")
        _check(node.operand, formula, depth + 1)
        return
    raise _bad(formula, f"{type(node).__name__} expressions are not allowed")


def _evaluate(node: ast.expr, octets: dict[str, int], formula: str) -> int:
    if isinstance(node, ast.Constant):
        value = node.value
        assert type(value) is int  # guaranteed by _check
        return value
    if isinstance(node, ast.Name):
        return octets[node.id]
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, octets, formula)
        return -operand if isinstance(node.op, ast.USub) else operand
    assert isinstance(node, ast.BinOp)  # guaranteed by _check
    left = _evaluate(node.left, octets, formula)
    right = _evaluate(node.right, octets, formula)
    if isinstance(node.op, ast.Add):
        return left + right
    if isinstance(node.op, ast.Sub):
        return left - right
    if isinstance(node.op, ast.Mult):
        return left * right
    if right == 0:
        raise _bad(formula, "it divides by zero for this address")
    if isinstance(node.op, ast.FloorDiv):
        return left // right
    return left % right


def _octets(address: str | ipaddress.IPv4Address) -> dict[str, int]:
    if isinstance(address, ipaddress.IPv4Address):
        parsed = address
    else:
        text = str(address).strip()
        try:
            parsed = ipaddress.IPv4Address(text)
        except ValueError:
            raise UserInputError(
                f"{text!r} is not an IPv4 address; the port formula needs the VM's private "
                "IPv4 address, e.g. '192.168.1.23'."
            ) from None
    return dict(zip(_OCTET_NAMES, parsed.packed, strict=True))


@dataclass(frozen=True, slots=True)
class PortFormula:
    """A validated port formula; build it with :meth:`parse`.

    Attributes:
        text: The formula as configured for the site.
    """

    text: str
    _tree: ast.Expression = field(repr=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> PortFormula:
        """Parse and validate a formula such as ``"30000 + 256*oct3 + oct4"``.

        Raises:
            UserInputError: The formula is empty, too long, not valid syntax, or uses anything
                beyond integers, ``oct1``..``oct4``, ``+ - * // %`` and parentheses.
        """
        if not isinstance(text, str) or not text.strip():
            raise _bad(str(text), "it is empty")
        if len(text) > _MAX_FORMULA_CHARS:
            raise _bad(text[:40] + "...", f"it is longer than {_MAX_FORMULA_CHARS} characters")
        if not text.isascii():
            raise _bad(text, "it contains characters other than ASCII")
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except (SyntaxError, ValueError):  # ValueError: a NUL character
            raise _bad(text, "it is not a valid expression") from None
        _check(tree.body, text, 0)
        return cls(text=text, _tree=tree)

    def port_for(self, address: str | ipaddress.IPv4Address) -> int:
        """Compute the SSH port for a VM's private IPv4 address.

        Raises:
            UserInputError: The address is not IPv4, or the result is outside 1..65535.
        """
        value = _evaluate(self._tree.body, _octets(address), self.text)
        if not 1 <= value <= 65535:
            raise UserInputError(
                f"SSH port formula {self.text!r} gives {value} for {address}, which is not a "
                "TCP port (1..65535). Check the site's port formula."
            )
        return value


def ssh_port(formula: str, address: str | ipaddress.IPv4Address) -> int:
    """Compute the SSH port for ``address`` from a site's port formula.

    Args:
        formula: The site's formula, e.g. ``"30000 + 256*oct3 + oct4"``.
        address: The VM's private IPv4 address.

    Raises:
        UserInputError: The formula or the address is invalid, or the port is out of range.
    """
    return PortFormula.parse(formula).port_for(address)
