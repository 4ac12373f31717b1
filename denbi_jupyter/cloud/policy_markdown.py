"""A policy run's report as Markdown, for the Prefect artifact every run leaves.

One table row per opted-in VM (the snapshot made or why not, deletions, what is kept), then a
section per VM with deletions (each snapshot and why) and a section with every failure and
the cloud's reason. VM and snapshot names are anyone's text: they are escaped so that a name
can neither break the table nor inject markup.
"""

from __future__ import annotations

from denbi_jupyter.cloud.results import PolicyItem, PolicyRunReport
from denbi_jupyter.cloud.rules.copy import ImageUsage

__all__ = ["policy_report_markdown", "quota_line"]

_ESCAPED = str.maketrans({
    "|": "\\|", "\\": "\\\\", "`": "\\`", "*": "\\*", "_": "\\_", "[": "\\[", "]": "\\]",
    "<": "&lt;", ">": "&gt;", "&": "&amp;", "#": "\\#",
})  # fmt: skip


def _md(text: str) -> str:
    """``text`` as one line of literal Markdown table text."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat.translate(_ESCAPED)


def _snapshot_cell(item: PolicyItem) -> str:
    if item.outcome in ("made", "reused"):
        again = " (made by an earlier run of this slot)" if item.outcome == "reused" else ""
        return f"✅ `{_md(item.image_id or '')}`{again}"
    if item.outcome == "failed":
        return f"❌ {_md(item.error or item.reason)}"
    return _md(item.reason)


def _deleted_cell(item: PolicyItem) -> str:
    if not item.deletions:
        return "none"
    failed = sum(d.outcome.startswith("failed") for d in item.deletions)
    return f"{len(item.deletions)}" + (f" ({failed} failed)" if failed else "")


def _left(limit: int | None, used: int | None, unit: str, scale: float = 1.0) -> str | None:
    if limit is None or limit < 0:
        return None
    left = max(0, limit - (used or 0))
    shown = f"{left / scale:.1f}" if scale != 1.0 else str(left)
    total = f"{limit / scale:.1f}" if scale != 1.0 else str(limit)
    return f"{shown} of {total} {unit} left"


def quota_line(quota: ImageUsage | None, error: str = "") -> str:
    """The project's image quota after the run, in one sentence."""
    if error:
        return f"Image quota after the run: could not be read ({_md(error)})."
    if quota is None:
        return "Image quota after the run: not read."
    parts = [
        part
        for part in (
            _left(quota.count_limit, quota.count_used, "images"),
            _left(quota.size_limit_mib, quota.size_used_mib, "GiB", 1024.0),
        )
        if part
    ]
    if not parts:
        return "Image quota after the run: no limit (unlimited, or this Glance reports none)."
    return f"Image quota after the run: {', '.join(parts)}."


def policy_report_markdown(report: PolicyRunReport) -> str:
    """The artifact's Markdown for ``report``."""
    verb = "would delete" if report.dry_run else "deleted"
    failures = report.failures
    status = f"❌ {len(failures)} VM(s) failed" if failures else "✅ no failures"
    lines = [
        f"# Snapshot policies on {_md(report.site)}",
        "",
        f"Run at {_md(report.at)} UTC{' (dry run)' if report.dry_run else ''}: "
        f"{len(report.items)} VM(s) with a policy, {status}.",
        "",
        quota_line(report.quota, report.quota_error),
        "",
    ]
    if not report.items:
        lines.append(
            "No VM of the project has a snapshot policy (metadata `denbi_snapshot_policy`)."
        )
        return "\n".join(lines) + "\n"
    lines += [
        f"| VM | policy | snapshot | {verb} | kept |",
        "|---|---|---|---|---|",
    ]
    for item in report.items:
        lines.append(
            f"| {_md(item.server)} | {_md(item.policy) or '—'} | {_snapshot_cell(item)} | "
            f"{_deleted_cell(item)} | {item.kept} |"
        )
    for item in report.items:
        if item.deletions:
            lines += ["", f"## {_md(item.server)}: {verb}", ""]
            lines += [
                f"- `{_md(d.image_id)}` {_md(d.name)}: {_md(d.reason)}"
                + (f" → {_md(d.outcome)}" if d.outcome else "")
                for d in item.deletions
            ]
    if failures:
        lines += ["", "## Failures", ""]
        for item in failures:
            causes = [item.error] if item.error else []
            causes += [
                f"{d.image_id}: {d.outcome}"
                for d in item.deletions
                if d.outcome.startswith("failed")
            ]
            lines += [f"- {_md(item.server)}: {_md('; '.join(c for c in causes if c))}"]
    return "\n".join(lines) + "\n"
