"""Fault matrix: importing a key pair under each fault (the cloud layer the CLI's ``keypair
import`` calls, a fresh client per run, real HTTP to the local cloud).

Each cell imports a public key under a name of its own. It must end with the key pair, or
one clear failure naming the cause, within the bound; there is never more than one key pair
of the name (counted with plain openstacksdk) and it holds this key; the bystander key pair
lives on; and the same import again without faults (``keypair import``'s
``import_or_find_keypair``) either imports it (after a failure) or finds it (reused).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from denbi_jupyter.cloud import open_site
from denbi_jupyter.cloud._keypairs import sha256_fingerprint
from denbi_jupyter.cloud.types import KeyPair
from denbi_jupyter.errors import DenbiError
from tests.reliability._cells import Matrix, judge, run_bounded
from tests.reliability.conftest import MatrixCell
from tests.reliability.faultset import Scenario, scenarios_for
from tests.support.keys import ed25519_public_line

FLOW = "key import"
SITE = "bielefeld"
RUN = f"mx-key-{uuid.uuid4().hex[:6]}"
CREATE = r"/os-keypairs$"
#: The longest one import may take under a fault (a lost answer: the landing window, 15 s).
BOUND_S = 60.0
_NUMBERS = itertools.count()
SCENARIOS = scenarios_for(FLOW)


def _pairs(matrix: Matrix, name: str) -> list[Any]:
    with matrix.sdk(SITE) as conn:
        return [pair for pair in conn.compute.keypairs() if pair.name == name]


@pytest.fixture(scope="module")
def bystander(matrix: Matrix) -> Iterator[str]:
    """A key pair no cell may touch."""
    name = f"{RUN}-bystander"
    matrix.client(SITE).import_keypair(name, ed25519_public_line(name))
    yield name
    matrix.client(SITE).delete_keypair(name)


def _import(matrix: Matrix, name: str, key: str) -> tuple[KeyPair, bool] | DenbiError:
    """What ``keypair import`` does: open the site (a fresh client), import or find it."""
    return run_bounded(
        lambda: open_site(SITE, config_file=matrix.clouds_yaml).import_or_find_keypair(name, key),
        within=BOUND_S,
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_a_key_import_under_a_fault_ends_with_one_key_pair_or_fails_clearly(
    matrix_env: Matrix, matrix_cell: MatrixCell, bystander: str, scenario: Scenario
) -> None:
    name = f"{RUN}-{next(_NUMBERS)}"
    key = ed25519_public_line(name)
    try:
        with matrix_cell(FLOW, scenario.name) as cell:
            matrix_env.inject(scenario.rules_for(SITE, create=CREATE))
            first = _import(matrix_env, name, key)
            assert matrix_env.settle(cell) > 0, "the fault never fired"
            judge(first, scenario.outcome(FLOW))
            assert len(_pairs(matrix_env, name)) <= 1
            assert len(_pairs(matrix_env, bystander)) == 1, "the bystander key pair is gone"
            again = _import(matrix_env, name, key)
            assert isinstance(again, tuple), again  # imported now, or found
            if isinstance(first, tuple):
                assert again[1] is True and again[0].name == first[0].name, again
            (pair,) = _pairs(matrix_env, name)
            assert sha256_fingerprint(pair.public_key) == sha256_fingerprint(key)
    finally:
        for pair in _pairs(matrix_env, name):
            matrix_env.client(SITE).delete_keypair(pair.name)
