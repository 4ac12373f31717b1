"""Connecting to a VM: pure helpers for SSH, X2Go, Guacamole, PuTTY keys, probes and readiness.

Nothing here talks to OpenStack. Only :func:`probe_tcp` and :func:`check_ssh_login` touch the
network, and :func:`write_openssh_key` (with :func:`write_key_files` and
:func:`generate_ed25519`) the file system.
"""

from __future__ import annotations

from denbi_jupyter.connect.guacamole import (
    GuacamoleTarget,
    guacamole_client_url,
    parse_guacamole_client_url,
    validate_guacamole_base_url,
)
from denbi_jupyter.connect.keyfile import (
    KeyFileExistsError,
    write_openssh_key,
    write_private_file,
)
from denbi_jupyter.connect.keys import (
    KeyFiles,
    generate_ed25519,
    public_key_path,
    write_key_files,
)
from denbi_jupyter.connect.ports import PortFormula, ssh_port
from denbi_jupyter.connect.ppk import (
    KeyEncryptionUnavailableError,
    KeyFormatError,
    KeyIntegrityError,
    OpenSSHKey,
    PassphraseRequiredError,
    PpkSummary,
    PuttyKey,
    UnsupportedKeyError,
    WrongPassphraseError,
    convert_ppk,
    load_ppk,
    peek_ppk,
    read_ppk,
)
from denbi_jupyter.connect.probe import MAX_PROBE_TIMEOUT, ProbeResult, probe_tcp
from denbi_jupyter.connect.readiness import (
    GUACAMOLE_START,
    Checks,
    Readiness,
    WayIn,
    WayInStatus,
    ways_in,
)
from denbi_jupyter.connect.ssh import ConnectionInfo, ssh_alias, ssh_command, ssh_config_block
from denbi_jupyter.connect.ssh_login import (
    MAX_LOGIN_TIMEOUT,
    LoginOutcome,
    LoginResult,
    check_ssh_login,
)
from denbi_jupyter.connect.x2go import (
    LinkSpeed,
    SessionType,
    session_type_for_image,
    x2go_session_file,
    x2go_session_id,
)

__all__ = [
    "GUACAMOLE_START",
    "MAX_LOGIN_TIMEOUT",
    "MAX_PROBE_TIMEOUT",
    "Checks",
    "ConnectionInfo",
    "GuacamoleTarget",
    "KeyEncryptionUnavailableError",
    "KeyFileExistsError",
    "KeyFiles",
    "KeyFormatError",
    "KeyIntegrityError",
    "LinkSpeed",
    "LoginOutcome",
    "LoginResult",
    "OpenSSHKey",
    "PassphraseRequiredError",
    "PortFormula",
    "PpkSummary",
    "ProbeResult",
    "PuttyKey",
    "Readiness",
    "SessionType",
    "UnsupportedKeyError",
    "WayIn",
    "WayInStatus",
    "WrongPassphraseError",
    "check_ssh_login",
    "convert_ppk",
    "generate_ed25519",
    "guacamole_client_url",
    "load_ppk",
    "parse_guacamole_client_url",
    "peek_ppk",
    "probe_tcp",
    "public_key_path",
    "read_ppk",
    "session_type_for_image",
    "ssh_alias",
    "ssh_command",
    "ssh_config_block",
    "ssh_port",
    "validate_guacamole_base_url",
    "ways_in",
    "write_key_files",
    "write_openssh_key",
    "write_private_file",
    "x2go_session_file",
    "x2go_session_id",
]
