"""Read the schema model of one schema from a live server."""

from __future__ import annotations

from typing import Any

import psycopg

from zdmigrate.model.schema import Catalog, Column, ForeignKey, Grant, IndexInfo, Table

__all__ = ["introspect"]

_COLUMNS_SQL = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END,
       a.attgenerated <> ''
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
 WHERE n.nspname = %s AND c.relkind IN ('r', 'p')
 ORDER BY c.relname, a.attnum
"""

_INDEXES_SQL = """
SELECT t.relname, i.relname, x.indisprimary, x.indisunique AND x.indpred IS NULL
       AND x.indexprs IS NULL,
       ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n),
       x.indisunique, am.amname, pg_get_expr(x.indpred, x.indrelid), x.indexprs IS NOT NULL,
       EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid
               AND c.contype = 'u')
  FROM pg_index x
  JOIN pg_class t ON t.oid = x.indrelid
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_am am ON am.oid = i.relam
  JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE n.nspname = %s AND x.indisvalid AND t.relkind IN ('r', 'p')
 ORDER BY t.relname, i.relname
"""

_CONSTRAINTS_SQL = """
SELECT t.relname, c.conname, c.contype,
       CASE WHEN c.contype = 'c' THEN pg_get_expr(c.conbin, c.conrelid) END
  FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE n.nspname = %s AND c.contype IN ('c', 'u', 'f', 'x', 'p')
   AND NOT EXISTS (SELECT 1 FROM pg_constraint p WHERE p.oid = c.conparentid AND p.conrelid = c.conrelid)
"""

_FOREIGN_KEYS_SQL = """
SELECT t.relname, c.conname, r.relname, pg_get_constraintdef(c.oid),
       ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i),
       ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i)
  FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
  JOIN pg_class r ON r.oid = c.confrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE n.nspname = %s AND c.contype = 'f' AND r.relnamespace = n.oid
   AND NOT EXISTS (SELECT 1 FROM pg_constraint p WHERE p.oid = c.conparentid AND p.conrelid = c.conrelid)
"""

# A partitioned table's rows and bytes are its partitions' (its own figures are 0 or
# -1); a partition never analyzed (-1) makes the total unknown.
_SIZES_SQL = """
SELECT c.relname, c.relkind = 'p',
       CASE WHEN parent.relnamespace = c.relnamespace THEN parent.relname END,
       CASE WHEN c.relkind = 'p' THEN
         (SELECT CASE WHEN bool_and(l.reltuples >= 0) THEN sum(l.reltuples) ELSE -1 END
            FROM pg_partition_tree(c.oid) t JOIN pg_class l ON l.oid = t.relid WHERE t.isleaf)
       ELSE c.reltuples END::bigint,
       CASE WHEN c.relkind = 'p' THEN
         (SELECT coalesce(sum(pg_table_size(t.relid)), 0) FROM pg_partition_tree(c.oid) t
           WHERE t.isleaf)
       ELSE pg_table_size(c.oid) END
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND c.relispartition
  LEFT JOIN pg_class parent ON parent.oid = i.inhparent
 WHERE n.nspname = %s AND c.relkind IN ('r', 'p')
"""

_GRANTS_SQL = """
SELECT c.relname, CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(g.grantee) END,
       g.privilege_type, NULL::name, g.is_grantable
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) g
 WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p') AND g.grantee <> c.relowner
UNION ALL
SELECT c.relname, CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(g.grantee) END,
       g.privilege_type, a.attname, g.is_grantable
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped,
       aclexplode(a.attacl) g
 WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p') AND g.grantee <> c.relowner
 ORDER BY 1, 2, 3, 4
"""

# What a table this role creates in the schema is granted: its default privileges there
# and its global ones (a role with no global entry has PostgreSQL's built-in default,
# which grants nobody else anything).
_DEFAULT_GRANTS_SQL = """
SELECT CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(g.grantee) END,
       g.privilege_type, g.is_grantable
  FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace,
       aclexplode(d.defaclacl) g
 WHERE d.defaclrole = current_user::regrole AND d.defaclobjtype = 'r'
   AND (d.defaclnamespace = 0 OR n.nspname = %s) AND g.grantee <> d.defaclrole
 ORDER BY 1, 2
"""

_CONTYPES = {"c": "check", "u": "unique", "f": "foreign_key", "x": "exclusion", "p": "primary_key"}


def introspect(conn: psycopg.Connection[Any], schema: str) -> Catalog:
    """Read the tables of ``schema`` from the server."""
    cat = Catalog(schema, server_major=conn.info.server_version // 10000, source="database")
    for rel, name, typ, nullable, default, generated in conn.execute(_COLUMNS_SQL, (schema,)):
        table = cat.tables.setdefault(rel, Table(rel, []))
        table.columns.append(Column(name, typ, nullable, default, generated))
    for row in conn.execute(_INDEXES_SQL, (schema,)):
        rel, idx, primary, unique, cols, any_unique, method, where, exprs, constraint = row
        table = cat.tables[rel]
        table.indexes[idx] = tuple(cols)
        table.index_info[idx] = IndexInfo(any_unique, method, tuple(cols), where, constraint, exprs)
        if primary:
            table.primary_key = tuple(cols)
        elif unique:
            table.unique_keys.append(tuple(cols))
    for rel, con, contype, check in conn.execute(_CONSTRAINTS_SQL, (schema,)):
        cat.tables[rel].constraints[con] = _CONTYPES[contype]
        if check is not None:
            cat.tables[rel].checks[con] = check
    for rel, con, ref, definition, cols, ref_cols in conn.execute(_FOREIGN_KEYS_SQL, (schema,)):
        fk = ForeignKey(tuple(cols), ref, tuple(ref_cols), definition)
        cat.tables[rel].foreign_keys[con] = fk
    for rel, grantee, privilege, column, grantable in conn.execute(_GRANTS_SQL, {"schema": schema}):
        if rel in cat.tables:
            cat.tables[rel].grants.append(Grant(grantee, privilege, column, grantable))
    for table in cat.tables.values():
        table.grants.sort(key=Grant.sort_key)
    cat.default_grants = sorted(
        {Grant(g, p, None, o) for g, p, o in conn.execute(_DEFAULT_GRANTS_SQL, (schema,))},
        key=Grant.sort_key,
    )
    for rel, partitioned, parent, rows, size in conn.execute(_SIZES_SQL, (schema,)):
        cat.tables[rel].partitioned = bool(partitioned)
        cat.tables[rel].partition_of = parent
        cat.tables[rel].row_estimate = int(rows) if rows >= 0 else None  # -1: never analyzed
        cat.tables[rel].size_bytes = int(size)
    return cat
