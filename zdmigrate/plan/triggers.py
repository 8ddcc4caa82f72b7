"""The dual-write trigger: one BEFORE INSERT OR UPDATE trigger per table and migration.

It only assigns to NEW. It decides who wrote the row from the session setting
``zdmigrate.version``, then (version mode) whether ``search_path`` contains the
new version schema. Old writers get ``up`` transforms, new writers ``down``.
A transform runs on INSERT, when a column it reads changed, or (for ``up``)
when the row has not been backfilled yet, so a value a new writer stored is
never replaced by ``up(down(x))``. Whether ``down`` runs is decided on the row
as the writer gave it, before an ``up`` fills a shadow column (a new writer's
update of another column of a row not backfilled yet), so that fill never
rewrites the old column with ``down(up(x))``. The backfill's own session skips
the trigger through its WHEN clause.
"""

from __future__ import annotations

from pglast import ast, parse_sql
from pglast.visitors import Visitor
from psycopg import sql

from zdmigrate.ops._work import MARKER, TableWork, Transform, internal_name
from zdmigrate.spec.expr import rename_columns

__all__ = [
    "BACKFILL_SETTING",
    "drop_trigger_sql",
    "referenced_columns",
    "trigger_names",
    "trigger_sql",
]

BACKFILL_SETTING = "zdmigrate.backfill"


class _Refs(Visitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_ColumnRef(self, ancestors: object, node: ast.ColumnRef) -> None:
        fields = node.fields or ()
        if len(fields) == 1 and isinstance(fields[0], ast.String):
            self.names.add(str(fields[0].sval))


def referenced_columns(expr: str, columns: list[str]) -> list[str]:
    """The columns among ``columns`` that ``expr`` names, in ``columns`` order."""
    visitor = _Refs()
    visitor(parse_sql("SELECT " + expr))
    return [c for c in columns if c in visitor.names]


def trigger_names(migration: str, table: str) -> tuple[str, str]:
    """(trigger, function) of ``migration`` on ``table``."""
    return internal_name("trg", migration), internal_name(migration, table)


def drop_trigger_sql(migration: str, schema: str, table: str, if_exists: bool) -> list[str]:
    """DROP the trigger and its function."""
    trigger, function = trigger_names(migration, table)
    maybe = sql.SQL("IF EXISTS " if if_exists else "")
    drops = [
        sql.SQL("DROP TRIGGER {}{} ON {};").format(
            maybe, sql.Identifier(trigger), sql.Identifier(schema, table)
        ),
        sql.SQL("DROP FUNCTION {}{}();").format(maybe, sql.Identifier("zdmigrate", function)),
    ]
    return [d.as_string() for d in drops]


def _row(prefix: str, columns: list[str]) -> str:
    fields = ", ".join(f"{prefix}.{sql.Identifier(c).as_string()}" for c in columns)
    return fields if len(columns) == 1 else f"ROW({fields})"


def _changed(columns: list[str]) -> str:
    if not columns:
        return "false"
    return f"{_row('NEW', columns)} IS DISTINCT FROM {_row('OLD', columns)}"


def _not_written(target: str) -> str:
    t = sql.Identifier(target).as_string()
    return (
        f"((TG_OP = 'INSERT' AND NEW.{t} IS NULL) OR "
        f"(TG_OP = 'UPDATE' AND NEW.{t} IS NOT DISTINCT FROM OLD.{t}))"
    )


def _assign(t: Transform, condition: str, columns: dict[str, str]) -> str:
    """``NEW.target := expr`` with the expression's column names read from NEW."""
    target = sql.Identifier(t.target).as_string()
    expr = rename_columns(t.expr, columns, qualifier="new")
    return f"  IF {condition} THEN\n    NEW.{target} := ({expr});\n  END IF;"


def _up_condition(t: Transform, refs: list[str], marker: str, physical: bool) -> str:
    fresh = f"(TG_OP = 'INSERT' OR {marker} OR {_changed(refs)})"
    if physical:
        return f"NOT _zdm_new AND {_not_written(t.target)} AND {fresh}"
    target = sql.Identifier(t.target).as_string()
    catch_up = (
        f"(_zdm_new AND TG_OP = 'UPDATE' AND {marker} "
        f"AND NEW.{target} IS NOT DISTINCT FROM OLD.{target})"
        if marker != "false"
        else "false"
    )
    return f"(NOT _zdm_new AND {fresh}) OR {catch_up}"


def _down_condition(t: Transform, refs: list[str], physical: bool) -> str:
    fresh = f"(TG_OP = 'INSERT' OR {_changed(refs)})"
    writer = f"(_zdm_new OR {_not_written(t.target)})" if physical else "_zdm_new"
    return f"{writer} AND {fresh}"


def _detect(migration: str, version_schema: str | None) -> str:
    mine = sql.Literal(migration).as_string()
    test = f"COALESCE(current_setting('zdmigrate.version', true), '') = {mine}"
    if version_schema is None:
        return test
    path = "',' || replace(replace(current_setting('search_path'), ' ', ''), '\"', '') || ','"
    entry = sql.Literal(f",{version_schema},").as_string()
    return f"{test}\n    OR strpos({path}, {entry}) > 0"


def trigger_sql(
    work: TableWork, migration: str, schema: str, version_schema: str | None
) -> tuple[str, str]:
    """(CREATE FUNCTION, CREATE TRIGGER) for ``work``'s transforms."""
    physical = version_schema is None
    trigger, function = trigger_names(migration, work.table.name)
    marker = f"OLD.{sql.Identifier(MARKER).as_string()}" if work.needs_backfill else "false"
    old_cols = [c.name for c in work.table.app_columns]
    new_sources = {c.name: c.source for c in work.view_columns}
    body: list[str] = []
    flags: list[str] = []
    ups = [t for t in work.transforms if t.direction == "up"]
    downs = [t for t in work.transforms if t.direction == "down"]
    old_names = {c: c for c in old_cols}
    for t in ups:
        condition = _up_condition(t, referenced_columns(t.expr, old_cols), marker, physical)
        body.append(_assign(t, condition, old_names))
    names = list(new_sources)
    for i, t in enumerate(downs):
        # decided on the row as the writer gave it, before an up transform fills a
        # shadow column: that fill is not a write of the new version to undo with down
        sources = [new_sources[n] for n in referenced_columns(t.expr, names)]
        flags.append(f"_zdm_down{i}")
        body.insert(i, f"  _zdm_down{i} := {_down_condition(t, sources, physical)};")
        body.append(_assign(t, f"_zdm_down{i}", new_sources))
    if work.needs_backfill:
        m = sql.Identifier(MARKER).as_string()
        body.append(f"  IF NEW.{m} THEN\n    NEW.{m} := false;\n  END IF;")
    fn = sql.Identifier("zdmigrate", function).as_string()
    table = sql.Identifier(schema, work.table.name).as_string()
    function_sql = (
        f"CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $zdm$\n"
        f"DECLARE\n  _zdm_new boolean := {_detect(migration, version_schema)};\n"
        + "".join(f"  {flag} boolean;\n" for flag in flags)
        + "BEGIN\n"
        + "\n".join(body)
        + "\n  RETURN NEW;\nEND\n$zdm$;"
    )
    trigger_stmt = (
        f"CREATE TRIGGER {sql.Identifier(trigger).as_string()} BEFORE INSERT OR UPDATE ON {table}\n"
        f"  FOR EACH ROW WHEN (current_setting('{BACKFILL_SETTING}', true) IS DISTINCT FROM 'on')\n"
        f"  EXECUTE FUNCTION {fn}();"
    )
    return function_sql, trigger_stmt
