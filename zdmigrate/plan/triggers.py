"""The dual-write trigger: one BEFORE INSERT OR UPDATE trigger per table and migration.

It only assigns to NEW. In version mode it decides who wrote the row by what the
session resolves: a new writer has the version schema in its effective search
path (``current_schemas``: it exists and the role may use it) before the table's
schema, so it wrote through the views. A session that declares the new version
(``zdmigrate.version``) without resolving through them is refused, since its
write cannot be attributed; so is one the trigger takes for the old version that wrote
a column only the new shape has (through a view named with its schema), whose
value ``up`` would overwrite. Physical mode goes by ``zdmigrate.version`` and by
the columns written. Old writers get ``up`` transforms, new writers ``down``.
A transform runs on INSERT, when a column it reads changed, or (for ``up``)
when the row has not been backfilled yet, so a value a new writer stored is
never replaced by ``up(down(x))``. Whether ``down`` runs is decided on the row
as the writer gave it, before an ``up`` fills a shadow column (a new writer's
update of another column of a row not backfilled yet), so that fill never
rewrites the old column with ``down(up(x))``.

The backfill's own writes must not run the function (they set the new columns
themselves). On a table with a backfill the trigger is two: one for INSERT, and
one for UPDATE whose WHEN clause skips an update that turns the backfill marker
from true to false, which only the backfill writes (an application's UPDATE
leaves the marker as it was; the function itself clears it). The WHEN clause
compares two columns of the row; the previous one read a session setting for
every row (``current_setting``), which made a backfill's UPDATE 19-32 % slower
(docs/performance.md). What remains is PostgreSQL's own cost of any BEFORE
UPDATE row trigger: it locks each row before it reads the WHEN clause. The
backfill still sets that setting, for triggers an earlier release created.
A table without a backfill has one trigger without a WHEN clause.

Every old-version write also takes one value of the migration's write counter,
a sequence (``writes_sequence``): the gate's ``writes`` source reads how many
it took during its window. nextval takes no row lock and waits for no other
writer, so the count costs the old app nearly nothing.
"""

from __future__ import annotations

from psycopg import sql

from zdmigrate.model.schema import MARKER, internal_name
from zdmigrate.ops import TableWork, Transform
from zdmigrate.plan.backfill import BACKFILL_SETTING
from zdmigrate.spec.expr import referenced_columns, rename_columns

__all__ = [
    "BACKFILL_SETTING",
    "drop_trigger_sql",
    "trigger_names",
    "trigger_sql",
    "update_trigger_name",
    "writes_counter_sql",
    "writes_sequence",
]


def trigger_names(migration: str, table: str, scope: str | None = None) -> tuple[str, str]:
    """(trigger, function) of ``migration`` on ``table`` (of schema ``scope`` when the
    migration changes tables of several schemas, which may share a table name): the
    INSERT OR UPDATE trigger of a table without a backfill, the INSERT one of a table
    with a backfill."""
    function = internal_name(migration, scope, table) if scope else internal_name(migration, table)
    return internal_name("trg", migration), function


def update_trigger_name(migration: str) -> str:
    """The UPDATE trigger of ``migration`` on a table with a backfill."""
    return internal_name("trgu", migration)


# the variable the counter's value goes to (the trigger functions use none of it)
COUNTED = "_zdm_counted"


def writes_sequence(migration: str) -> str:
    """The sequence counting ``migration``'s old-version writes (in the table's schema,
    which every writer of the table can already reach)."""
    return internal_name("writes", migration)


def writes_counter_sql(migration: str, schema: str) -> tuple[list[str], list[str]]:
    """(create, drop) of the write counter. USAGE for PUBLIC: every role that writes
    through the trigger takes a value, and a role that could not would see its
    write fail."""
    seq = sql.Identifier(schema, writes_sequence(migration))
    create = [
        sql.SQL("CREATE SEQUENCE {} AS bigint CACHE 1;").format(seq).as_string(),
        sql.SQL("GRANT USAGE ON SEQUENCE {} TO PUBLIC;").format(seq).as_string(),
    ]
    return create, [sql.SQL("DROP SEQUENCE IF EXISTS {};").format(seq).as_string()]


