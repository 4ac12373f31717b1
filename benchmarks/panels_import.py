"""How long ``import denbi_jupyter`` takes in a fresh interpreter (target < 0.5 s).

Run: ``.venv/bin/python benchmarks/panels_import.py`` (a few seconds). Each figure is the
median of several fresh interpreters, measured in this run beside its baseline:

* baseline: a fresh interpreter that imports nothing (``python -c pass``);
* ``import denbi_jupyter`` (cheap by design: widgets, Prefect and openstacksdk load lazily);
* ``from denbi_jupyter.panels import CloudPanel`` (what the notebook's panel cell imports,
  ipywidgets included; for information).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 7
TARGET_S = 0.5


def fresh(code: str) -> float:
    """Median wall time of a fresh interpreter running ``code``."""
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    baseline = fresh("pass")
    package = fresh("import denbi_jupyter")
    panels = fresh("from denbi_jupyter.panels import CloudPanel")
    print(f"fresh interpreter (baseline)               {baseline * 1000:7.0f} ms")
    print(
        f"import denbi_jupyter                        {package * 1000:7.0f} ms "
        f"(+{(package - baseline) * 1000:.0f} ms over baseline; target < {TARGET_S * 1000:.0f} ms)"
    )
    print(
        f"from denbi_jupyter.panels import CloudPanel {panels * 1000:7.0f} ms "
        f"(+{(panels - baseline) * 1000:.0f} ms, ipywidgets included)"
    )
    ok = package - baseline < TARGET_S
    print("import time:", "OK" if ok else "OVER TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
