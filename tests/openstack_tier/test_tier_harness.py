"""Command lines, SQL, setup bookkeeping, clouds.yaml and the always-stop guarantee."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from openstack_tier import install, nova_launch, services
from openstack_tier.backing import database_grants_sql
from openstack_tier.configs import TierConfig
from openstack_tier.fixtures import CLOUD_NAME, clouds_yaml, write_clouds_yaml
from openstack_tier.readiness import compute_ready_sql, service_fresh_sql
from openstack_tier.services import SetupStep, run_setup
from openstack_tier.tier import with_stop


def test_apis_run_under_uwsgi_with_connection_close(config: TierConfig) -> None:
    argv = services.uwsgi_argv(config, "glance", "glance.wsgi.api:application", 9292)
    assert argv[argv.index("--http-socket") + 1] == "127.0.0.1:9292"
    assert argv[argv.index("--add-header") + 1] == "Connection: close"
    assert "--die-on-term" in argv
    assert argv[argv.index("--home") + 1] == str(config.paths.venv)


def test_keystone_starts_first_and_nova_compute_last(config: TierConfig) -> None:
    names = [spec.name for spec in services.service_specs(config)]
    assert names[0] == "keystone"
    assert names[-1] == "nova-compute"
    assert {"glance", "placement", "neutron", "nova-api", "nova-conductor"} <= set(names)
    compute = services.service_specs(config)[-1]
    assert compute.argv[1:4] == ("-m", "openstack_tier.nova_launch", "compute")


def test_no_password_is_passed_on_a_command_line(config: TierConfig) -> None:
    secrets = {"adm-pw", "svc-pw", "db-pw", "user-pw"}
    steps = [step for chain in services.setup_chains(config).values() for step in chain]
    for argv in [*(s.argv for s in steps), *(s.argv for s in services.service_specs(config))]:
        assert not secrets & set(argv)
    bootstrap = next(step for step in steps if step.name == "keystone-bootstrap")
    assert bootstrap.env["OS_BOOTSTRAP_PASSWORD"] == "adm-pw"


def test_setup_chains_run_nova_first_and_cover_every_database(config: TierConfig) -> None:
    chains = services.setup_chains(config)
    assert next(iter(chains)) == "nova"
    names = [step.name for chain in chains.values() for step in chain]
    for wanted in ("keystone-db", "keystone-bootstrap", "glance-db", "placement-db", "nova-db"):
        assert wanted in names
    assert names.index("nova-api-db") < names.index("nova-cell0") < names.index("nova-cell1")


def test_setup_runs_each_step_once_per_pins(config: TierConfig, tmp_path: Path) -> None:
    config.paths.logs.mkdir(parents=True)
    counter = tmp_path / "count"
    step = SetupStep("count", ("sh", "-c", f"echo x >> {counter}"))
    exists = SetupStep("exists", ("false",), creates=tmp_path)
    assert run_setup(config, {"a": [step, exists]}) == ["count"]
    assert run_setup(config, {"a": [step, exists]}) == []
    assert counter.read_text() == "x\n"


def test_a_failing_setup_step_names_its_log(config: TierConfig) -> None:
    config.paths.logs.mkdir(parents=True)
    with pytest.raises(RuntimeError, match=r"setup-broken\.log"):
        run_setup(config, {"a": [SetupStep("broken", ("false",))]})
    accepted = SetupStep("exists-already", ("sh", "-c", "exit 2"), ok_codes=(0, 2))
    assert run_setup(config, {"a": [accepted]}) == ["exists-already"]


def test_database_sql_is_idempotent_and_quotes_the_password() -> None:
    sql = database_grants_sql("it's")
    assert "CREATE DATABASE IF NOT EXISTS nova_cell0" in sql
    assert "CREATE USER IF NOT EXISTS 'openstack'@'127.0.0.1' IDENTIFIED BY 'it''s';" in sql
    assert sql.count("GRANT ALL PRIVILEGES") == 6


def test_readiness_sql_checks_heartbeat_since_launch() -> None:
    sql = service_fresh_sql("nova-compute", "h'1", "2026-11-27 07:00:00")
    assert "`binary` = 'nova-compute'" in sql
    assert "host = 'h''1'" in sql
    assert "COALESCE(updated_at, created_at) >= '2026-11-27 07:00:00'" in sql
    assert compute_ready_sql("h", "t").count("SELECT COUNT(*)") == 3


def test_clouds_yaml_has_the_real_entry_with_denbi_settings(config: TierConfig) -> None:
    clouds = clouds_yaml(config)["clouds"]
    entry = clouds[CLOUD_NAME]
    assert entry["auth"]["username"] == "denbi-user"
    assert entry["auth"]["auth_url"] == "http://127.0.0.1:5000/v3"
    assert entry["denbi"]["ssh_port_formula"] == "30000 + 256*oct3 + oct4"
    assert {"gateway_host", "guacamole_base_url"} <= set(entry["denbi"])
    projects = {cloud["auth"]["project_name"] for cloud in clouds.values()}
    assert len(projects) == 2


def test_clouds_yaml_file_is_private(config: TierConfig, tmp_path: Path) -> None:
    path = write_clouds_yaml(config, tmp_path / "clouds.yaml")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert yaml.safe_load(path.read_text())["clouds"][CLOUD_NAME]["auth"]["password"] == "user-pw"


class _FakeTable:
    stop_seconds: ClassVar[dict[str, float]] = {"x": 0.5}


class _FakeTier:
    table = _FakeTable()

    def __init__(self) -> None:
        self.downs = 0

    def rss(self) -> tuple[int, int]:
        return (3, 2048)

    def down(self) -> list[str]:
        self.downs += 1
        return ["x"]


def test_everything_is_stopped_even_when_the_body_fails(capsys: pytest.CaptureFixture[str]) -> None:
    tier = _FakeTier()

    def failing() -> int:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        with_stop(tier, failing)  # type: ignore[arg-type]
    assert with_stop(tier, lambda: 7) == 7  # type: ignore[arg-type]
    assert tier.downs == 2
    out = capsys.readouterr().out
    assert "3 processes" in out
    assert "slowest stops: x 0.5 s" in out


def test_launcher_refuses_unknown_binaries_before_importing_nova() -> None:
    with pytest.raises(SystemExit, match="usage"):
        nova_launch.main(["nova_launch", "api"])


def test_missing_debian_packages_are_found_by_their_files(tmp_path: Path) -> None:
    present = tmp_path / "there"
    present.touch()
    probes = {"here": str(present), "gone": str(tmp_path / "absent")}
    assert install.missing_apt_packages(probes) == ["gone"]