def _count_write(migration: str, schema: str) -> str:
    """The old writer takes a value of the counter. An assignment, not PERFORM: PL/pgSQL
    evaluates it as a simple expression, where PERFORM runs a query through SPI (1.65
    against 0.45 microseconds a call, measured in a loop of a million)."""
    name = sql.Identifier(schema, writes_sequence(migration)).as_string()
    return f"  {COUNTED} := nextval({sql.Literal(name).as_string()}::regclass);"


def drop_trigger_sql(
    migration: str,
    schema: str,
    table: str,
    if_exists: bool,
    backfill: bool,
    scoped: bool = False,
) -> list[str]:
    """DROP the trigger (two on a table with a ``backfill``) and its function."""
    trigger, function = trigger_names(migration, table, schema if scoped else None)
    names = [trigger, update_trigger_name(migration)] if backfill else [trigger]
    maybe = sql.SQL("IF EXISTS " if if_exists else "")
    drops = [
        sql.SQL("DROP TRIGGER {}{} ON {};").format(
            maybe, sql.Identifier(name), sql.Identifier(schema, table)
        )
        for name in names
    ]
    drops.append(
        sql.SQL("DROP FUNCTION {}{}();").format(maybe, sql.Identifier("zdmigrate", function))
    )
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


def _fresh_up(refs: list[str], marker: str) -> str:
    return f"(TG_OP = 'INSERT' OR {marker} OR {_changed(refs)})"


def _catch_up(t: Transform, marker: str) -> str | None:
    """A new writer's update of another column of a row not backfilled yet."""
    if marker == "false":
        return None
    target = sql.Identifier(t.target).as_string()
    return f"TG_OP = 'UPDATE' AND {marker} AND NEW.{target} IS NOT DISTINCT FROM OLD.{target}"


def _fresh_down(refs: list[str]) -> str:
    return f"(TG_OP = 'INSERT' OR {_changed(refs)})"


def _declared(migration: str) -> str:
    mine = sql.Literal(migration).as_string()
    return f"COALESCE(current_setting('zdmigrate.version', true), '') = {mine}"


def _resolves(version_schema: str, schema: str) -> str:
    """The session resolves the table through the version schema: the schema is in its
    *effective* search_path (it exists and the role has USAGE on it) before the table's
    own schema. A strpos on the raw setting first: one cheap call rules out the old
    app's sessions."""
    vs = sql.Literal(version_schema).as_string()
    own = sql.Literal(schema).as_string()
    last = "2147483647"
    return (
        f"strpos(current_setting('search_path'), {vs}) > 0"
        f"\n    AND COALESCE(array_position(current_schemas(false), {vs}::name), {last})"
        f"\n      < COALESCE(array_position(current_schemas(false), {own}::name), {last})"
    )


def _refuse_misdeclared(migration: str, version_schema: str, search_path: str) -> str:
    """A session that declares the new version but does not resolve its tables through
    the version schema writes the old shape: refuse rather than misattribute it."""
    message = sql.Literal(
        f"zdmigrate: this session declares version {migration} (zdmigrate.version) but "
        f"does not use version schema {version_schema}: its write cannot be attributed"
    ).as_string()
    hint = sql.Literal(
        f"GRANT USAGE ON SCHEMA {version_schema} (and the privileges on its views) to "
        f"this role, and connect with search_path={search_path}"
    ).as_string()
    return (
        f"  IF {_declared(migration)} THEN\n"
        f"    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',\n"
        f"      MESSAGE = {message},\n"
        f"      HINT = {hint};\n"
        "  END IF;"
    )


