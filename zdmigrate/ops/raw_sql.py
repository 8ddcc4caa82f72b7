"""sql: statements run as written at expand; ``down`` runs at rollback."""

from __future__ import annotations

from pglast import ast, parse_sql
from pglast.enums.parsenodes import ObjectType
from pglast.stream import RawStream

from zdmigrate.model.schema import Catalog, IndexInfo
from zdmigrate.model.step import Lock, Phase
from zdmigrate.ops._common import add_step
from zdmigrate.ops.work import PlanContext
from zdmigrate.spec.models import RawSql

__all__ = ["apply", "plan"]

_NOTE = "raw SQL: the lock depends on the statements; check them with 'zdmigrate lint'"


def plan(op: RawSql, ctx: PlanContext) -> None:
    lock, notes = Lock.access_exclusive, (_NOTE,)
    add_step(ctx, Phase.expand, "sql", "run the operation's SQL", op.up, lock=lock, notes=notes)
    if op.down is not None:
        add_step(
            ctx, Phase.rollback, "sql", "undo the operation's SQL", op.down, lock=lock, notes=notes
        )


def apply(op: RawSql, catalog: Catalog) -> None:
    """The indexes the statements create or drop; other statements are not modelled
    (planning from a schema file or the database sees what they did)."""
    for raw in parse_sql(op.up):
        stmt = raw.stmt
        if isinstance(stmt, ast.IndexStmt):
            _create_index(stmt, catalog)
        elif isinstance(stmt, ast.DropStmt) and stmt.removeType == ObjectType.OBJECT_INDEX:
            for name in stmt.objects or ():
                index = str(name[-1].sval)
                for table in catalog.tables.values():
                    if index in table.indexes:
                        table.drop_index(index)


def _create_index(stmt: ast.IndexStmt, catalog: Catalog) -> None:
    rel = stmt.relation
    if rel is None or stmt.idxname is None or rel.schemaname not in (None, catalog.schema):
        return
    table = catalog.table(str(rel.relname))
    if table is None:
        return
    params = stmt.indexParams or ()
    columns = tuple(str(p.name) for p in params if p.name is not None)
    where = RawStream()(stmt.whereClause) if stmt.whereClause is not None else None
    exprs = len(columns) != len(params)
    info = IndexInfo(bool(stmt.unique), str(stmt.accessMethod), columns, where, False, exprs)
    table.add_index(str(stmt.idxname), info)
