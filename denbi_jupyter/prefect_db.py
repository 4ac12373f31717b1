"""An empty, migrated Prefect database to start new Prefect homes from.

The first start of a Prefect server on a new ``PREFECT_HOME`` spends most of its time (about
20 of 30 s on 2 cores) migrating an empty SQLite database. ``denbi-jupyter prefect prepare``
(run by ``make setup``; for a JupyterHub image, at build time) migrates one empty database per
Prefect version into the user's cache; :func:`seed_database` copies it into a new home before
its server starts, so a new user's lab, the demo and a fresh command start in half the time.
Without the template everything works as before: the server migrates its database itself.

The template holds nothing but Prefect's schema: it is made by ``prefect server database
upgrade`` in a folder of its own, never copied from a server that ran anything.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path

__all__ = ["DATABASE_NAME", "prepare_template", "seed_database", "template_path"]

#: The SQLite file of a Prefect home (Prefect's default database location).
DATABASE_NAME = "prefect.db"
#: Settings that point Prefect at another database: a home is then not seeded.
_DATABASE_SETTINGS = (
    "PREFECT_SERVER_DATABASE_CONNECTION_URL",
    "PREFECT_API_DATABASE_CONNECTION_URL",
)
_MIGRATE_TIMEOUT_S = 600


def template_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/denbi-jupyter/prefect-db/prefect-<version>.db`` (``~/.cache``)."""
    env = os.environ if environ is None else environ
    cache = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".cache")
    return Path(cache) / "denbi-jupyter" / "prefect-db" / f"prefect-{version('prefect')}.db"


def prepare_template() -> tuple[Path, bool]:
    """Make the template unless it exists; ``(its path, whether it was made now)``.

    Raises:
        RuntimeError: ``prefect server database upgrade`` failed (its last output line).
    """
    from denbi_jupyter.prefect_server import PrefectLaunch, prefect_command  # (it imports this)

    target = template_path()
    if target.is_file():
        return target, False
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".making-") as scratch:
        env = PrefectLaunch(home=Path(scratch), port=0).environment(os.environ)
        for name in _DATABASE_SETTINGS:
            env.pop(name, None)
        done = subprocess.run(
            [str(prefect_command()), "server", "database", "upgrade", "-y"],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_MIGRATE_TIMEOUT_S,
            check=False,
        )
        made = Path(scratch) / DATABASE_NAME
        if done.returncode != 0 or not made.is_file():
            last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
            raise RuntimeError(f"prefect server database upgrade failed: {last}")
        os.replace(made, target)  # whole or not at all; a concurrent maker writes the same
    return target, True


def seed_database(
    home: Path, environ: Mapping[str, str] | None = None, *, name: str = DATABASE_NAME
) -> bool:
    """Copy the template into ``home`` (as ``name``) when it has no database yet; whether it did.

    Nothing happens when ``home`` already has a database, no template exists, or the
    environment points Prefect at another database.
    """
    env = os.environ if environ is None else environ
    database = home / name
    template = template_path(env)
    elsewhere = any(env.get(name) for name in _DATABASE_SETTINGS)
    if elsewhere or database.exists() or not template.is_file():
        return False
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=home, prefix=".seed-", delete=False) as scratch:
        partial = Path(scratch.name)
    try:
        shutil.copyfile(template, partial)
        os.chmod(partial, 0o600)
        os.link(partial, database)  # never over a database another process just made
    except OSError:  # it did (or no hard links here): the server migrates its own
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return True