def _refuse_new_shape(p: _Parts, table: str, version_schema: str, search_path: str) -> str:
    """A session the trigger takes for the old version that wrote a column only the new
    shape has, a value ``up`` would not give: it wrote through a view of the version
    schema by its qualified name without resolving through it, and ``up`` would
    overwrite what it wrote. Refuse rather than lose it.

    An old writer leaves such a column as it was on UPDATE, and NULL on INSERT unless the
    column has a default in the table (then an INSERT cannot tell, and is not refused).
    A value equal to what ``up`` gives (a row copied with ``INSERT ... SELECT *``) loses
    nothing. Only a write of such a column evaluates ``up`` here."""
    if not p.ups:
        return ""
    named = {source: name for name, source in p.new_sources.items()}
    lost = []
    for t in p.ups:
        col = f"NEW.{sql.Identifier(t.target).as_string()}"
        wrote = f"(TG_OP = 'UPDATE' AND {_changed([t.target])})"
        if not t.target_default:
            wrote = f"({wrote} OR (TG_OP = 'INSERT' AND {col} IS NOT NULL))"
        expr = rename_columns(t.expr, {c: c for c in p.old_cols}, qualifier="new")
        lost.append(f"({wrote} AND {col} IS DISTINCT FROM CAST(({expr}) AS {t.type}))")
    columns = ", ".join(named.get(t.target, t.target) for t in p.ups)
    message = sql.Literal(
        f"zdmigrate: this session wrote {columns} of {table} through version schema "
        f"{version_schema} without using it (its search_path does not put {version_schema} "
        f"first): its write cannot be attributed"
    ).as_string()
    hint = sql.Literal(
        f"connect with search_path={search_path} (or SET it) to write the new version's "
        f"columns (docs/connecting.md)"
    ).as_string()
    return (
        f"  IF {' OR '.join(lost)} THEN\n"
        f"    RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',\n"
        f"      MESSAGE = {message},\n"
        f"      HINT = {hint};\n"
        "  END IF;"
    )


def _indent(blocks: list[str]) -> list[str]:
    return ["\n".join("  " + line for line in block.split("\n")) for block in blocks]


class _Parts:
    """The pieces of one table's trigger body, before they are put in order."""

    def __init__(self, work: TableWork) -> None:
        self.marker = (
            f"OLD.{sql.Identifier(MARKER).as_string()}" if work.needs_backfill else "false"
        )
        self.old_cols = [c.name for c in work.table.app_columns]
        self.new_sources = {c.name: c.source for c in work.view_columns}
        self.ups = [t for t in work.transforms if t.direction == "up"]
        self.downs = [t for t in work.transforms if t.direction == "down"]
        self.flags = [f"_zdm_down{i}" for i in range(len(self.downs))]

    def up_refs(self, t: Transform) -> list[str]:
        return referenced_columns(t.expr, self.old_cols)

    def down_refs(self, t: Transform) -> list[str]:
        names = list(self.new_sources)
        return [self.new_sources[n] for n in referenced_columns(t.expr, names)]

    def up(self, t: Transform, condition: str) -> str:
        return _assign(t, condition, {c: c for c in self.old_cols})

    def down(self, i: int) -> str:
        return _assign(self.downs[i], self.flags[i], self.new_sources)


def _version_body(p: _Parts, detect: str, refuse: list[str], count: str) -> list[str]:
    """One branch per writer: the old app's rows evaluate only the up conditions.

    The down flags are decided on the row as the new writer gave it, before a
    catch-up fills a shadow column: that fill is not a write to undo with down.
    """
    new_side = [
        f"  {flag} := {_fresh_down(p.down_refs(t))};"
        for flag, t in zip(p.flags, p.downs, strict=True)
    ]
    for t in p.ups:
        catch_up = _catch_up(t, p.marker)
        if catch_up is not None:
            new_side.append(p.up(t, catch_up))
    new_side.extend(p.down(i) for i in range(len(p.downs)))
    old_side = [*refuse, count, *(p.up(t, _fresh_up(p.up_refs(t), p.marker)) for t in p.ups)]
    return [
        f"  IF {detect} THEN",
        *_indent(new_side or ["  NULL;"]),
        "  ELSE",
        *_indent(old_side),
        "  END IF;",
    ]


