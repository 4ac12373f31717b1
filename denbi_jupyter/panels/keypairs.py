"""A site's key pairs: list them, import a public key, generate an Ed25519 pair, delete one.

:class:`KeyPairPanel` stands on its own or sits in the Connect tab. Only public keys go to the
cloud: a generated private key is written (mode 0600) into ``key_dir`` and never shown, and
its path is remembered in the :class:`~denbi_jupyter.connect.key_registry.KeyRegistry` so the
connection card can name it. Deleting asks first, naming the key pair; one click deletes one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as w
import traitlets as t

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.rules.names import NameKind, name_problem
from denbi_jupyter.cloud.types import GeneratedKeyPair, KeyPair
from denbi_jupyter.connect.key_registry import KeyRegistry
from denbi_jupyter.errors import UserInputError
from denbi_jupyter.panels._background import describe_error
from denbi_jupyter.panels._base import Panel, Shared
from denbi_jupyter.panels._bind import bind
from denbi_jupyter.panels._html import Tone, esc, notice, title
from denbi_jupyter.panels._sites import ClientSource

__all__ = ["KeyPairPanel", "key_file_problem", "keypair_name_problem", "shown_fingerprint"]

#: Buttons keep their label whole; rows wrap them to the next line at narrow widths.
_BUTTON = w.Layout(width="auto", flex="0 0 auto")
_ROW = {"align_items": "center", "flex_flow": "row wrap"}
_BOX = w.Layout(border="1px solid #dee2e6", padding="6px 10px", margin="6px 0 0 0")
#: A public key file is one line; anything bigger is not one.
_MAX_PUBLIC_FILE = 64 * 1024
_PRIVATE_MARKERS = ("PRIVATE KEY", "PuTTY-User-Key-File")


def keypair_name_problem(name: str, existing: Iterable[str], site: str) -> str:
    """What is wrong with ``name`` for a new key pair on ``site``, or ``''`` (pure)."""
    problem = name_problem(NameKind.KEYPAIR, name)
    if problem:
        return problem
    if name.strip() in set(existing):
        return (
            f"{site} already has a key pair {name.strip()!r}: choose another name or delete "
            "that one first."
        )
    return ""


def key_file_problem(file_name: str) -> str:
    """What is wrong with ``file_name`` as a key file in the key folder, or ``''`` (pure)."""
    name = file_name.strip()
    if not name or "/" in name or "\\" in name or name in {".", ".."}:
        return "Give a plain file name for the private key, e.g. 'denbi_ed25519'."
    if name.endswith(".pub"):
        return "That is the public key's name: give the private key's, without '.pub'."
    return ""


class KeyPairPanel(Panel):
    """List, import, generate and delete the key pairs of a site.

    Args:
        source: A client, a factory ``site name -> client`` (with ``sites``), or the shared
            state of a parent panel.
        sites: Site names to offer with a factory.
        site: The site to show first.
        key_dir: Where generated private keys are written (the notebook's folder by default).
        registry: Where private key paths are remembered; the user's by default.
    """

    keypairs: t.List[Any] = t.List().tag(sync=False)
    loading = t.Bool(False).tag(sync=False)
    working = t.Bool(False).tag(sync=False)
    message = t.Unicode("").tag(sync=False)
    problem = t.Unicode("").tag(sync=False)
    confirm_name = t.Unicode("").tag(sync=False)
    import_name = t.Unicode("").tag(sync=False)
    public_text = t.Unicode("").tag(sync=False)
    upload_name = t.Unicode("").tag(sync=False)
    generate_name = t.Unicode("").tag(sync=False)
    generate_file = t.Unicode("").tag(sync=False)
    overwrite = t.Bool(False).tag(sync=False)

    def __init__(
        self,
        source: ClientSource | Shared,
        *,
        sites: Sequence[str] | None = None,
        site: str | None = None,
        key_dir: str | Path | None = None,
        registry: KeyRegistry | None = None,
    ) -> None:
        self.key_dir = Path(key_dir) if key_dir is not None else Path.cwd()
        self.registry = registry or KeyRegistry()
        self._saved = w.CallbackDispatcher()
        self._uploaded = ""
        self._head = w.HTML()
        self._rows = w.VBox()
        self._empty = w.HTML()
        self._row_pool: list[tuple[w.HBox, w.HTML, w.Button]] = []
        self._confirm_html = w.HTML()
        self._confirm_go = w.Button(description="Delete", button_style="danger", layout=_BUTTON)
        self._confirm_cancel = w.Button(description="Cancel", layout=_BUTTON)
        self._confirm = w.VBox(
            [
                self._confirm_html,
                w.HBox([self._confirm_go, self._confirm_cancel], layout=w.Layout(**_ROW)),
            ],
            layout=w.Layout(border="1px solid #f1aeb5", padding="4px 8px", margin="4px 0"),
        )
        self._status = w.HTML()
        super().__init__(source, sites=sites, site=site)
        self.add_class("denbi-keypair-panel")
        self._layout([
            self._head, self._error_box, self._rows, self._confirm,
            self._make_import_box(), self._make_generate_box(), self._status,
        ])  # fmt: skip
        self._confirm_go.on_click(self._guard(lambda _b: self.delete_confirmed()))
        self._confirm_cancel.on_click(self._guard(lambda _b: self.cancel_delete()))
        self.reload()
        self._render()

    def _make_import_box(self) -> w.VBox:
        self._import_name = w.Text(description="Name", placeholder="e.g. laptop")
        self._public = w.Textarea(
            description="Public key",
            placeholder="ssh-ed25519 AAAA… you@laptop (the one line of your .pub file)",
            rows=2,
            layout=w.Layout(width="97%"),
        )
        self._pub_upload = w.FileUpload(
            accept=".pub", multiple=False, description="Choose .pub", layout=_BUTTON,
            tooltip="Upload your OpenSSH public key file (.pub), e.g. ~/.ssh/id_ed25519.pub",
        )  # fmt: skip
        self._import = w.Button(description="Import", icon="upload", layout=_BUTTON)
        for field in (self._import_name, self._public):
            field.style.description_width = "80px"
        bind(self._import_name, self, "import_name")
        bind(self._public, self, "public_text")
        self._pub_upload.observe(self._guard(self._on_pub_upload), names="value")
        self._import.on_click(self._guard(lambda _b: self.import_key()))
        return w.VBox(
            [
                w.HTML(title("Import a public key")),
                self._import_name,
                self._public,
                w.HBox([self._pub_upload, self._import], layout=w.Layout(**_ROW)),
            ],
            layout=_BOX,
        )

    def _make_generate_box(self) -> w.VBox:
        self._gen_name = w.Text(description="Name", placeholder="e.g. denbi-laptop")
        self._gen_file = w.Text(description="File", placeholder="e.g. denbi_ed25519")
        for field in (self._gen_name, self._gen_file):
            field.style.description_width = "80px"
        self._overwrite = w.Checkbox(description="Allow overwriting", indent=False)
        self._generate = w.Button(
            description="Generate Ed25519 key pair", icon="key", layout=_BUTTON
        )
        bind(self._gen_name, self, "generate_name")
        bind(self._gen_file, self, "generate_file")
        bind(self._overwrite, self, "overwrite", empty=False)
        self._generate.on_click(self._guard(lambda _b: self.generate_key()))
        self._gen_head = w.HTML()
        return w.VBox(
            [self._gen_head, self._gen_name, self._gen_file,
             w.HBox([self._generate, self._overwrite], layout=w.Layout(**_ROW))],
            layout=_BOX,
        )  # fmt: skip

    # --- events out ---------------------------------------------------------------------------
    def on_saved(self, callback: Callable[[str, str, Path], object], remove: bool = False) -> None:
        """Call ``callback(site, key_name, private_key_path)`` when a private key is saved."""
        self._saved.register_callback(callback, remove=remove)

    # --- actions ------------------------------------------------------------------------------
    def reload(self) -> None:
        """Fetch the site's key pairs again."""
        self._call(
            "list", lambda client: client.list_keypairs(), self._set_keypairs, busy="loading"
        )

    def _set_keypairs(self, keypairs: Sequence[KeyPair]) -> None:
        self.error = ""
        self.keypairs = list(keypairs)
        if self.confirm_name not in {k.name for k in keypairs}:
            self.confirm_name = ""

    def _names(self) -> list[str]:
        return [k.name for k in self.keypairs]

    def _begin(self) -> None:
        self.problem, self.message = "", ""

    def _on_pub_upload(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        entry = files[0]
        data = bytes(entry["content"])[:_MAX_PUBLIC_FILE]
        self._pub_upload.value = ()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self.problem = f"{entry['name']!r} is not a text file: choose the .pub file."
            return
        if any(marker in text for marker in _PRIVATE_MARKERS):
            self.problem = (
                f"{entry['name']!r} holds a private key: choose the public key (.pub) and keep "
                "the private key to yourself."
            )
            return
        self._begin()
        self.upload_name = str(entry["name"])
        self.public_text = text.strip()
        if not self.import_name.strip():
            self.import_name = Path(self.upload_name).stem.removesuffix(".pub") or ""

    def import_key(self) -> None:
        """Import the pasted or uploaded public key under the form's name."""
        self._begin()
        name, text = self.import_name.strip(), self.public_text
        self.problem = keypair_name_problem(name, self._names(), self.site) or (
            "" if text.strip() else "Paste a public key or choose a .pub file first."
        )
        if self.problem:
            return

        def done(pair: KeyPair) -> None:
            self.import_name = self.public_text = self.upload_name = ""
            shown = shown_fingerprint(pair)
            self.message = f"Imported key pair {pair.name!r} on {self.site} ({shown})."
            self.log.info(f"imported key pair {pair.name!r} on {self.site}")
            self.reload()

        def failed(exc: BaseException) -> None:
            if isinstance(exc, UserInputError) and any(m in text for m in _PRIVATE_MARKERS):
                self.public_text = ""  # a pasted private key does not stay on screen
            self.problem = describe_error(exc)

        self._call(
            "import", lambda client: client.import_keypair(name, text), done,
            busy="working", on_error=failed,
        )  # fmt: skip

    def generate_key(self) -> None:
        """Make an Ed25519 key pair here: the private key to ``key_dir``, the public to Nova."""
        self._begin()
        name, file_name = self.generate_name.strip(), self.generate_file.strip()
        self.problem = keypair_name_problem(name, self._names(), self.site) or key_file_problem(
            file_name
        )
        if self.problem:
            return
        site, target, overwrite = self.site, self.key_dir / file_name, self.overwrite

        def make(client: CloudClient) -> GeneratedKeyPair:
            made = client.generate_keypair(name, private_key_path=target, overwrite=overwrite)
            self.registry.remember_key(site, made.name, made.private_key_path)
            return made

        def done(made: GeneratedKeyPair) -> None:
            self.generate_name = self.generate_file = ""
            self.overwrite = False
            self.message = (
                f"Generated key pair {made.name!r} on {site} ({made.sha256_fingerprint}). "
                f"Private key: {made.private_key_path} (mode 0600, not encrypted: keep it "
                f"private); public key: {made.public_key_path}."
            )
            self.log.info(f"generated key pair {made.name!r} on {site}")
            self._fire(self._saved, site, made.name, made.private_key_path)
            self.reload()

        self._call("generate", make, done, busy="working", on_error=self._failed)

    def _failed(self, exc: BaseException) -> None:
        self.problem = describe_error(exc)

    def ask_delete(self, name: str) -> None:
        """Ask before deleting the key pair ``name``."""
        self._begin()
        self.confirm_name = name

    def cancel_delete(self) -> None:
        """Forget the pending question."""
        self.confirm_name = ""

    def delete_confirmed(self) -> None:
        """Delete the key pair asked about (once: a second click finds nothing to delete)."""
        name, site = self.confirm_name, self.site
        if not name or self.working:
            return
        self.confirm_name = ""
        self._begin()

        def done(_none: None) -> None:
            self.message = f"Deleted key pair {name!r} on {site}."
            self.log.info(f"deleted key pair {name!r} on {site}")
            self.reload()

        self._call(
            "delete", lambda client: client.delete_keypair(name), done,
            busy="working", on_error=self._failed,
        )  # fmt: skip

    # --- view ---------------------------------------------------------------------------------
    @t.observe("site")
    def _on_site(self, change: dict[str, Any]) -> None:
        if change["old"] and change["new"] != change["old"]:
            self.keypairs, self.confirm_name = [], ""
            self._begin()
            self._render()
            self.reload()

    @t.observe(
        "keypairs", "loading", "working", "message", "problem", "confirm_name", "error",
        "upload_name",
    )  # fmt: skip
    def _on_state(self, _change: dict[str, Any]) -> None:
        self._render()

    def _render(self) -> None:
        self._error_box.value = self._error_html()
        self._head.value = title(f"Key pairs on {self.site}", sub="the public keys VMs boot with")
        self._render_rows()
        self._confirm.layout.display = "" if self.confirm_name else "none"
        if self.confirm_name:
            self._confirm_html.value = (
                f"Delete key pair <b>{esc(self.confirm_name)}</b> from {esc(self.site)}? VMs "
                "booted with it keep working; new VMs cannot get it."
            )
            self._confirm_go.description = f"Delete {self.confirm_name}"
        self._confirm_go.disabled = self.working
        for button in (self._import, self._generate):
            button.disabled = self.working
        self._pub_upload.description = self.upload_name or "Choose .pub"
        self._gen_head.value = title(
            "Generate a new key pair", sub=f"the private key is saved in {self.key_dir}"
        )
        if self.problem:
            self._status.value = notice(self.problem, Tone.ERROR)
        elif self.working:
            self._status.value = notice("Working…", Tone.BUSY)
        elif self.message:
            self._status.value = notice(self.message, Tone.OK)
        else:
            self._status.value = ""

    def _render_rows(self) -> None:
        pairs: Sequence[KeyPair] = self.keypairs
        while len(self._row_pool) < len(pairs):
            self._row_pool.append(self._make_row())
        for (_row, html, button), pair in zip(self._row_pool, pairs, strict=False):
            html.value = (
                f"<b>{esc(pair.name)}</b> <span style='color:#6c757d'>{esc(pair.type)}</span> "
                f"<code style='font-size:12px'>{esc(shown_fingerprint(pair))}</code>"
            )
            button.keypair_name = pair.name
            button.disabled = self.working
        rows: list[w.Widget] = [row for row, _, _ in self._row_pool[: len(pairs)]]
        if not pairs:
            text = (
                f"Loading the key pairs of {self.site}…" if self.loading
                else f"No key pairs on {self.site} yet: import your public key or generate one."
            )  # fmt: skip
            self._empty.value = notice(text, Tone.BUSY if self.loading else Tone.MUTED)
            rows = [self._empty]
        self._rows.children = tuple(rows)

    def _make_row(self) -> tuple[w.HBox, w.HTML, w.Button]:
        html = w.HTML(layout=w.Layout(flex="1 1 auto"))
        button = w.Button(description="Delete", icon="trash", layout=_BUTTON)
        button.on_click(self._guard(lambda b: self.ask_delete(getattr(b, "keypair_name", ""))))
        row = w.HBox([html, button], layout=w.Layout(**_ROW))
        row.add_class("denbi-keypair-row")
        return row, html, button


def shown_fingerprint(pair: KeyPair) -> str:
    """The fingerprint people compare with ``ssh-keygen -lf``: SHA256, else Nova's MD5."""
    return pair.sha256_fingerprint or pair.fingerprint
