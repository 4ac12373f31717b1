"""Rendering of the services' configuration files."""

from __future__ import annotations

import configparser
import stat
from pathlib import Path

from openstack_tier.configs import COMPUTE_DRIVER, DATABASES, TierConfig, render_ini
from openstack_tier.settings import Ports


def parse(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def test_render_ini_keeps_order_and_writes_booleans_in_lowercase() -> None:
    text = render_ini({"DEFAULT": {"debug": False, "workers": 1}, "api": {"auth": "keystone"}})
    assert text == "[DEFAULT]\ndebug = false\nworkers = 1\n\n[api]\nauth = keystone\n"


def test_every_service_uses_mariadb_with_pymysql_and_utf8mb4(config: TierConfig) -> None:
    keystone = parse(config.keystone_conf())["database"]["connection"]
    glance = parse(config.glance_api_conf())["database"]["connection"]
    placement = parse(config.placement_conf())["placement_database"]["connection"]
    nova = parse(config.nova_conf())
    for url, database in (
        (keystone, "keystone"),
        (glance, "glance"),
        (placement, "placement"),
        (nova["api_database"]["connection"], "nova_api"),
        (nova["database"]["connection"], "nova"),
    ):
        assert url == f"mysql+pymysql://openstack:db-pw@127.0.0.1:13306/{database}?charset=utf8mb4"
        assert database in DATABASES
    # map_cell0 derives the cell0 database by appending _cell0 to the cell database name
    assert "nova_cell0" in DATABASES


def test_keystone_uses_fernet_tokens_with_keys_in_the_run_folder(config: TierConfig) -> None:
    conf = parse(config.keystone_conf())
    assert conf["token"]["provider"] == "fernet"
    assert conf["fernet_tokens"]["key_repository"].startswith(str(config.paths.run))
    assert conf["credential"]["key_repository"].startswith(str(config.paths.run))


def test_glance_has_file_backend_and_reserved_stores(config: TierConfig) -> None:
    conf = parse(config.glance_api_conf())
    assert conf["DEFAULT"]["enabled_backends"] == "fs:file"
    assert conf["glance_store"]["default_backend"] == "fs"
    dirs = {
        conf[s]["filesystem_store_datadir"]
        for s in ("fs", "os_glance_staging_store", "os_glance_tasks_store")
    }
    assert len(dirs) == 3
    assert all(d.startswith(str(config.paths.run)) for d in dirs)
    assert conf["paste_deploy"]["flavor"] == "keystone"


def test_nova_discovers_hosts_quickly_and_loads_our_driver(config: TierConfig) -> None:
    conf = parse(config.nova_conf())
    assert conf["DEFAULT"]["periodic_fuzzy_delay"] == "0"
    assert conf["scheduler"]["discover_hosts_in_cells_interval"] == "2"
    assert conf["DEFAULT"]["compute_driver"] == COMPUTE_DRIVER
    assert conf["DEFAULT"]["transport_url"] == "rabbit://guest:guest@127.0.0.1:15673/"
    assert conf["service_user"]["send_service_user_token"] == "true"
    for section in ("keystone_authtoken", "placement", "neutron", "service_user"):
        assert conf[section]["auth_url"] == "http://127.0.0.1:5000/v3"
        assert conf[section]["password"] == "svc-pw"


def test_catalog_lists_image_compute_placement_and_network(config: TierConfig) -> None:
    endpoints = config.endpoints()
    assert {kind for kind, _ in endpoints.values()} == {"image", "compute", "placement", "network"}
    assert endpoints["nova"][1] == "http://127.0.0.1:8774/v2.1"
    assert endpoints["neutron"][1] == "http://127.0.0.1:9696"


def test_rabbitmq_gets_a_private_node_and_ports(config: TierConfig) -> None:
    env = config.rabbitmq_env()
    ports = Ports()
    assert env["RABBITMQ_NODE_PORT"] == str(ports.amqp)
    assert env["RABBITMQ_DIST_PORT"] == str(ports.rabbit_dist)
    assert env["ERL_EPMD_PORT"] == str(ports.epmd)
    assert env["RABBITMQ_NODE_IP_ADDRESS"] == "127.0.0.1"
    assert env["RABBITMQ_MNESIA_BASE"].startswith(str(config.paths.rabbit))
    assert f"127.0.0.1:{ports.amqp}" in config.rabbitmq_conf()


def test_files_cover_every_service(config: TierConfig) -> None:
    names = {path.name for path in config.files()}
    assert {"keystone.conf", "glance-api.conf", "placement.conf", "nova.conf"} <= names
    assert all(isinstance(path, Path) and path.is_absolute() for path in config.files())


def test_written_configs_are_private(config: TierConfig) -> None:
    from openstack_tier import services

    venv_etc = config.paths.venv / "etc"
    for name in ("nova/api-paste.ini", "glance/glance-api-paste.ini"):
        (venv_etc / name).parent.mkdir(parents=True, exist_ok=True)
        (venv_etc / name).write_text("[pipeline:main]\n")
    services.write_configs(config)
    nova_conf = config.paths.etc / "nova" / "nova.conf"
    assert stat.S_IMODE(nova_conf.stat().st_mode) == 0o600
    assert (config.paths.etc / "nova" / "api-paste.ini").exists()
    assert (config.paths.glance_data / "staging").is_dir()
