"""Hostile-input properties: hypothesis profiles and the real files they mutate.

Profiles (chosen with ``DENBI_HYPOTHESIS_PROFILE``): ``ci`` (the default, part of
``make test``: a few dozen examples per property, the whole folder in about a minute) and
``fuzz`` (``make fuzz``: 100 times as many, over 100,000 examples in all). Both have no
deadline (two shared cores are slow at random) and keep hypothesis's example database in the
system's temporary folder, never in the repository.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from tests.hostile._budget import profile_name
from tests.support.puttygen import PUTTYGEN

_DATABASE = DirectoryBasedExampleDatabase(
    Path(tempfile.gettempdir()) / "denbi-jupyter-hypothesis" / "examples"
)
_COMMON = settings(
    deadline=None,
    database=_DATABASE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("ci", parent=_COMMON, max_examples=40)
settings.register_profile("fuzz", parent=_COMMON, max_examples=4000)
settings.load_profile(profile_name())

#: puttygen arguments of the keys the PPK properties mutate (Argon2 made cheap: 8 KiB, 1 pass).
_PPK_SPECS = {
    "ed25519-v3-enc": ["-t", "ed25519", "--ppk-param", "version=3,memory=8,passes=1"],
    "ed25519-v3-plain": ["-t", "ed25519", "--ppk-param", "version=3"],
    "ecdsa256-v2-enc": ["-t", "ecdsa", "-b", "256", "--ppk-param", "version=2"],
    "rsa1024-v2-plain": ["-t", "rsa", "-b", "1024", "--ppk-param", "version=2"],
    "ecdsa384-v3-plain": ["-t", "ecdsa", "-b", "384", "--ppk-param", "version=3"],
}
#: The passphrase of the ``-enc`` keys.
PPK_PASSPHRASE = "hostile pass"


@pytest.fixture(scope="session")
def real_ppks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A few real PPK files made by puttygen (v2 and v3, plain and encrypted), by name."""
    if PUTTYGEN is None:
        pytest.skip("puttygen (Debian package putty-tools) is not installed")
    folder = tmp_path_factory.mktemp("hostile-ppk")
    secret = folder / "passphrase"
    secret.write_text(PPK_PASSPHRASE, encoding="utf-8")
    empty = folder / "empty"
    empty.write_bytes(b"")
    files: dict[str, bytes] = {}
    for name, args in _PPK_SPECS.items():
        out = folder / f"{name}.ppk"
        phrase = secret if name.endswith("-enc") else empty
        subprocess.run(
            [PUTTYGEN, *args, "-C", f"{name} comment", "-q", "--new-passphrase", phrase, "-o", out],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=True,
            timeout=120,
        )
        files[name] = out.read_bytes()
    return files
