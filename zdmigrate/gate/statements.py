"""The ``statements`` source: statements in pg_stat_statements that ran during the
observation window and still read or write what contract removes.

A statement's text is resolved against the live schema (``refs.uses``). The
same text can come from the new version too, through its version schema's
views: pg_stat_statements then has a second entry with another queryid,
because the queryid depends on the relations the statement resolved to. So a
candidate is confirmed by computing its queryid as the old version would run
it, with ``EXPLAIN (VERBOSE)`` under the old version's search_path: once with
its ``$n`` as NULL constants (the queryid ignores a constant's value), once
prepared with its parameter types as inferred and with its integer parameters
as smallint, integer and bigint (a driver's bind parameters hash their
types). A match: the old version ran it. A match under the new version's
search_path instead: not evidence. Neither (say a literal whose type needs a
cast where NULL needs none): counted as evidence, and the evidence says that
it could not be told apart.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

import psycopg
from pglast import fingerprint
from psycopg import errors as pgerr
from psycopg import sql

from zdmigrate.engine.introspect import introspect
from zdmigrate.gate import refs
from zdmigrate.gate.report import SourceResult
from zdmigrate.gate.window import Reader
from zdmigrate.model.step import Plan

__all__ = ["DEALLOC", "Resolver", "is_own_probe", "judge", "prepare", "resolves_to"]

Conn = psycopg.Connection[Any]
SOURCE = "statements"
_ENABLE = (
    "load it with shared_preload_libraries = 'pg_stat_statements', then "
    "CREATE EXTENSION pg_stat_statements in this database (docs/gate.md)"
)
_PARAM = re.compile(r"\$\d+")
DEALLOC = _DEALLOC = "dealloc"  # not a queryid: pg_stat_statements_info's count of evicted entries
# inside the statement: pg_stat_statements leaves out comments before it
_MARK = "/*zdmigrate-gate*/"


def is_own_probe(text: str) -> bool:
    """The gate's own EXPLAIN and PREPARE statements."""
    return _MARK in text or "_zdm_gate" in text


def _fingerprint(text: str) -> str | None:
    """The statement's shape, constants and parameter numbers aside (pglast)."""
    try:
        return str(fingerprint(text))
    except Exception:  # pglast raises its own ParseError; anything else: not comparable
        return None


def _own(plan: Plan) -> set[str]:
    """The statements zdmigrate itself sends for this migration (backfill, verify, steps):
    they read the old columns on purpose and are never evidence."""
    texts = [s.sql for name in Plan.STEP_LISTS for s in getattr(plan, name)]
    texts += [q for b in plan.backfill for _, q, _ in b.statements()]
    texts += [st["sql"] for v in plan.verify for st in v.describe()["statements"]]
    prints = {_fingerprint(re.sub(r"(?<!%)%s", "$1", t).replace("%%", "%")) for t in texts}
    return {p for p in prints if p is not None}


def _view(conn: Conn) -> sql.Composable | None:
    row = conn.execute(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_stat_statements'"
    ).fetchone()
    return sql.Identifier(str(row[0]), "pg_stat_statements") if row else None


def _counts(conn: Conn, view: sql.Composable) -> dict[str, list[Any]]:
    """queryid -> [calls, query text] of this database's statements."""
    query = sql.SQL(
        "SELECT queryid::text, sum(calls)::bigint, min(query) FROM {} "
        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND queryid IS NOT NULL GROUP BY queryid"
    ).format(view)
    counts = {qid: [int(calls), text] for qid, calls, text in conn.execute(query).fetchall()}
    # entries evicted since the server started: a recreated entry counts from 0 again
    info = sql.SQL("SELECT dealloc FROM {}").format(_info(view))
    counts[_DEALLOC] = [int(conn.execute(info).fetchone()[0]), None]  # type: ignore[index]
    return counts


def _info(view: sql.Composable) -> sql.Composable:
    schema = view.as_string().split(".")[0]
    return sql.SQL(schema + ".pg_stat_statements_info")


def _explained_id(conn: Conn, statement: str) -> str | None:
    row = conn.execute(f"EXPLAIN {_MARK} (VERBOSE, FORMAT JSON) {statement}").fetchone()
    qid = row[0][0].get("Query Identifier") if row else None
    return None if qid is None else str(qid)


_INTEGERS = ("smallint", "integer", "bigint")