def _physical_body(p: _Parts, count: str) -> list[str]:
    """Physical mode: a writer of the old column is old, of the new one new. A write
    is counted as old when it changed an old column and did not write its new one."""
    body = []
    olds = [f"({_not_written(t.target)} AND {_fresh_up(p.up_refs(t), 'false')})" for t in p.ups]
    if olds:
        body.append(f"  IF NOT _zdm_new AND ({' OR '.join(olds)}) THEN\n  {count}\n  END IF;")
    for flag, t in zip(p.flags, p.downs, strict=True):
        writer = f"(_zdm_new OR {_not_written(t.target)})"
        body.append(f"  {flag} := {writer} AND {_fresh_down(p.down_refs(t))};")
    for t in p.ups:
        fresh = _fresh_up(p.up_refs(t), p.marker)
        body.append(p.up(t, f"NOT _zdm_new AND {_not_written(t.target)} AND {fresh}"))
    body.extend(p.down(i) for i in range(len(p.downs)))
    return body


def trigger_sql(
    work: TableWork,
    migration: str,
    schema: str,
    version_schema: str | None,
    scoped: bool = False,
    search_path: str | None = None,
) -> tuple[str, list[str]]:
    """(CREATE FUNCTION, the CREATE TRIGGERs) for ``work``'s transforms; ``search_path``:
    the new version's, which the refusal's hint names (default: the version schema, then
    ``schema``)."""
    trigger, function = trigger_names(migration, work.table.name, schema if scoped else None)
    parts = _Parts(work)
    count = _count_write(migration, schema)
    declare = [f"  {COUNTED} bigint;", *(f"  {flag} boolean;" for flag in parts.flags)]
    if version_schema is None:
        declare.insert(0, f"  _zdm_new boolean := {_declared(migration)};")
        body = _physical_body(parts, count)
    else:
        detect = _resolves(version_schema, schema)
        path = search_path or f"{version_schema},{schema}"
        refuse = [
            _refuse_misdeclared(migration, version_schema, path),
            _refuse_new_shape(parts, f"{schema}.{work.table.name}", version_schema, path),
        ]
        body = _version_body(parts, detect, [r for r in refuse if r], count)
    if work.needs_backfill:
        m = sql.Identifier(MARKER).as_string()
        body.append(f"  IF NEW.{m} THEN\n    NEW.{m} := false;\n  END IF;")
    fn = sql.Identifier("zdmigrate", function).as_string()
    table = sql.Identifier(schema, work.table.name).as_string()
    function_sql = "\n".join(
        [
            f"CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $zdm$",
            *(["DECLARE", *declare] if declare else []),
            "BEGIN",
            *body,
            "  RETURN NEW;",
            "END",
            "$zdm$;",
        ]
    )
    run = f"  FOR EACH ROW EXECUTE FUNCTION {fn}();"
    if not work.needs_backfill:
        name = sql.Identifier(trigger).as_string()
        return function_sql, [f"CREATE TRIGGER {name} BEFORE INSERT OR UPDATE ON {table}\n{run}"]
    m = sql.Identifier(MARKER).as_string()
    update = sql.Identifier(update_trigger_name(migration)).as_string()
    return function_sql, [
        f"CREATE TRIGGER {sql.Identifier(trigger).as_string()} BEFORE INSERT ON {table}\n{run}",
        f"CREATE TRIGGER {update} BEFORE UPDATE ON {table}\n"
        f"  FOR EACH ROW WHEN (OLD.{m} IS NOT DISTINCT FROM NEW.{m})\n"
        f"  EXECUTE FUNCTION {fn}();",
    ]
