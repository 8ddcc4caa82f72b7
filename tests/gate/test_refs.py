"""Which deprecated columns and tables one statement text reads or writes (offline)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pglast import parse_sql

from zdmigrate.gate import refs
from zdmigrate.gate.refs import Deprecated, Use, uses
from zdmigrate.model.schema import Catalog, Column, Table


def _table(name: str, *columns: str) -> Table:
    return Table(name, [Column(c, "bigint") for c in columns], primary_key=("id",))


def _catalog(schema: str, *tables: Table) -> Catalog:
    return Catalog(schema, {t.name: t for t in tables}, source="database")


SCHEMAS = {
    "public": _catalog(
        "public",
        _table("accounts", "id", "balance", "filler", "owner"),
        _table("branches", "id", "balance", "name"),
        _table("history", "id", "account_id", "filler"),
        _table("legacy", "id", "note"),
    ),
    "billing": _catalog("billing", _table("accounts", "id", "balance")),
}
FILLER = Deprecated("public", "accounts", "filler")
BALANCE = Deprecated("public", "accounts", "balance")
LEGACY = Deprecated("public", "legacy", None)
DEPRECATED = {FILLER, BALANCE, LEGACY}


def reads(obj: Deprecated, why: str) -> Use:
    return Use(obj, "reads", why)


def writes(obj: Deprecated, why: str) -> Use:
    return Use(obj, "writes", why)


def star(why: str) -> list[Use]:
    """Both deprecated columns of public.accounts read, for one reason."""
    return [reads(BALANCE, why), reads(FILLER, why)]


def check(
    sql: str,
    expected: list[Use],
    search_path: tuple[str, ...] | list[str] = ("public",),
    views: dict[tuple[str, str], str] | None = None,
) -> None:
    assert uses(sql, SCHEMAS, list(search_path), DEPRECATED, views) == expected


CASES = [
    # plain selects, stars and aliases
    (
        "plain select",
        "SELECT id, balance FROM accounts WHERE id = $1",
        [reads(BALANCE, "column reference balance")],
    ),
    ("select of other columns", "SELECT id, owner FROM accounts WHERE id = $1", []),
    ("select star", "SELECT * FROM accounts", star("SELECT * reads every column")),
    (
        "alias star",
        "SELECT a.* FROM accounts a JOIN branches b ON b.id = a.id",
        star("SELECT a.* reads every column"),
    ),
    ("other alias star", "SELECT b.* FROM accounts a JOIN branches b ON b.id = a.id", []),
    (
        "star over a join",
        "SELECT * FROM branches b JOIN accounts a ON b.id = a.id",
        star("SELECT * reads every column"),
    ),
    ("count star", "SELECT count(*) FROM accounts", []),
    (
        "whole-row reference",
        "SELECT row_to_json(a) FROM accounts a",
        star("whole-row reference a reads every column"),
    ),
    (
        "field of a whole row",
        "SELECT (a).filler FROM accounts a",
        [reads(FILLER, "field reference (a).filler")],
    ),
    (
        "alias column list",
        "SELECT a.amount FROM accounts a(id, amount)",
        [reads(BALANCE, "column reference a.amount")],
    ),
    (
        "balance qualified with the branches alias",
        "SELECT b.balance FROM accounts a JOIN branches b ON b.id = a.id",
        [],
    ),
    (
        "unqualified balance: both tables have it, ambiguous",
        "SELECT balance FROM accounts a JOIN branches b ON b.id = a.id",
        [reads(BALANCE, "ambiguous column reference balance")],
    ),
    (
        "unqualified filler: only accounts has it",
        "SELECT filler FROM accounts a JOIN branches b ON b.id = a.id",
        [reads(FILLER, "column reference filler")],
    ),
    (
        "same-named column of another table",
        "SELECT h.filler FROM history h JOIN accounts a ON a.id = h.account_id",
        [],
    ),
    ("unqualified same-named column, one table", "SELECT filler FROM history", []),
    (
        "schema-qualified column",
        "SELECT public.accounts.filler FROM public.accounts",
        [reads(FILLER, "column reference public.accounts.filler")],
    ),
    (
        "schema-qualified column, table found on the path",
        "SELECT public.accounts.filler FROM accounts",
        [reads(FILLER, "column reference public.accounts.filler")],
    ),
    (
        "table-qualified column",
        "SELECT accounts.filler FROM public.accounts",
        [reads(FILLER, "column reference accounts.filler")],
    ),
    ("other schema", "SELECT billing.accounts.balance FROM billing.accounts", []),
    ("other schema, aliased", "SELECT a.balance, a.id FROM billing.accounts a", []),
    (
        "both schemas, aliased",
        "SELECT p.balance FROM billing.accounts b JOIN public.accounts p ON p.id = b.id",
        [reads(BALANCE, "column reference p.balance")],
    ),
    # clauses
    (
        "JOIN ON",
        "SELECT a.id FROM accounts a JOIN branches b ON b.balance = a.balance",
        [reads(BALANCE, "column reference a.balance")],
    ),
    (
        "JOIN USING",
        "SELECT 1 FROM accounts JOIN history USING (filler)",
        [reads(FILLER, "JOIN USING joins on filler")],
    ),
    (
        "NATURAL JOIN",
        "SELECT 1 FROM history NATURAL JOIN accounts",
        [reads(FILLER, "NATURAL JOIN joins on filler")],
    ),
    (
        "GROUP BY and ORDER BY",
        "SELECT owner, count(*) FROM accounts GROUP BY owner, filler ORDER BY max(balance) DESC",
        [reads(BALANCE, "column reference balance"), reads(FILLER, "column reference filler")],
    ),
    (
        "function arguments",
        "SELECT coalesce(sum(balance), $1) FROM accounts",
        [reads(BALANCE, "column reference balance")],
    ),
    (
        "one use per object and kind",
        "SELECT balance, a.balance FROM accounts a",
        [reads(BALANCE, "column reference balance")],
    ),
    (
        "UNION",
        "SELECT id FROM branches UNION ALL SELECT filler FROM accounts",
        [reads(FILLER, "column reference filler")],
    ),
    # INSERT
    (
        "insert without a column list",
        "INSERT INTO accounts VALUES ($1, $2, $3, $4)",
        [
            writes(BALANCE, "INSERT without a column list"),
            writes(FILLER, "INSERT without a column list"),
        ],
    ),
    (
        "insert select without a column list",
        "INSERT INTO accounts SELECT $1, $2, $3, $4",
        [
            writes(BALANCE, "INSERT without a column list"),
            writes(FILLER, "INSERT without a column list"),
        ],
    ),
    (
        "insert with a column list without them",
        "INSERT INTO accounts (id, owner) VALUES ($1, $2)",
        [],
    ),
    (
        "insert with a column list naming one",
        "INSERT INTO accounts (id, filler) VALUES ($1, $2)",
        [writes(FILLER, "INSERT column list names it")],
    ),
    ("insert default values", "INSERT INTO accounts DEFAULT VALUES", []),
    (
        "insert into another table selecting from accounts",
        "INSERT INTO history (id, account_id, filler) SELECT $1, id, filler FROM accounts",
        [reads(FILLER, "column reference filler")],
    ),
    (
        "insert returning",
        "INSERT INTO accounts (id) VALUES ($1) RETURNING id, balance",
        [reads(BALANCE, "column reference balance")],
    ),
    (
        "on conflict do update",
        "INSERT INTO accounts (id, owner) VALUES ($1, $2) "
        "ON CONFLICT (id) DO UPDATE SET balance = EXCLUDED.balance",
        [
            reads(BALANCE, "column reference excluded.balance"),
            writes(BALANCE, "ON CONFLICT DO UPDATE SET assigns it"),
        ],
    ),
    (
        "on conflict target and where",
        "INSERT INTO accounts AS a (id, owner) VALUES ($1, $2) ON CONFLICT (id) "
        "DO UPDATE SET owner = EXCLUDED.owner WHERE a.filler IS NULL",
        [reads(FILLER, "column reference a.filler")],
    ),
    ("on conflict do nothing", "INSERT INTO accounts (id) VALUES ($1) ON CONFLICT DO NOTHING", []),
    # UPDATE and DELETE
    (
        "update set and read",
        "UPDATE accounts SET balance = balance + $1 WHERE id = $2",
        [reads(BALANCE, "column reference balance"), writes(BALANCE, "UPDATE SET assigns it")],
    ),
    ("update of other columns", "UPDATE accounts SET owner = $1 WHERE id = $2", []),
    (
        "update where",
        "UPDATE accounts SET owner = $1 WHERE filler = $2",
        [reads(FILLER, "column reference filler")],
    ),
    (
        "update from",
        "UPDATE branches SET balance = a.balance FROM accounts a WHERE a.id = branches.id",
        [reads(BALANCE, "column reference a.balance")],
    ),
    (
        "update of branches.balance from accounts",
        "UPDATE branches b SET balance = $1 FROM accounts a WHERE a.id = b.id",
        [],
    ),
    (
        "update returning star",
        "UPDATE accounts SET owner = $1 WHERE id = $2 RETURNING *",
        star("RETURNING * reads every column"),
    ),
    (
        "update multi-assignment",
        "UPDATE accounts a SET (owner, filler) = (SELECT b.name, b.balance FROM branches b "
        "WHERE b.id = a.id)",
        [writes(FILLER, "UPDATE SET assigns it")],
    ),
    (
        "delete where",
        "DELETE FROM accounts WHERE filler = $1",
        [reads(FILLER, "column reference filler")],
    ),
    ("delete by id", "DELETE FROM accounts WHERE id = $1", []),
    (
        "delete using",
        "DELETE FROM branches b USING accounts a WHERE a.id = b.id AND a.balance < $1",
        [reads(BALANCE, "column reference a.balance")],
    ),
    (
        "delete returning star",
        "DELETE FROM accounts WHERE id = $1 RETURNING *",
        star("RETURNING * reads every column"),
    ),
    # CTEs, derived tables, subqueries
    (
        "CTE named accounts shadows the table",
        "WITH accounts AS (SELECT id, owner AS filler FROM accounts) SELECT filler FROM accounts",
        [],
    ),
    (
        "CTE named accounts, star",
        "WITH accounts AS (SELECT id FROM history) SELECT * FROM accounts",
        [],
    ),
    (
        "CTE reading a deprecated column",
        "WITH recent AS (SELECT id, balance FROM accounts) SELECT balance FROM recent",
        [reads(BALANCE, "column reference balance")],
    ),
    (
        "data-modifying CTE",
        "WITH moved AS (DELETE FROM accounts WHERE id = $1 RETURNING *) "
        "INSERT INTO history SELECT * FROM moved",
        star("RETURNING * reads every column"),
    ),
    (
        "derived table",
        "SELECT s.filler FROM (SELECT filler FROM accounts) s",
        [reads(FILLER, "column reference filler")],
    ),
    (
        "derived table of another table's filler",
        "SELECT s.filler FROM (SELECT id, filler FROM history) s JOIN accounts a ON a.id = s.id",
        [],
    ),
    (
        "lateral subquery",
        "SELECT x.f FROM accounts a, LATERAL (SELECT a.filler AS f) x",
        [reads(FILLER, "column reference a.filler")],
    ),
    (
        "correlated subquery, qualified",
        "SELECT id FROM accounts a WHERE EXISTS "
        "(SELECT 1 FROM history h WHERE h.account_id = a.id AND h.filler <> a.filler)",
        [reads(FILLER, "column reference a.filler")],
    ),
    (
        "correlated subquery, unqualified outer column",
        "SELECT id FROM accounts a WHERE EXISTS "
        "(SELECT 1 FROM history h WHERE h.account_id = a.id AND balance > $1)",
        [reads(BALANCE, "column reference balance")],
    ),
    (
        "inner level shadows the outer one",
        "SELECT id FROM accounts a WHERE EXISTS (SELECT 1 FROM history h WHERE filler = $1)",
        [],
    ),
    (
        "scalar subquery",
        "SELECT b.name, (SELECT sum(balance) FROM accounts) FROM branches b",
        [reads(BALANCE, "column reference balance")],
    ),
    (
        "join with an alias",
        "SELECT j.balance FROM (accounts a JOIN history h ON true) AS j",
        [reads(BALANCE, "column reference j.balance")],
    ),
    # other statements
    (
        "merge",
        "MERGE INTO accounts a USING branches b ON a.id = b.id "
        "WHEN MATCHED THEN UPDATE SET balance = b.balance",
        [writes(BALANCE, "MERGE ... SET assigns it")],
    ),
    (
        "copy with a column list",
        "COPY accounts (id, balance) TO STDOUT",
        [reads(BALANCE, "COPY column list names it")],
    ),
    ("copy to", "COPY accounts TO STDOUT", star("COPY without a column list reads every column")),
    ("copy from of other columns", "COPY accounts (id, owner) FROM STDIN", []),
    (
        "copy of a query",
        "COPY (SELECT filler FROM accounts) TO STDOUT",
        [reads(FILLER, "column reference filler")],
    ),
    (
        "prepare",
        "PREPARE q(bigint) AS SELECT filler FROM accounts WHERE id = $1",
        [reads(FILLER, "column reference filler")],
    ),
    (
        "explain",
        "EXPLAIN (ANALYZE) UPDATE accounts SET balance = $1",
        [writes(BALANCE, "UPDATE SET assigns it")],
    ),
    (
        "create table as",
        "CREATE TABLE snap AS SELECT id, filler FROM accounts",
        [reads(FILLER, "column reference filler")],
    ),
    (
        "create view",
        "CREATE VIEW v2 AS SELECT * FROM accounts",
        star("SELECT * reads every column"),
    ),
    (
        "declare cursor",
        "DECLARE c CURSOR FOR SELECT balance FROM accounts",
        [reads(BALANCE, "column reference balance")],
    ),
    # a deprecated table
    (
        "deprecated table in FROM",
        "SELECT id FROM legacy WHERE id = $1",
        [reads(LEGACY, "FROM names the table")],
    ),
    (
        "deprecated table in a join",
        "SELECT a.id FROM accounts a JOIN public.legacy l ON l.id = a.id",
        [reads(LEGACY, "FROM names the table")],
    ),
    (
        "deprecated table written",
        "INSERT INTO legacy (id) VALUES ($1)",
        [writes(LEGACY, "INSERT INTO names the table")],
    ),
    (
        "deprecated table deleted from",
        "DELETE FROM legacy WHERE id = $1",
        [writes(LEGACY, "DELETE FROM names the table")],
    ),
    ("deprecated table truncated", "TRUNCATE legacy", [writes(LEGACY, "TRUNCATE names the table")]),
    (
        "deprecated table in a subquery",
        "SELECT id FROM accounts WHERE id IN (SELECT id FROM legacy)",
        [reads(LEGACY, "FROM names the table")],
    ),
    (
        "CTE named like the deprecated table",
        "WITH legacy AS (SELECT 1 AS id) SELECT id FROM legacy",
        [],
    ),
    ("same table name in another schema", "SELECT id FROM billing.legacy", []),
    # texts that use nothing
    ("does not parse", "SELEC balance FROM accounts", []),
    ("empty text", "", []),
    ("utility statement", "SET search_path = public", []),
    ("transaction control", "BEGIN", []),
    ("relation of an unknown schema", "SELECT balance, filler FROM public_0004_x.accounts", []),
    ("catalog relation", "SELECT * FROM pg_catalog.pg_class", []),
]


@pytest.mark.parametrize(("sql", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_uses(sql: str, expected: list[Use]) -> None:
    check(sql, expected)


SEARCH_PATH_CASES = [
    (
        "billing first: unqualified accounts is billing's",
        ["billing", "public"],
        "SELECT balance FROM accounts",
        [],
    ),
    ("billing first, star", ["billing", "public"], "SELECT * FROM accounts", []),
    (
        "billing first, history still public's",
        ["billing", "public"],
        "SELECT h.id FROM history h JOIN public.accounts a ON a.id = h.account_id WHERE a.filler = $1",
        [reads(FILLER, "column reference a.filler")],
    ),
    ("version schema only", ["public_0004_x"], "SELECT balance, filler FROM accounts", []),
    (
        "version schema not modelled, public behind it",
        ["public_0004_x", "public"],
        "SELECT filler FROM accounts",
        [reads(FILLER, "column reference filler")],
    ),
    (
        "pg_catalog and $user skipped",
        ["$user", "pg_catalog", "public"],
        "SELECT filler FROM accounts",
        [reads(FILLER, "column reference filler")],
    ),
    ("empty search path", [], "SELECT filler FROM accounts", []),
]


@pytest.mark.parametrize(
    ("search_path", "sql", "expected"),
    [c[1:] for c in SEARCH_PATH_CASES],
    ids=[c[0] for c in SEARCH_PATH_CASES],
)
def test_search_path(search_path: list[str], sql: str, expected: list[Use]) -> None:
    check(sql, expected, search_path=search_path)


VIEWS = {
    ("public", "v_accounts"): "SELECT id, filler FROM accounts",
    ("public", "v_outer"): "SELECT id FROM public.v_accounts",
    ("public", "v_safe"): "SELECT id, owner FROM public.accounts",
    ("public", "v_loop1"): "SELECT * FROM v_loop2",
    ("public", "v_loop2"): "SELECT * FROM v_loop1 JOIN accounts USING (id)",
    ("public", "v_broken"): "SELEC filler FROM accounts",
    ("public_0004_x", "accounts"): "SELECT id, owner FROM public.accounts",
}

VIEW_CASES = [
    (
        "view over accounts reading filler",
        ["public"],
        "SELECT id FROM v_accounts",
        [reads(FILLER, "through view public.v_accounts: column reference filler")],
    ),
    (
        "view over a view",
        ["public"],
        "SELECT * FROM v_outer",
        [
            reads(
                FILLER,
                "through view public.v_outer: through view public.v_accounts: "
                "column reference filler",
            )
        ],
    ),
    ("view not reading deprecated columns", ["public"], "SELECT * FROM v_safe", []),
    (
        "view columns are the view's",
        ["public"],
        "SELECT v.filler FROM v_safe v JOIN history h ON h.id = v.id",
        [],
    ),
    (
        "cycle of views",
        ["public"],
        "SELECT * FROM v_loop1",
        star(
            "through view public.v_loop1: through view public.v_loop2: SELECT * reads every column"
        ),
    ),
    ("unparsable definition", ["public"], "SELECT * FROM v_broken", []),
    ("unknown view", ["public"], "SELECT * FROM v_unknown", []),
    (
        "version schema view over accounts",
        ["public_0004_x", "public"],
        "SELECT * FROM accounts",
        [],
    ),
    ("version schema view, qualified", ["public"], "SELECT id FROM public_0004_x.accounts", []),
]


@pytest.mark.parametrize(
    ("search_path", "sql", "expected"),
    [c[1:] for c in VIEW_CASES],
    ids=[c[0] for c in VIEW_CASES],
)
def test_views(search_path: list[str], sql: str, expected: list[Use]) -> None:
    check(sql, expected, search_path=search_path, views=VIEWS)


ODD_BUT_VALID = [
    "SELECT owner, sum(balance) OVER (PARTITION BY owner ORDER BY id) FROM accounts",
    "SELECT owner FROM accounts GROUP BY GROUPING SETS ((owner), (filler), ())",
    "SELECT * FROM accounts TABLESAMPLE SYSTEM ($1) REPEATABLE ($2)",
    "SELECT * FROM ROWS FROM (generate_series(1, 2), unnest($1::int[])) AS r(a, b)",
    "SELECT * FROM (VALUES ($1, $2)) v(a, b) JOIN accounts ON accounts.id = v.a",
    "SELECT x.* FROM XMLTABLE('/r' PASSING $1 COLUMNS id int PATH '@id') x",
    "SELECT * FROM JSON_TABLE($1::jsonb, '$[*]' COLUMNS (id int PATH '$.id')) j",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < $1) SELECT * FROM r",
    "MERGE INTO accounts a USING (SELECT $1 AS id) s ON a.id = s.id "
    "WHEN MATCHED AND a.filler IS NULL THEN DELETE WHEN NOT MATCHED THEN DO NOTHING",
    "INSERT INTO accounts OVERRIDING SYSTEM VALUE SELECT * FROM accounts",
    "SELECT id INTO TEMP snap FROM accounts",
    "SELECT * FROM accounts FOR UPDATE OF accounts SKIP LOCKED",
    "UPDATE accounts SET filler = DEFAULT WHERE CURRENT OF c",
    'SELECT ARRAY(SELECT filler FROM accounts), $1::text COLLATE "C"',
    "SELECT CASE WHEN balance > $1 THEN 'a' ELSE 'b' END FROM accounts",
    "SELECT DISTINCT ON (filler) id FROM accounts ORDER BY filler, id LIMIT $1 OFFSET $2",
    "LOCK TABLE accounts IN SHARE MODE",
    "CALL p($1)",
    "DO $$ BEGIN PERFORM 1; END $$",
    "EXECUTE q(1)",
    "EXPLAIN EXECUTE q(1)",
    "VALUES (1), (2)",
    "SELECT 1 UNION SELECT 2 ORDER BY 1",
    "SELECT d.x FROM db.public.accounts, (SELECT 1 AS x) d",
    "SELECT db.public.accounts.filler FROM public.accounts",
    "SELECT a.x.y, (a.filler).z FROM accounts a",
    "SELECT 1; SELECT 2",
    "SELECT " + " + ".join(["balance"] * 3000) + " FROM accounts",
]


@pytest.mark.parametrize("sql", ODD_BUT_VALID)
def test_the_analysis_itself_does_not_fail(sql: str) -> None:
    """Reaching the last resort (what was found until an error) is a bug: walk directly."""
    walker = refs._Walker(refs._Context(SCHEMAS, ["public"], frozenset(DEPRECATED), VIEWS))
    for raw in parse_sql(sql):
        walker.statement(raw.stmt, refs._Env())
    assert all(u.object in DEPRECATED for u in walker.result())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "SELECT",
                "*",
                "a.*",
                "filler",
                "a.balance",
                "FROM",
                "accounts",
                "a",
                "JOIN",
                "ON",
                "true",
                "WHERE",
                "(",
                ")",
                ",",
                "=",
                "$1",
                "INSERT",
                "INTO",
                "VALUES",
                "UPDATE",
                "SET",
                "WITH",
                "AS",
                "RETURNING",
                "DELETE",
                "USING",
                "legacy",
                "UNION",
            ]
        ),
        max_size=14,
    )
)
def test_never_raises(tokens: list[str]) -> None:
    result = uses(" ".join(tokens), SCHEMAS, ["public"], DEPRECATED, VIEWS)
    assert isinstance(result, list)
