"""Reading ``clouds.yaml`` through openstacksdk's own loader.

Part of the gateway (:mod:`denbi_jupyter.cloud._openstack`): one of the three private modules
allowed to import ``openstack``. Nothing here opens a connection.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from keystoneauth1 import exceptions as ksa_exc
from openstack import exceptions as os_exc
from openstack.config import OpenStackConfig, loader
from openstack.config.cloud_region import CloudRegion
from openstack.warnings import ConfigurationWarning

from denbi_jupyter.cloud._openstack_errors import map_error, translated
from denbi_jupyter.cloud.sites import PROBLEM_KEY, document_problem, entry_problem
from denbi_jupyter.errors import DenbiError, NotFoundError, UserInputError

__all__ = [
    "DEFAULT_API_TIMEOUT",
    "DEFAULT_IMAGE_RETRIES",
    "check_config_syntax",
    "cloud_region",
    "read_clouds",
]

#: Seconds before an API call gives up, unless clouds.yaml sets ``api_timeout``.
DEFAULT_API_TIMEOUT = 60.0

#: Retries of a Glance 5xx unless clouds.yaml sets ``image_status_code_retries``: the SDK's
#: default (5, backing off 1+2+4+8 s) keeps a panel waiting 15 s for an outage.
DEFAULT_IMAGE_RETRIES = 1

_APP_NAME = "denbi-jupyter"
_READ = "read clouds.yaml"


def _syntax_error(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{where}{problem}"


#: What openstacksdk raises when a setting has the wrong type (``auth: x``, ``networks: 5``).
_SHAPE_ERRORS = (TypeError, AttributeError, ValueError, KeyError)


def _first_readable(paths: Iterable[str], *, secure: bool = False) -> None:
    """Refuse the file openstacksdk would use when it cannot be parsed or has the wrong shape.

    The SDK logs a warning and goes on to the next file of its search path, so a typo in one
    ``clouds.yaml`` would make the command run against another file's clouds.
    """
    for path in paths:
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                document = json.load(handle) if path.endswith(".json") else yaml.safe_load(handle)
        except OSError:
            continue  # unreadable: the SDK skips it too
        except (ValueError, yaml.YAMLError) as exc:
            kind = "JSON" if path.endswith(".json") else "YAML"
            raise UserInputError(
                f"{path} is not valid {kind} ({_syntax_error(exc)}). Fix it: denbi-jupyter does "
                "not fall back to another clouds.yaml, so that a typo cannot send a command to "
                "another file's clouds.",
                action=_READ,
            ) from exc
        problem = document_problem(document, secure=secure)
        if problem:
            raise UserInputError(f"{path} cannot be used: {problem}.", action=_READ)
        return


def check_config_syntax(config_file: Path | None) -> None:
    """Raise UserInputError when the clouds.yaml (or secure.yaml) in use has a syntax error."""
    if config_file is not None:
        _first_readable([str(config_file)])
    else:
        override = os.environ.get("OS_CLIENT_CONFIG_FILE")
        if override and not Path(override).expanduser().is_file():
            raise UserInputError(
                f"OS_CLIENT_CONFIG_FILE names {override!r}, which does not exist. Fix the path: "
                "denbi-jupyter does not fall back to another clouds.yaml, so that a typo cannot "
                "send a command to another file's clouds.",
                action=_READ,
            )
        _first_readable(([override] if override else []) + list(loader.CONFIG_FILES))
    secure = os.environ.get("OS_CLIENT_SECURE_FILE") if config_file is None else None
    _first_readable(([secure] if secure else []) + list(loader.SECURE_FILES), secure=True)


def _load_config(config_file: Path | None) -> OpenStackConfig:
    """openstacksdk's loader: the explicit file alone, else its usual search with env vars."""
    try:
        check_config_syntax(config_file)
        if config_file is None:
            return OpenStackConfig(app_name=_APP_NAME)
        if not config_file.is_file():
            raise UserInputError(
                f"The clouds.yaml file {config_file} does not exist: pass an existing file or "
                "leave it out to use OS_CLIENT_CONFIG_FILE / ~/.config/openstack/clouds.yaml.",
                action=_READ,
            )
        return OpenStackConfig(
            config_files=[str(config_file)], load_envvars=False, app_name=_APP_NAME
        )
    except os_exc.SDKException as exc:
        raise map_error(exc, site="clouds.yaml", action=_READ) from exc
    except DenbiError:
        raise  # ours (some are ValueErrors too), already clear
    except _SHAPE_ERRORS as exc:  # e.g. ``cache: {0: x}``: a section the SDK cannot walk
        where = config_file or os.environ.get("OS_CLIENT_CONFIG_FILE") or "clouds.yaml"
        raise UserInputError(
            f"{where} cannot be used: {_shape_reason(exc)}; check its 'cache:', 'client:' and "
            "'clouds:' sections against the site's downloaded clouds.yaml.",
            action=_READ,
        ) from exc


