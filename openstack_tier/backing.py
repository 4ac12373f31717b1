"""MariaDB and RabbitMQ as plain daemons on 127.0.0.1 with their state in the run folder.

Debian's policy forbids `service start` in containers, so both run directly: `mariadbd` on a
datadir made by `mariadb-install-db`, and RabbitMQ (with our own `epmd`, so that no daemonised
epmd outlives the tier) as user `rabbitmq` when we are root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from openstack_tier.configs import DATABASES, DB_USER, TierConfig
from openstack_tier.procs import ProcessTable
from openstack_tier.waiting import wait_for_port

__all__ = [
    "RABBIT_USER",
    "create_databases",
    "database_grants_sql",
    "mysql_argv",
    "mysql_query",
    "start_mysql",
    "start_rabbitmq",
]

RABBIT_USER = "rabbitmq"
_RABBIT_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def mysql_argv(config: TierConfig) -> list[str]:
    """The `mariadbd` command line: loopback only, small buffers, durability traded for speed."""
    paths, ports = config.paths, config.ports
    mysql_dir = paths.run / "mysql"
    argv = [
        "/usr/sbin/mariadbd",
        "--no-defaults",
        f"--datadir={paths.mysql_data}",
        f"--socket={paths.mysql_socket}",
        f"--port={ports.mysql}",
        f"--bind-address={config.host}",
        f"--pid-file={mysql_dir / 'mariadbd.pid'}",
        f"--log-error={paths.logs / 'mariadb.log'}",
        "--skip-name-resolve",
        "--skip-log-bin",
        "--innodb-buffer-pool-size=96M",
        "--innodb-flush-log-at-trx-commit=0",
        "--innodb-doublewrite=0",
        "--max-connections=400",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_general_ci",
    ]
    if os.geteuid() == 0:
        argv.append("--user=root")
    return argv


def _init_datadir(config: TierConfig) -> bool:
    """Makes an empty datadir unless one is there; True if it made one."""
    data = config.paths.mysql_data
    if (data / "mysql").is_dir():
        return False
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    argv = [
        "mariadb-install-db",
        "--no-defaults",
        f"--datadir={data}",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
    ]
    if os.geteuid() == 0:
        argv.append("--user=root")
    log = config.paths.logs / "mariadb-install-db.log"
    with log.open("ab") as out:
        subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=True)
    return True


def start_mysql(config: TierConfig, table: ProcessTable) -> bool:
    """Initialises the datadir on first use, then starts `mariadbd` unless it runs.

    Returns True if the datadir is new (every database step must run again).
    """
    config.paths.logs.mkdir(parents=True, exist_ok=True)
    fresh = _init_datadir(config)
    if not table.running("mariadb"):
        table.start("mariadb", mysql_argv(config), log=config.paths.logs / "mariadb.out")
    return fresh


def wait_mysql(config: TierConfig, timeout: float = 60.0) -> None:
    wait_for_port(config.host, config.ports.mysql, timeout=timeout, what="MariaDB")


def mysql_query(config: TierConfig, sql: str) -> str:
    """Runs SQL as the database root over the Unix socket (SQL on stdin, never in argv)."""
    done = subprocess.run(
        ["mariadb", "--no-defaults", f"--socket={config.paths.mysql_socket}", "-uroot", "-N", "-B"],
        input=sql,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"SQL failed: {done.stderr.strip()}")
    return done.stdout


def database_grants_sql(password: str, host: str = "127.0.0.1") -> str:
    """Idempotent SQL: every database, and one user owning them all."""
    account = f"{_sql_string(DB_USER)}@{_sql_string(host)}"
    lines = [
        f"CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;"
        for name in DATABASES
    ]
    lines.append(f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {_sql_string(password)};")
    lines.append(f"ALTER USER {account} IDENTIFIED BY {_sql_string(password)};")
    lines.extend(f"GRANT ALL PRIVILEGES ON {name}.* TO {account};" for name in DATABASES)
    lines.append("FLUSH PRIVILEGES;")
    return "\n".join(lines) + "\n"


def create_databases(config: TierConfig) -> None:
    mysql_query(config, database_grants_sql(config.secrets.database, config.host))


def _chown_tree(root: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for folder, dirs, files in os.walk(root):
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(folder, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def start_rabbitmq(config: TierConfig, table: ProcessTable) -> None:
    """Starts our own epmd and a private RabbitMQ node, as user `rabbitmq` when root."""
    base = config.paths.rabbit
    for sub in ("home", "mnesia", "log"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    user = RABBIT_USER if os.geteuid() == 0 else None
    if user:
        _chown_tree(base, user)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    env.update(config.rabbitmq_env())
    logs = config.paths.logs
    if not table.running("epmd"):
        argv = ["epmd", "-port", str(config.ports.epmd), "-address", config.host]
        table.start("epmd", argv, log=logs / "epmd.log", env=env, cwd=base, user=user)
    if not table.running("rabbitmq"):
        table.start(
            "rabbitmq", [_RABBIT_SERVER], log=logs / "rabbitmq.log", env=env, cwd=base, user=user
        )


def wait_rabbitmq(config: TierConfig, timeout: float = 90.0) -> None:
    wait_for_port(config.host, config.ports.amqp, timeout=timeout, what="RabbitMQ")
