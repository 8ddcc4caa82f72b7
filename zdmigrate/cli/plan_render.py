"""Plans for people: a terminal view and a markdown page for a pull request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zdmigrate.commands import PlanReport

__all__ = ["plan_markdown", "plan_text"]

_PHASES = (
    ("expand", "Expand (both versions keep working)"),
    ("validate", "Validate (after the backfill)"),
    ("contract", "Contract (`zdmigrate complete`, after the new version is everywhere)"),
    ("rollback", "Rollback (`zdmigrate rollback`, any time before contract)"),
)


def _flags(step: dict[str, Any]) -> str:
    out = []
    if step["rewrites"]:
        out.append("rewrites table")
    if step["scans"]:
        out.append("scans table")
    if not step["transactional"]:
        out.append("outside a transaction")
    return ", ".join(out) or "-"


def _size(report: PlanReport, tables: list[str]) -> str:
    parts = []
    for t in tables:
        info = report.tables.get(t)
        if info:
            rows = (
                "rows unknown (run ANALYZE)" if info["rows"] is None else f"~{info['rows']:,} rows"
            )
            part = f"{t}: {rows}, {info['bytes'] / 1e6:.1f} MB"
            part += f", a scan ~{info['scan_s']:g} s"
            if "backfill_s" in info:
                part += f", backfill ~{info['backfill_s']:g} s"
            parts.append(part)
    return "; ".join(parts)


def _header(report: PlanReport) -> list[str]:
    data = report.to_json()
    lines = [f"Migration {data['migration']} ({data['mode']} mode)"]
    if report.migration.description:
        lines.append(report.migration.description)
    if data["search_path"]:
        lines.append(f"New app connects with: options=-c search_path={data['search_path']}")
    lines.append(
        "Planned against the live database."
        if report.live
        else "Planned offline (schema from the earlier migration files beside this one)."
    )
    return lines


def plan_text(report: PlanReport) -> str:
    data = report.to_json()
    out = _header(report)
    for key, title in _PHASES:
        steps = data["phases"][key]
        if key == "validate" and data["phases"]["backfill"]:
            out.append("")
            out.append("== Backfill (batched by key, checkpointed)")
            for b in data["phases"]["backfill"]:
                size = _size(report, [b["table"]])
                out.append(
                    f"  {b['table']}: set {', '.join(b['columns'])} walking ({', '.join(b['key'])})"
                    + (f" [{size}]" if size else "")
                )
        if not steps:
            continue
        out.append("")
        out.append(f"== {title}")
        for i, s in enumerate(steps, 1):
            out.append(f"{i}. {s['description']}")
            out.append(f"   lock: {s['lock']}; {_flags(s)}")
            size = _size(report, s["tables"])
            if size:
                out.append(f"   tables: {size}")
            out.extend("   | " + line for line in s["sql"].splitlines())
    return "\n".join(out)


def _md_step(i: int, s: dict[str, Any], report: PlanReport) -> list[str]:
    size = _size(report, s["tables"])
    lines = [
        f"**{i}. {s['description']}** — lock `{s['lock']}`, {_flags(s)}"
        + (f" ({size})" if size else ""),
        "",
    ]
    lines += [f"> {n}" for n in s["notes"]]
    if s["notes"]:
        lines.append("")
    lines += ["```sql", s["sql"], "```", ""]
    return lines


def plan_markdown(report: PlanReport) -> str:
    data = report.to_json()
    head = _header(report)
    out = [f"## {head[0]}", "", *head[1:], ""]
    out += ["| phase | step | lock | rewrites/scans |", "|---|---|---|---|"]
    for key, _ in _PHASES[:3]:
        for s in data["phases"][key]:
            out.append(f"| {key} | {s['description']} | `{s['lock']}` | {_flags(s)} |")
    for b in data["phases"]["backfill"]:
        size = _size(report, [b["table"]])
        what = f"{b['table']}: {', '.join(b['columns'])}" + (f" ({size})" if size else "")
        out.append(f"| backfill | {what} | row locks, batched | - |")
    out.append("")
    for key, title in _PHASES:
        steps: list[dict[str, Any]] = data["phases"][key]
        if not steps:
            continue
        out += [f"### {title}", ""]
        for i, s in enumerate(steps, 1):
            out += _md_step(i, s, report)
    return "\n".join(out).rstrip() + "\n"
