"""How many examples a property tries: small in ``make test``, large in ``make fuzz``."""

from __future__ import annotations

import os

#: The environment variable that picks the profile (``ci`` by default, ``fuzz`` for make fuzz).
PROFILE_VARIABLE = "DENBI_HYPOTHESIS_PROFILE"
#: How many times more examples each property tries in the fuzz profile.
FUZZ_FACTOR = 100


def profile_name() -> str:
    """``fuzz`` when asked for in the environment, else ``ci``."""
    return "fuzz" if os.environ.get(PROFILE_VARIABLE, "").strip() == "fuzz" else "ci"


def examples(ci: int) -> int:
    """The ``max_examples`` of a property that tries ``ci`` examples in the short profile."""
    return ci * FUZZ_FACTOR if profile_name() == "fuzz" else ci