def read_clouds(config_file: Path | None = None) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    """Every ``clouds.yaml`` entry as (name, merged config) and the default entry's name.

    The default is ``OS_CLOUD``, else the only entry, else the first. Raises NotFoundError when
    there is no entry at all.
    """
    config = _load_config(config_file)
    entries: list[tuple[str, dict[str, Any]]] = []
    for name in config.get_cloud_names():
        raw = config.cloud_config["clouds"].get(name, {})
        if name == "defaults" and isinstance(raw, dict) and not raw.get("auth"):
            continue
        entries.append((name, _entry_config(config, name)))
    if not entries:
        where = config_file or config.config_filename or "OS_CLIENT_CONFIG_FILE"
        raise NotFoundError(
            f"No cloud is configured ({where}): download clouds.yaml from your site's dashboard "
            "and put it in ~/.config/openstack/ or point OS_CLIENT_CONFIG_FILE at it.",
            action=_READ,
        )
    names = [name for name, _ in entries]
    wanted = os.environ.get("OS_CLOUD") if config_file is not None else config.default_cloud
    default = wanted if wanted in names else names[0]
    return entries, str(default)


def _entry_problem(name: str, reason: object) -> str:
    return (
        f"The clouds.yaml entry {name!r} cannot be used: {reason}. Download it again from the "
        "site's dashboard (API access → clouds.yaml) or add what is missing."
    )


def _shape_reason(exc: Exception) -> str:
    """What to say of an SDK failure on a wrong-typed setting (no value: it may be secret)."""
    return f"openstacksdk cannot read one of its settings ({type(exc).__name__})"


def _region(config: OpenStackConfig, name: str) -> CloudRegion | str:
    """openstacksdk's config of entry ``name``, or why the entry cannot be used (a broken
    entry, not the others: wrong shapes, no auth_url, a profile the SDK lacks or would fetch).

    Raises:
        openstack.exceptions.SDKException: The SDK failed otherwise (not a config problem).
    """
    raw = config.cloud_config["clouds"].get(name)
    problem = entry_problem(raw) or _remote_profile_problem(raw if isinstance(raw, dict) else {})
    if problem:
        return problem
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConfigurationWarning)
            return config.get_one(cloud=name)
    except ConfigurationWarning:  # the SDK would warn and go on without the profile's settings
        profile = _profile(raw) if isinstance(raw, dict) else None
        return f"openstacksdk has no vendor profile {profile!r} (its 'profile:' or 'cloud:')"
    except (ksa_exc.ClientException, os_exc.ConfigException) as exc:
        return str(exc)  # e.g. no auth_url, or the profile of a cloud that shut down
    except _SHAPE_ERRORS as exc:
        return _shape_reason(exc)


def _entry_config(config: OpenStackConfig, name: str) -> dict[str, Any]:
    raw = config.cloud_config["clouds"].get(name)
    base = raw if isinstance(raw, dict) else {}
    try:
        region = _region(config, name)
    except os_exc.SDKException as exc:
        raise map_error(exc, site=name, action="read its clouds.yaml entry") from exc
    if isinstance(region, str):
        return {**base, PROBLEM_KEY: _entry_problem(name, region)}
    merged = dict(region.config)
    merged["region_name"] = region.region_name or None
    return merged


def _profile(entry: dict[str, Any]) -> object:
    """The vendor profile an entry names, as openstacksdk reads it (``cloud:`` the old key)."""
    return entry.get("profile", entry.get("cloud"))


def _remote_profile_problem(entry: dict[str, Any]) -> str:
    """Why a ``profile:`` (or ``cloud:``) that is a URL is refused, or ``''``: openstacksdk
    would fetch the settings from that host while the file is read (nothing here connects)."""
    profile = _profile(entry)
    if isinstance(profile, str) and urllib.parse.urlparse(profile).netloc:
        return (
            "its 'profile:' is a URL, and denbi-jupyter does not fetch settings from the "
            "network while it reads clouds.yaml (de.NBI's clouds.yaml has no profile: remove "
            "the line, or put the settings into the entry)"
        )
    return ""


def cloud_region(site: str, config_file: Path | None) -> CloudRegion:
    """The site's entry as openstacksdk's region config, with our timeout and retry defaults.

    Raises:
        NotFoundError: ``clouds.yaml`` has no entry named ``site``.
    """
    config = _load_config(config_file)
    if site not in config.get_cloud_names():
        known = ", ".join(sorted(config.get_cloud_names())) or "none"
        raise NotFoundError(
            f"There is no clouds.yaml entry named {site!r} (entries: {known}). Pick one of those "
            "or add the site's clouds.yaml entry.",
            site=site,
            action="open a connection",
        )
    entry = config.cloud_config["clouds"].get(site, {})
    with translated(site, "open a connection"):
        region = _region(config, site)
        if isinstance(region, str):
            raise UserInputError(_entry_problem(site, region), site=site, action=_READ)
        if region.config.get("api_timeout") is None:
            region.config["api_timeout"] = DEFAULT_API_TIMEOUT
        if "image_status_code_retries" not in entry:
            region.config["image_status_code_retries"] = DEFAULT_IMAGE_RETRIES
        return region
