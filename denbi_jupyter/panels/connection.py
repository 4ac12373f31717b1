"""Pick a VM and see how to connect; manage key pairs; convert a PuTTY key to OpenSSH.

:class:`ConnectionPanel` puts a VM picker above a
:class:`~denbi_jupyter.panels._connection_card.ConnectionCard`, the site's key pairs
(:class:`~denbi_jupyter.panels.keypairs.KeyPairPanel`) below it, and the PuTTY key converter
(``.ppk`` → OpenSSH key file with mode 0600 and its ``.pub``, next to the notebook) last; a
converted key can then be imported as a key pair in one click. Converting a key is local work:
it never opens a site. The card names the private key remembered for the VM's key pair
(:class:`~denbi_jupyter.connect.key_registry.KeyRegistry`), else the last converted one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.types import KeyPair, Server
from denbi_jupyter.connect import KeyFiles, convert_ppk, write_key_files
from denbi_jupyter.connect.key_registry import KeyRegistry
from denbi_jupyter.panels._background import describe_error
from denbi_jupyter.panels._base import Panel, Shared
from denbi_jupyter.panels._bind import bind
from denbi_jupyter.panels._connection_card import ConnectionCard, Prober
from denbi_jupyter.panels._html import Tone, notice, title
from denbi_jupyter.panels._sites import ClientSource
from denbi_jupyter.panels.keypairs import KeyPairPanel, keypair_name_problem

__all__ = ["ConnectionCard", "ConnectionPanel", "Prober"]

#: Buttons keep their label whole; rows wrap them to the next line at narrow widths.
_BUTTON = w.Layout(width="auto", flex="0 0 auto")
_ROW = {"align_items": "center", "flex_flow": "row wrap"}
_UPLOAD_TIP = "Choose your PuTTY private key (.ppk); it is converted here and never uploaded"


def import_name_for(file_name: str) -> str:
    """A key pair name suggested for a converted key file (Nova's characters only)."""
    cleaned = re.sub(r"[^A-Za-z0-9 _.@-]+", "-", Path(file_name).name).strip(" -")
    return cleaned[:255] or "denbi-key"


class ConnectionPanel(Panel):
    """Pick a VM and see how to connect; convert a PuTTY key to OpenSSH.

    Args:
        source: A client, a factory ``site name -> client`` (with ``sites``), or the shared
            state of a :class:`CloudPanel`.
        sites: Site names to offer with a factory.
        site: The site to show first.
        key_dir: Where converted and generated keys are saved (the notebook's folder by
            default).
        probe: Reachability check; defaults to a 3-second TCP connect.
        registry: Where private key paths are remembered; the user's by default.
    """

    servers: t.List[Any] = t.List().tag(sync=False)
    server_id = t.Unicode("").tag(sync=False)
    loading = t.Bool(False).tag(sync=False)
    converting = t.Bool(False).tag(sync=False)
    key_path = t.Unicode(None, allow_none=True).tag(sync=False)
    key_message = t.Unicode("").tag(sync=False)
    key_error = t.Unicode("").tag(sync=False)
    upload_name = t.Unicode("").tag(sync=False)
    save_as = t.Unicode("").tag(sync=False)
    overwrite = t.Bool(False).tag(sync=False)
    #: The last converted key (its files), offered for import as a key pair until imported.
    converted = t.Any(None).tag(sync=False)
    import_name = t.Unicode("").tag(sync=False)
    importing = t.Bool(False).tag(sync=False)

    def __init__(
        self,
        source: ClientSource | Shared,
        *,
        sites: Sequence[str] | None = None,
        site: str | None = None,
        key_dir: str | Path | None = None,
        probe: Prober | None = None,
        registry: KeyRegistry | None = None,
    ) -> None:
        self.key_dir = Path(key_dir) if key_dir is not None else Path.cwd()
        self.registry = registry or KeyRegistry()
        self._server_select = w.Dropdown(
            description="VM", options=[], layout=w.Layout(width="420px")
        )
        self._server_select.style.description_width = "40px"
        self._server_select.observe(self._guard(self._on_server_picked), names="value")
        self._refresh = w.Button(description="Refresh", icon="refresh", layout=_BUTTON)
        self._refresh.on_click(self._guard(lambda _b: self.reload()))
        self._summary = w.HTML()
        super().__init__(source, sites=sites, site=site)
        self.card = ConnectionCard(self.shared, site=self.site, probe=probe)
        self.key_pairs = KeyPairPanel(
            self.shared, site=self.site, key_dir=self.key_dir, registry=self.registry
        )
        self.key_pairs.on_saved(lambda _site, _name, _path: self._push_to_card({}))
        self._upload = w.FileUpload(
            accept=".ppk", multiple=False, description="Choose .ppk", layout=_BUTTON,
            tooltip=_UPLOAD_TIP,
        )  # fmt: skip
        self._passphrase = w.Password(
            description="Passphrase", placeholder="only if the key has one"
        )
        self._save_as = w.Text(description="Save as", placeholder="file name, e.g. denbi_key")
        for field in (self._passphrase, self._save_as):
            field.style.description_width = "80px"
        self._convert = w.Button(
            description="Convert to OpenSSH", icon="key", button_style="primary", layout=_BUTTON
        )
        self._convert.on_click(self._guard(lambda _b: self.convert_key()))
        self._overwrite = w.Checkbox(description="Allow overwriting", indent=False)
        bind(self._save_as, self, "save_as")
        bind(self._overwrite, self, "overwrite", empty=False)
        self._upload.observe(self._guard(self._on_upload), names="value")
        self._key_box = w.HTML()
        ppk = w.VBox(
            [
                w.HTML(title("PuTTY key → OpenSSH", sub="the key is saved next to this notebook")),
                w.HBox([self._upload, self._passphrase], layout=w.Layout(**_ROW)),
                w.HBox(
                    [self._save_as, self._convert, self._overwrite],
                    layout=w.Layout(**_ROW),
                ),
                self._key_box,
                self._make_import_row(),
            ],
            layout=w.Layout(border="1px solid #dee2e6", padding="8px 12px", margin="8px 0 0 0"),
        )
        self.add_class("denbi-connection-panel")
        self._layout([
            w.HBox([self._server_select, self._refresh], layout=w.Layout(**_ROW)),
            self._summary,
            self._error_box,
            self.card,
            self.key_pairs,
            ppk,
        ])  # fmt: skip
        self.reload()
        self._render()

    def _make_import_row(self) -> w.HBox:
        self._import_name = w.Text(description="Key pair", placeholder="name on the site")
        self._import_name.style.description_width = "80px"
        self._import = w.Button(icon="upload", button_style="info", layout=_BUTTON)
        bind(self._import_name, self, "import_name")
        self._import.on_click(self._guard(lambda _b: self.import_converted()))
        self._import_row = w.HBox([self._import_name, self._import], layout=w.Layout(**_ROW))
        return self._import_row

    def _parts(self) -> Iterable[Panel]:
        return (self.card, self.key_pairs)

    # --- actions ----------------------------------------------------------------------------
    def reload(self) -> None:
        """Fetch the project's servers again."""
        self._call(
            "servers", lambda client: client.list_servers(), self._set_servers, busy="loading"
        )

    def _set_servers(self, servers: Sequence[Server]) -> None:
        self.error = ""
        self.servers = list(servers)
        ids = {s.id for s in servers}
        if self.server_id not in ids:
            self.server_id = servers[0].id if servers else ""

    def show_server(self, server_id: str, *, site: str | None = None) -> None:
        """Select a server (e.g. one just booted) and refresh the list."""
        if site is not None:
            self.site = site
        self.server_id = server_id
        self.reload()

    def _on_server_picked(self, change: dict[str, Any]) -> None:
        if change["new"] is not None and change["new"] != self.server_id:
            self.server_id = change["new"]

    def _on_upload(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if files and not self.save_as:
            stem = Path(str(files[0]["name"])).stem or "denbi_key"
            self.save_as = f"{stem}_openssh"
        self.upload_name = str(files[0]["name"]) if files else ""

    def convert_key(self) -> None:
        """Convert the uploaded ``.ppk`` and save it as an OpenSSH key (0600) and ``.pub``."""
        files = self._upload.value
        if not files:
            self.key_error = "Choose a .ppk file first."
            return
        name = self.save_as.strip()
        if not name or "/" in name or name in {".", ".."}:
            self.key_error = "Give a plain file name to save the key as, e.g. 'denbi_key'."
            return
        data = bytes(files[0]["content"])
        passphrase = self._passphrase.value or None
        target, overwrite = self.key_dir / name, self.overwrite
        self.key_error = ""
        self.key_message = ""
        self.converted = None

        def convert() -> KeyFiles:
            key = convert_ppk(data, passphrase=passphrase)
            return write_key_files(target, key, overwrite=overwrite)  # as convert-key does

        def done(files: KeyFiles) -> None:
            self._upload.value = ()
            self._passphrase.value = ""
            self.overwrite = False
            self.key_path = str(files.private_path)
            self.import_name = import_name_for(files.private_path.name)
            self.converted = files
            self.key_message = (
                f"Saved {files.private_path} (mode 0600) and {files.public_path}, "
                f"fingerprint {files.fingerprint}."
            )
            self.log.info(f"converted a PuTTY key to {files.private_path}")

        def failed(exc: BaseException) -> None:
            self.key_error = describe_error(exc)

        self._run_local("ppk", convert, done, busy="converting", on_error=failed)

    def import_converted(self) -> None:
        """Import the converted key's public key as a key pair and remember its private key."""
        files: KeyFiles | None = self.converted
        if files is None:
            self.key_error = "Convert a .ppk first: its public key is what gets imported."
            return
        name, site = self.import_name.strip(), self.site
        known = [k.name for k in self.key_pairs.keypairs]
        problem = keypair_name_problem(name, known, site)
        if problem:
            self.key_error = problem
            return
        self.key_error = ""

        def send(client: CloudClient) -> KeyPair:
            pair = client.import_keypair(name, files.public_line)
            self.registry.remember_key(site, pair.name, files.private_path)
            return pair

        def done(pair: KeyPair) -> None:
            self.converted = None
            self.key_message = (
                f"Imported key pair {pair.name!r} on {site}; VMs booted with it connect with "
                f"{files.private_path}."
            )
            self.log.info(f"imported key pair {pair.name!r} on {site}")
            self.key_pairs.reload()
            self._push_to_card({})

        def failed(exc: BaseException) -> None:
            self.key_error = describe_error(exc)

        self._call("import", send, done, busy="importing", on_error=failed)

    # --- view -------------------------------------------------------------------------------
    @t.observe("site")
    def _on_site(self, change: dict[str, Any]) -> None:
        if change["old"] and change["new"] != change["old"]:
            self.card.server_id = ""  # first: the old VM is never looked up on the new site
            self.server_id = ""
            self.card.site = self.site
            self.key_pairs.site = self.site
            self.servers = []
            self.reload()

    @t.observe("server_id", "key_path", "servers")
    def _push_to_card(self, _change: dict[str, Any]) -> None:
        self.card.key_path = self.card_key_path()
        self.card.site = self.site
        self.card.server_id = self.server_id

    def card_key_path(self) -> str | None:
        """The private key for the shown VM: the one remembered for its key pair, else the
        last converted key."""
        server = next((s for s in self.servers if s.id == self.server_id), None)
        remembered = self.registry.private_key(self.site, server.key_name if server else None)
        return str(remembered) if remembered is not None else self.key_path

    @t.observe(
        "servers", "server_id", "loading", "converting", "key_message", "key_error", "error",
        "upload_name", "converted", "importing",
    )  # fmt: skip
    def _on_state(self, _change: dict[str, Any]) -> None:
        self._render()

    def _render(self) -> None:
        self._error_box.value = self._error_html()
        options = [(f"{s.name}  ·  {s.status}  ·  {s.private_ipv4 or 'no address'}", s.id)
                   for s in self.servers]  # fmt: skip
        if list(self._server_select.options) != options:
            self._server_select.options = options
        ids = {value for _, value in options}
        self._server_select.value = self.server_id if self.server_id in ids else None
        self._server_select.disabled = self.loading or not options
        self._refresh.disabled = self.loading
        if self.loading and not self.servers:
            self._summary.value = notice(f"Loading the VMs of {self.site}…", Tone.BUSY)
        elif not self.servers:
            self._summary.value = notice(
                f"This project has no VMs on {self.site} yet: boot one in the Images tab.",
                Tone.MUTED,
            )
        else:
            self._summary.value = ""
        self._convert.disabled = self.converting or not self.upload_name
        self._convert.description = "Converting…" if self.converting else "Convert to OpenSSH"
        self._import_row.layout.display = "" if self.converted is not None else "none"
        self._import.description = (
            "Importing…" if self.importing else f"Import as key pair on {self.site}"
        )
        self._import.disabled = self.importing
        if self.key_error:
            self._key_box.value = notice(self.key_error, Tone.ERROR)
        elif self.key_message:
            self._key_box.value = notice(self.key_message, Tone.OK)
        else:
            self._key_box.value = (
                '<span style="color:#6c757d;font-size:12px">The private key is written with '
                "mode 0600 and never shown here.</span>"
            )
