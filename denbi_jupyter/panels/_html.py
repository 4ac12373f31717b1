"""Small HTML builders shared by the panels: badges, notices, copy buttons, sizes and dates.

Everything returns a string for an ``ipywidgets.HTML`` value; every piece of text that comes
from the cloud passes through :func:`esc`. Styles are inline so they survive any JupyterLab
theme and need no stylesheet.
"""

from __future__ import annotations

import datetime as dt
import html
from enum import StrEnum

__all__ = [
    "COPY_CLASS",
    "Tone",
    "badge",
    "copy_button",
    "esc",
    "human_size",
    "human_time",
    "notice",
    "status_tone",
    "title",
]


class Tone(StrEnum):
    """Colour families of badges and notices."""

    OK = "ok"
    BUSY = "busy"
    WARN = "warn"
    ERROR = "error"
    INFO = "info"
    MUTED = "muted"
    ACCENT = "accent"


# (text colour, background, border) per tone: readable on light and dark themes.
_COLOURS: dict[Tone, tuple[str, str, str]] = {
    Tone.OK: ("#0f5132", "#d1e7dd", "#a3cfbb"),
    Tone.BUSY: ("#084298", "#cfe2ff", "#9ec5fe"),
    Tone.WARN: ("#664d03", "#fff3cd", "#ffe69c"),
    Tone.ERROR: ("#842029", "#f8d7da", "#f1aeb5"),
    Tone.INFO: ("#055160", "#cff4fc", "#9eeaf9"),
    Tone.MUTED: ("#41464b", "#e2e3e5", "#c4c8cb"),
    Tone.ACCENT: ("#3d0a91", "#e0cffc", "#c29ffa"),
}

_STATUS_TONES: dict[str, Tone] = {
    "active": Tone.OK,
    "completed": Tone.OK,
    "reachable": Tone.OK,
    "build": Tone.BUSY,
    "queued": Tone.BUSY,
    "saving": Tone.BUSY,
    "uploading": Tone.BUSY,
    "importing": Tone.BUSY,
    "pending": Tone.BUSY,
    "running": Tone.BUSY,
    "deleting": Tone.WARN,
    "shutoff": Tone.MUTED,
    "stopped": Tone.MUTED,
    "paused": Tone.MUTED,
    "suspended": Tone.MUTED,
    "deactivated": Tone.MUTED,
    "error": Tone.ERROR,
    "killed": Tone.ERROR,
    "failed": Tone.ERROR,
    "deleted": Tone.ERROR,
}


def esc(text: object) -> str:
    """HTML-escape any value's text."""
    return html.escape(str(text), quote=True)


def status_tone(status: str) -> Tone:
    """The tone of an OpenStack or job status (``ACTIVE``, ``saving``, ``failed``, …)."""
    return _STATUS_TONES.get(status.strip().lower(), Tone.MUTED)


_BADGE_STYLE = (
    "display:inline-block;padding:0 7px;margin:1px 3px 1px 0;border-radius:9px;"
    "font-size:11.5px;line-height:18px;white-space:nowrap;{colours}"
)
_NOTICE_STYLE = (
    "padding:6px 10px;margin:4px 0;border-radius:4px;{colours};font-size:13px;line-height:1.4"
)


def _toned(
    tag: str, kind: str, tone: Tone, *, style: str, content: str, attributes: str = ""
) -> str:
    """``<tag class="denbi-KIND denbi-TONE">``; ``{colours}`` in ``style`` takes the tone's."""
    fg, bg, border = _COLOURS[tone]
    colours = f"color:{fg};background:{bg};border:1px solid {border}"
    return (
        f'<{tag} class="denbi-{kind} denbi-{tone.value}"{attributes} '
        f'style="{style.format(colours=colours)}">{content}</{tag}>'
    )


def badge(text: str, tone: Tone = Tone.MUTED, *, tooltip: str = "") -> str:
    """A small rounded label, e.g. a status or an image kind."""
    tip = f' title="{esc(tooltip)}"' if tooltip else ""
    return _toned("span", "badge", tone, style=_BADGE_STYLE, content=esc(text), attributes=tip)


def notice(message: str, tone: Tone = Tone.INFO, *, heading: str = "") -> str:
    """A full-width message box: errors, warnings, empty states."""
    head = f"<b>{esc(heading)}</b> " if heading else ""
    return _toned("div", "notice", tone, style=_NOTICE_STYLE, content=head + esc(message))


def title(text: str, *, sub: str = "") -> str:
    """A section heading with an optional grey subtitle."""
    subtitle = (
        f' <span style="font-weight:normal;color:#6c757d;font-size:12px">{esc(sub)}</span>'
        if sub
        else ""
    )
    return f'<div style="font-size:15px;font-weight:600;margin:4px 0">{esc(text)}{subtitle}</div>'


def human_size(size: int | None) -> str:
    """``1.4 GB``-style size; an em dash when unknown."""
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover - loop always returns


def human_time(moment: dt.datetime | None) -> str:
    """``2026-06-10 09:00`` in UTC; an em dash when unknown."""
    if moment is None:
        return "—"
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


#: Class and attribute the lab extension's delegated click handler looks for (``clipboard.ts``).
COPY_CLASS = "denbi-copy"

# The fallback when the lab extension is absent (a plain notebook, another frontend). An
# ``ipywidgets.HTML`` sets ``innerHTML``: ``<script>`` never runs, inline handlers do. The
# extension's handler runs first (capture phase) and marks the event handled. The text is read
# from ``data-copy``, never spliced into the code.
_COPY_ONCLICK = (
    "if(event.defaultPrevented)return;event.preventDefault();"
    "var b=this,t=b.getAttribute('data-copy')||'',l=b.getAttribute('data-label')||'Copy';"
    "var done=function(m){b.textContent=m;setTimeout(function(){b.textContent=l},1500)};"
    "var old=function(){var a=document.createElement('textarea');a.value=t;"
    "a.setAttribute('readonly','');a.style.position='fixed';a.style.top='-1000px';"
    "a.style.opacity='0';document.body.appendChild(a);a.select();var ok=false;"
    "try{ok=document.execCommand('copy')}catch(e){}document.body.removeChild(a);"
    "done(ok?'Copied':'Copy failed')};"
    "if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(t)"
    ".then(function(){done('Copied')},old)}else{old()}"
)
_COPY_STYLE = (
    "display:inline-block;padding:0 8px;margin:1px 4px 1px 0;border:1px solid #adb5bd;"
    "border-radius:4px;background:#f8f9fa;color:#212529;font-size:12px;line-height:20px;"
    "cursor:pointer;white-space:nowrap"
)


def _attribute(text: str) -> str:
    """``text`` escaped for a double-quoted attribute, line breaks kept as character references."""
    return esc(text).replace("\r", "&#13;").replace("\n", "&#10;")


def copy_button(text: str, *, label: str = "Copy", tooltip: str = "") -> str:
    """A small button that copies ``text`` to the clipboard and says "Copied" for a moment.

    Works through the lab extension's delegated handler on ``document`` and, without it, an
    inline ``onclick`` (``navigator.clipboard``, or a hidden textarea outside secure contexts).
    """
    tip = f' title="{esc(tooltip)}"' if tooltip else ""
    return (
        f'<button type="button" class="{COPY_CLASS}" data-copy="{_attribute(text)}" '
        f'data-label="{esc(label)}"{tip} onclick="{esc(_COPY_ONCLICK)}" '
        f'style="{_COPY_STYLE}">{esc(label)}</button>'
    )
