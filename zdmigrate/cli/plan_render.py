"""Plans for people: a terminal view, a markdown page for a pull request, and a psql
script. Each shows every statement zdmigrate sends, in the order it sends them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zdmigrate.commands import PlanReport

__all__ = ["plan_markdown", "plan_sql", "plan_text"]

_PHASES = (
    ("check", "Checks (before expand: EXPLAIN of every expression, nothing changes)"),
    ("expand", "Expand (both versions keep working)"),
    ("validate", "Validate (after the backfill)"),
    ("contract", "Contract (`zdmigrate complete`, after the new version is everywhere)"),
    ("rollback", "Rollback (`zdmigrate rollback`, any time before contract)"),
)

_SOURCES = {
    "database": "Planned against the live database.",
    "dump": "Planned against a schema dump (pg_dump --schema-only).",
    "snapshot": "Planned against a schema snapshot (zdmigrate snapshot).",
    "files": "Planned offline (schema from the earlier migration files beside this one).",
}


def _flags(step: dict[str, Any]) -> str:
    """What the step does to the table besides its lock: rewrite, scan, neither."""
    out = []
    if step["rewrites"]:
        out.append("rewrites table")
    if step["scans"]:
        out.append("scans table")
    if not out:
        out.append("no rewrite, no scan")
    if not step["transactional"]:
        out.append("outside a transaction")
    return ", ".join(out)


def _size(report: PlanReport, tables: list[str]) -> str:
    parts = []
    for t in tables:
        info = report.tables.get(t)
        if info:
            rows = (
                "rows unknown (run ANALYZE)" if info["rows"] is None else f"~{info['rows']:,} rows"
            )
            part = f"{t}: {rows}, {info['bytes'] / 1e6:.1f} MB"
            part += f"; estimated: a scan ~{info['scan_s']:g} s"
            if "backfill_s" in info:
                low, high = info["backfill_s"]
                part += f", backfill ~{low:g} s (app idle) to ~{high:g} s (busy app)"
            parts.append(part)
    return "; ".join(parts)


def _step_lines(step: dict[str, Any]) -> list[str]:
    """Every statement of a step as the executor sends it (a cleanup as comments: it is
    sent only when its check returns true)."""
    lines = list(step["before"])
    cleanup = step.get("cleanup")
    if cleanup:
        lines += [
            f"-- first, only if this returns true ({cleanup['reason']}):",
            f"--   {cleanup['check']}",
            f"--   {cleanup['statement']}",
        ]
    lines += step["sql"].splitlines()
    return lines + list(step["after"])


def _statement_lines(item: dict[str, Any]) -> list[str]:
    lines = []
    for st in item["statements"]:
        params = f" (parameters: {', '.join(st['parameters'])})" if st["parameters"] else ""
        lines += [f"-- {st['when']}{params}", *st["sql"].splitlines()]
    return lines


def _header(report: PlanReport) -> list[str]:
    data = report.to_json()
    lines = [f"Migration {data['migration']} ({data['mode']} mode)"]
    if report.migration.description:
        lines.append(report.migration.description)
    if data["search_path"]:
        lines.append(f"New app connects with: options=-c search_path={data['search_path']}")
    lines.append(_SOURCES[report.source])
    return lines


def _walk(b: dict[str, Any]) -> str:
    """How the backfill walks a table, in words."""
    how = (
        "by block ranges"
        if b.get("walk", "keys") == "blocks"
        else f"by key ({', '.join(b['key'])})"
    )
    if b.get("sessions", 1) > 1:
        how += f", up to {b['sessions']} sessions at once while no other session is at work"
    if b.get("partitioned"):
        return f'{how}, each partition on its own ("<partition>" below)'
    return how


def _backfill_text(report: PlanReport, data: dict[str, Any]) -> list[str]:
    out = ["", "== Backfill (batched, checkpointed, paced by the throttle)"]
    for b in data["phases"]["backfill"]:
        size = _size(report, [b["table"]])
        out.append(
            f"  {b['table']}: set {', '.join(b['columns'])} walking {_walk(b)}"
            + (f" [{size}]" if size else "")
        )
        out.extend("   | " + line for line in _statement_lines(b))
    for v in data["phases"]["verify"]:
        out.append(f"  verify {v['table']}: every row, new = up(old) or old = down(new)")
        out.extend("   | " + line for line in _statement_lines(v))
    return out


def _removed(data: dict[str, Any]) -> list[str]:
    """What contract takes from the old version: what the gate checks nothing uses."""
    return [
        f"{d['schema']}.{d['table']}" + (f".{d['column']}" if d["column"] else "") + f": {d['why']}"
        for d in data["deprecated"]
    ]


def plan_text(report: PlanReport) -> str:
    data = report.to_json()
    out = _header(report)
    if data["deprecated"]:
        out += ["", "== Contract takes away (the gate checks that nothing old still uses it)"]
        out += [f"  {line}" for line in _removed(data)]
    for key, title in _PHASES:
        steps = data["phases"][key]
        if key == "validate" and data["phases"]["backfill"]:
            out += _backfill_text(report, data)
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
            out.extend("   | " + line for line in _step_lines(s))
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
    lines += ["```sql", *_step_lines(s), "```", ""]
    return lines


def _md_backfill(data: dict[str, Any]) -> list[str]:
    out = ["### Backfill (batched, checkpointed, paced by the throttle)", ""]
    for b in data["phases"]["backfill"]:
        out += [f"**{b['table']}**: {', '.join(b['columns'])} walking {_walk(b)}", ""]
        out += ["```sql", *_statement_lines(b), "```", ""]
    for v in data["phases"]["verify"]:
        out += [f"**verify {v['table']}**", "", "```sql", *_statement_lines(v), "```", ""]
    return out


def _md_backfill_rows(report: PlanReport, data: dict[str, Any]) -> list[str]:
    out = []
    for b in data["phases"]["backfill"]:
        size = _size(report, [b["table"]])
        what = f"{b['table']}: {', '.join(b['columns'])}" + (f" ({size})" if size else "")
        out.append(
            f"| backfill | {what} | row locks, batched | updates every row, batch by batch |"
        )
    return out


def plan_markdown(report: PlanReport) -> str:
    data = report.to_json()
    head = _header(report)
    out = [f"## {head[0]}", "", *head[1:], ""]
    if data["deprecated"]:
        out += ["Contract takes away (the gate checks that nothing old still uses it):", ""]
        out += [f"- `{line.split(':', 1)[0]}`:{line.split(':', 1)[1]}" for line in _removed(data)]
        out.append("")
    out += ["| phase | step | lock | rewrites/scans |", "|---|---|---|---|"]
    for key, _ in _PHASES[1:4]:
        if key == "validate":  # the backfill runs between expand and validation
            out += _md_backfill_rows(report, data)
        for s in data["phases"][key]:
            out.append(f"| {key} | {s['description']} | `{s['lock']}` | {_flags(s)} |")
    out.append("")
    for key, title in _PHASES:
        if key == "validate" and data["phases"]["backfill"]:
            out += _md_backfill(data)
        steps: list[dict[str, Any]] = data["phases"][key]
        if not steps:
            continue
        out += [f"### {title}", ""]
        for i, s in enumerate(steps, 1):
            out += _md_step(i, s, report)
    return "\n".join(out).rstrip() + "\n"


def _psql_step(s: dict[str, Any]) -> list[str]:
    lines = [f"-- {s['key']}: {s['description']} (lock {s['lock']}; {_flags(s)})"]
    cleanup = s.get("cleanup")
    body = list(s["before"])
    if cleanup:
        body += [
            f"-- {cleanup['reason'].split(':')[0]}: drop it first",
            cleanup["check"].rstrip(";") + " AS zdm_cleanup \\gset",
            "\\if :zdm_cleanup",
            cleanup["statement"],
            "\\endif",
        ]
    body += [*s["sql"].splitlines(), *s["after"]]
    if s["transactional"]:
        return [*lines, "BEGIN;", *body, "COMMIT;", ""]
    return [*lines, *body, ""]


def plan_sql(report: PlanReport) -> str:
    """A psql script of the plan: the steps apply and complete run, in order, each in its
    own transaction as zdmigrate runs them (``psql -v ON_ERROR_STOP=1 -f``). The backfill
    loops in zdmigrate; its statements are listed as comments with their parameters.
    Rollback is left out: it is the way back, not a step forward."""
    data = report.to_json()
    out = [f"-- {line}" for line in _header(report)]
    out += ["-- Run with: psql -v ON_ERROR_STOP=1 -f <this file>", "\\set ON_ERROR_STOP on", ""]
    for key, title in _PHASES[:4]:
        if key == "validate" and data["phases"]["backfill"]:
            out += ["-- == Backfill: zdmigrate runs these in batches, checkpointed", ""]
            for b in data["phases"]["backfill"]:
                out += [f"--   {line}" for line in _statement_lines(b)] + [""]
        steps = data["phases"][key]
        if not steps:
            continue
        out += [f"-- == {title}", ""]
        for s in steps:
            if key == "check":
                out += [f"-- {s['description']}", *s["sql"].splitlines(), ""]
            else:
                out += _psql_step(s)
    return "\n".join(out).rstrip() + "\n"