def _prepared_ids(conn: Conn, text: str, count: int) -> set[str]:
    """The queryids of ``text`` prepared with its parameter types as PostgreSQL infers
    them, and with its integer parameters as each integer type a driver may send."""
    conn.execute(f"PREPARE _zdm_gate {_MARK} AS {text}")
    row = conn.execute(
        "SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = '_zdm_gate'"
    ).fetchone()
    conn.execute("DEALLOCATE _zdm_gate")
    inferred = list(row[0]) if row else []
    variants = [inferred] + [
        [t if t not in _INTEGERS else width for t in inferred] for width in _INTEGERS
    ]
    ids = set()
    nulls = ", ".join(["NULL"] * count)
    for types in {tuple(v) for v in variants}:
        conn.execute(f"PREPARE _zdm_gate ({', '.join(types)}) {_MARK} AS {text}")
        qid = _explained_id(conn, f"EXECUTE _zdm_gate ({nulls})" if count else "EXECUTE _zdm_gate")
        conn.execute("DEALLOCATE _zdm_gate")
        if qid is not None:
            ids.add(qid)
    return ids


def _constant_forms(text: str, count: int) -> list[str]:
    """``text`` with its ``$n`` as constants: NULL (takes any type) or 0 (an integer, as
    in ``id = 3`` on a bigint column), every mix of them for a few placeholders."""
    if count > 6:
        mixes: list[tuple[str, ...]] = [("NULL",) * count, ("0",) * count]
    else:
        mixes = list(itertools.product(("NULL", "0"), repeat=count))
    return [_PARAM.sub(_placing(mix), text) for mix in mixes]


def _placing(mix: tuple[str, ...]) -> Callable[[re.Match[str]], str]:
    return lambda m: mix[int(m[0][1:]) - 1]


def resolves_to(conn: Conn, text: str, search_path: str, qid: str) -> bool:
    """Whether ``text`` gets the queryid ``qid`` under ``search_path``: with its ``$n``
    as constants (the queryid ignores a constant's value, not its type), or as
    parameters of the likely types. A form that does not plan (a type mismatch) is
    passed over; the first form that matches ends the search."""
    count = max((int(m[1:]) for m in _PARAM.findall(text)), default=0)
    ids: set[str] = set()
    forms: list[str | None] = [*_constant_forms(text, count), None if count else text]
    for form in forms:  # None: prepared with its parameters
        try:
            with conn.transaction(force_rollback=True):
                conn.execute("SELECT set_config('search_path', %s, true)", (search_path,))
                conn.execute("SET LOCAL statement_timeout = '5s'")
                if form is None:
                    ids |= _prepared_ids(conn, text, count)
                elif (found := _explained_id(conn, form)) is not None:
                    ids.add(found)
        except psycopg.Error:
            continue
        if qid in ids:
            return True
    return False


def _views(conn: Conn, schemas: list[str]) -> dict[tuple[str, str], str]:
    rows = conn.execute(
        "SELECT schemaname, viewname, definition FROM pg_views WHERE schemaname = ANY(%s)",
        (schemas,),
    ).fetchall()
    return {(s, v): d for s, v, d in rows}


def _grown(before: dict[str, int], now: dict[str, list[Any]]) -> list[tuple[str, int, str]]:
    return [
        (qid, calls - int(before.get(qid, 0)), text)
        for qid, (calls, text) in now.items()
        if calls > int(before.get(qid, 0))
    ]


def prepare(conn: Conn, plan: Plan, any_change: bool = False) -> SourceResult | Reader:
    """The reader of this database's statement counters, or why there is none to read
    (``any_change``: even when contract takes nothing away, as for rollback)."""
    if not plan.deprecated and not any_change:
        return SourceResult(SOURCE, "clear", "contract takes nothing away from the old version")
    view = _view(conn)
    if view is None:
        return SourceResult(
            SOURCE, "unavailable", f"pg_stat_statements is not installed: {_ENABLE}"
        )
    setting = conn.execute("SELECT current_setting('compute_query_id')").fetchone()
    if setting and setting[0] == "off":
        return SourceResult(
            SOURCE, "unavailable", "compute_query_id is off: set it to auto or on (docs/gate.md)"
        )
    try:
        with conn.transaction():
            conn.execute(sql.SQL("SELECT dealloc FROM {}").format(_info(view)))
    except pgerr.ObjectNotInPrerequisiteState:  # created but not preloaded
        return SourceResult(SOURCE, "unavailable", f"pg_stat_statements is not loaded: {_ENABLE}")
    return lambda c: _counts(c, view)


