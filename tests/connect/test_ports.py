"""SSH ports from a site's formula, evaluated without eval."""

from __future__ import annotations

import builtins
import ipaddress

import pytest

from denbi_jupyter.connect import PortFormula, ssh_port
from denbi_jupyter.errors import UserInputError


@pytest.mark.parametrize(
    ("formula", "address", "port"),
    [
        ("30000 + 256*oct3 + oct4", "192.168.2.7", 30000 + 512 + 7),
        ("30000 + 256*oct3 + oct4", "10.0.0.1", 30001),
        ("30000 + oct4", "192.168.1.23", 30023),
        ("30000 + oct4", "172.16.5.254", 30254),
        (
            "(oct1 - 10) * 1000 + oct2 % 7 + oct3 // 2 + -oct4 + +5",
            "12.9.8.1",
            2000 + 2 + 4 - 1 + 5,
        ),
    ],
)
def test_formula_gives_the_port_for_an_address(formula: str, address: str, port: int) -> None:
    assert ssh_port(formula, address) == port


def test_parsed_formula_is_reused_for_many_addresses() -> None:
    formula = PortFormula.parse("30000 + 256*oct3 + oct4")
    ports = [formula.port_for(f"192.168.{third}.{fourth}") for third, fourth in [(0, 2), (1, 2)]]
    assert ports == [30002, 30258]
    assert formula.port_for(ipaddress.IPv4Address("192.168.0.3")) == 30003


def test_formula_is_never_handed_to_eval_or_exec(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*_: object, **__: object) -> None:
        raise AssertionError("eval/exec must not be used")

    for name in ("eval", "exec"):
        monkeypatch.setattr(builtins, name, forbidden)
    assert ssh_port("30000 + oct4", "10.1.2.3") == 30003


@pytest.mark.parametrize(
    "formula",
    [
        "__import__('os').system('true')",
        "oct4.__class__",
        "oct1.real",
        "abs(oct4)",
        "open('/etc/passwd')",
        "(lambda: 1)()",
        "[oct1][0]",
        "oct5 + 1",
        "x + 30000",
        "2 ** 16",
        "1 << 10",
        "30000 / 2",
        "oct1 if oct2 else oct3",
        "oct1 < oct2",
        "'30000'",
        "True + 30000",
        "30000.5",
        "30000 + oct4; 1",
        "30000 +",
        "",
        "   ",
        "1" * 300,
    ],
)
def test_anything_beyond_integer_arithmetic_on_octets_is_rejected(formula: str) -> None:
    with pytest.raises(UserInputError, match="not valid"):
        PortFormula.parse(formula)


@pytest.mark.parametrize("formula", ["99999999999999999999 + oct4", "4294967297 * oct4"])
def test_huge_numbers_are_rejected(formula: str) -> None:
    with pytest.raises(UserInputError, match="too large"):
        PortFormula.parse(formula)


def test_deeply_nested_formula_is_rejected() -> None:
    with pytest.raises(UserInputError, match="nested too deeply"):
        PortFormula.parse("(" * 40 + "oct4" + "+1)" * 40)


@pytest.mark.parametrize(
    ("formula", "address"),
    [
        ("70000 + oct4", "10.0.0.1"),
        ("oct4 - 300", "10.0.0.1"),
        ("0 * oct4", "10.0.0.9"),
        ("4294967296 * 4294967296 * oct4", "10.0.0.1"),
    ],
)
def test_result_outside_the_tcp_port_range_is_rejected(formula: str, address: str) -> None:
    with pytest.raises(UserInputError, match=r"1\.\.65535"):
        ssh_port(formula, address)


def test_division_by_zero_is_a_user_error() -> None:
    with pytest.raises(UserInputError, match="divides by zero"):
        ssh_port("30000 + 1 // (oct4 - oct4)", "10.0.0.1")


@pytest.mark.parametrize(
    "address", ["::1", "fe80::1", "example.org", "10.0.0.256", "10.0.0.1/24", "10.0.0", ""]
)
def test_non_ipv4_address_is_rejected(address: str) -> None:
    with pytest.raises(UserInputError, match="IPv4"):
        ssh_port("30000 + oct4", address)


def test_surrounding_whitespace_in_address_is_ignored() -> None:
    assert ssh_port("30000 + oct4", " 10.0.0.8\n") == 30008


def test_formula_repr_shows_the_text() -> None:
    assert repr(PortFormula.parse("30000 + oct4")) == "PortFormula(text='30000 + oct4')"