def judge(
    conn: Conn, plan: Plan, before: dict[str, int], now: dict[str, Any], window_s: float
) -> SourceResult:
    """Statements whose calls grew between the two readings and that use what goes."""
    evicted = now[_DEALLOC][0] - int(before.get(_DEALLOC, now[_DEALLOC][0]))
    if evicted > 0:
        return SourceResult(
            SOURCE,
            "unavailable",
            f"pg_stat_statements evicted {evicted} entries during the window, so counts "
            "restarted: raise pg_stat_statements.max or use a shorter --window",
        )
    counts = {k: v for k, v in now.items() if k != _DEALLOC}
    return _judge(conn, plan, _grown(before, counts), window_s)


def _moves_columns(used: list[refs.Use], plan: Plan) -> bool:
    """An INSERT without a column list into a table whose column changes type: contract
    moves that column to the end, so the statement breaks for either version."""
    reasons = {d: d.why for d in plan.deprecated}  # equal whatever the reason
    return any(
        u.why.startswith("INSERT without a column list")
        and reasons.get(u.object, "").startswith("replaced")
        for u in used
    )


class Resolver:
    """Tells whether a statement's text uses what contract removes, and whether the old
    version ran it: its queryid (when known) computed under each version's search_path."""

    def __init__(self, conn: Conn, plan: Plan) -> None:
        self.conn = conn
        self.plan = plan
        self.schemas = [p.schema for p in plan.schema_parts]
        self.catalogs = {schema: introspect(conn, schema) for schema in self.schemas}
        self.deprecated = set(plan.deprecated)
        self.old_path = ", ".join(sql.Identifier(s).as_string() for s in [*self.schemas, "public"])
        versions = ", ".join(sql.Identifier(v).as_string() for v in plan.version_schemas)
        self.new_path = f"{versions}, {self.old_path}" if versions else None
        self.views = _views(conn, self.schemas)
        self.names = {d.table.lower() for d in plan.deprecated} | {v.lower() for _, v in self.views}
        self.own = _own(plan)

    def old_use(self, text: str, qid: str | None) -> dict[str, Any] | None:
        """Evidence fields (``what``, ``uses``, ``origin``) when ``text`` uses a deprecated
        object and may be the old version's; None when not, or when it is the new
        version's (through its version schema). Without a queryid it counts as old."""
        if _MARK in text or "_zdm_gate" in text or _fingerprint(text) in self.own:
            return None
        if not any(name in text.lower() for name in self.names):
            return None  # names no deprecated table, nor a view over one: cheaper than parsing
        used = refs.uses(
            text, self.catalogs, [*self.schemas, "public"], self.deprecated, self.views
        )
        if not used:
            return None
        if qid is None:
            sure = "no queryid to tell the versions apart (compute_query_id); counted as old"
        else:
            as_old = resolves_to(self.conn, text, self.old_path, qid)
            as_new = self.new_path is not None and resolves_to(self.conn, text, self.new_path, qid)
            if as_new and not as_old and not _moves_columns(used, self.plan):
                return None  # the new version, through its version schema
            if as_old and not as_new:
                sure = "the old version's (its queryid resolves to the tables)"
            else:  # PostgreSQL 18 names relations in the queryid: both versions share it
                sure = "could not be told apart from the new version's; counted as the old one's"
        what = ", ".join(
            sorted({f"{u.how} {u.object.table}.{u.object.column or '*'}" for u in used})
        )
        return {"what": what, "uses": sorted({u.why for u in used}), "origin": sure}


def _judge(
    conn: Conn, plan: Plan, grown: list[tuple[str, int, str]], window_s: float
) -> SourceResult:
    resolver = Resolver(conn, plan)
    evidence, hidden = [], 0
    for qid, calls, text in grown:
        if text is None or text.startswith("<insufficient privilege>"):
            hidden += 1
            continue
        found = resolver.old_use(text, qid)
        if found is None:
            continue
        evidence.append(
            {
                "summary": f"{calls} calls in the last {window_s:g} s {found['what']}: "
                f"{text[:120]}",
                "query": text,
                "queryid": qid,
                "calls": calls,
                "uses": found["uses"],
                "origin": found["origin"],
            }
        )
    if evidence:
        return SourceResult(SOURCE, "found", evidence=evidence)
    if hidden:
        return SourceResult(
            SOURCE,
            "unavailable",
            f"the text of {hidden} statements of other roles cannot be read: "
            "GRANT pg_read_all_stats TO the migration role",
        )
    return SourceResult(SOURCE, "clear")
