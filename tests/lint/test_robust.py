"""Every rule on a wide mix of statements: no crash, whatever the statement."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zdmigrate.lint import LintSettings, lint_text

MIX = """
CREATE SCHEMA s; CREATE TABLE s.t (id bigint PRIMARY KEY, v text);
CREATE TABLE IF NOT EXISTS t2 (LIKE s.t INCLUDING ALL);
CREATE TABLE p (at date) PARTITION BY RANGE (at);
CREATE TABLE p1 PARTITION OF p FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE UNLOGGED TABLE u (x int); CREATE TEMP TABLE tmp (x int);
CREATE TABLE ctas AS SELECT 1 AS one; SELECT 1 INTO sel_into;
CREATE VIEW v AS SELECT * FROM s.t; CREATE MATERIALIZED VIEW mv AS SELECT 1;
REFRESH MATERIALIZED VIEW CONCURRENTLY mv;
CREATE SEQUENCE seq; ALTER SEQUENCE seq RESTART; DROP SEQUENCE seq;
CREATE TYPE mood AS ENUM ('a'); ALTER TYPE mood ADD VALUE IF NOT EXISTS 'b' BEFORE 'a';
ALTER TYPE mood RENAME VALUE 'a' TO 'c'; CREATE DOMAIN d AS int CHECK (VALUE > 0);
CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER trg BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION f();
DROP TRIGGER trg ON users; DROP FUNCTION f(); DROP TYPE mood; DROP DOMAIN d;
ALTER TABLE users ALTER COLUMN a SET STATISTICS 100, ALTER COLUMN b SET (n_distinct = 5);
ALTER TABLE users SET (fillfactor = 70); ALTER TABLE users RESET (fillfactor);
ALTER TABLE users ENABLE TRIGGER ALL; ALTER TABLE users DISABLE TRIGGER USER;
ALTER TABLE users OWNER TO app; ALTER TABLE users SET SCHEMA other;
ALTER TABLE users ATTACH PARTITION p2 FOR VALUES IN (1);
ALTER TABLE users ALTER COLUMN a ADD GENERATED ALWAYS AS IDENTITY;
ALTER TABLE users ALTER COLUMN a SET DEFAULT nextval('seq'), ALTER COLUMN a DROP DEFAULT;
ALTER TABLE users ADD COLUMN IF NOT EXISTS c int REFERENCES other (id);
ALTER TABLE users ADD CONSTRAINT nn NOT NULL a;
ALTER TABLE users DROP CONSTRAINT IF EXISTS c, ALTER COLUMN z TYPE text COLLATE "C";
ALTER TABLE users SET ACCESS METHOD heap; ALTER TABLE users SET TABLESPACE fast;
ALTER TABLE IF EXISTS ONLY users RENAME CONSTRAINT a TO b;
ALTER INDEX i SET TABLESPACE fast; ALTER INDEX i ATTACH PARTITION j;
ALTER VIEW v RENAME TO w; ALTER MATERIALIZED VIEW mv RENAME COLUMN one TO two;
ALTER VIEW v ALTER COLUMN x SET DEFAULT 1;
COMMENT ON COLUMN users.a IS 'x'; GRANT SELECT ON users TO app; REVOKE ALL ON users FROM app;
CREATE INDEX ON ONLY p (at); CREATE INDEX CONCURRENTLY IF NOT EXISTS gi ON users USING gin (doc);
REINDEX SCHEMA public; REINDEX DATABASE app; REINDEX SYSTEM app;
VACUUM; VACUUM FULL; ANALYZE users; CLUSTER; CLUSTER VERBOSE users;
TRUNCATE ONLY users RESTART IDENTITY; LOCK TABLE users IN ACCESS EXCLUSIVE MODE;
INSERT INTO users (a) VALUES (1) ON CONFLICT DO NOTHING RETURNING *;
UPDATE users SET a = a + 1 WHERE id IN (SELECT id FROM users LIMIT 10);
DELETE FROM users USING other WHERE users.id = other.id;
WITH x AS (SELECT 1) SELECT * FROM x; COPY users FROM STDIN;
DO $$ BEGIN PERFORM 1; END $$; SELECT set_config('lock_timeout', '1s', false);
SET SESSION lock_timeout TO DEFAULT; SET lock_timeout TO 0; RESET ALL; SHOW lock_timeout;
SET search_path TO a, b; SET TIME ZONE 'UTC';
BEGIN ISOLATION LEVEL SERIALIZABLE; SAVEPOINT a; ROLLBACK TO SAVEPOINT a; RELEASE a;
PREPARE TRANSACTION 'x'; COMMIT PREPARED 'x'; START TRANSACTION; END; ABORT;
CREATE EXTENSION IF NOT EXISTS pgcrypto; DROP EXTENSION pgcrypto CASCADE;
CREATE POLICY pol ON users USING (true); ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE RULE r AS ON INSERT TO users DO INSTEAD NOTHING;
DROP VIEW v; DROP MATERIALIZED VIEW mv; DROP INDEX IF EXISTS a, b; DROP TABLE s.t, t2;
DROP SCHEMA IF EXISTS x, y CASCADE; DROP OWNED BY app; ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO app;
CREATE STATISTICS st ON a, b FROM users; CREATE PUBLICATION pub FOR TABLE users;
"""


def test_every_rule_survives_a_wide_mix_of_statements() -> None:
    for version in (10, 11, 12, 14, 15, 18):
        for wrapped in (False, True):
            settings = LintSettings(
                select=("all",), pg_version=version, assume_in_transaction=wrapped
            )
            result = lint_text(MIX, settings)
            assert result.statements > 90
            assert not [f for f in result.findings if f.rule == "syntax-error"]


def test_garbage_input_is_reported_not_raised() -> None:
    for text in ("", ";;;", "'unterminated", "$$", "/* open comment", "SELECT (((", "\x00"):
        result = lint_text(text, LintSettings(select=("all",)))
        assert all(f.rule == "syntax-error" for f in result.findings)


def test_a_crash_while_linting_in_another_process_is_reported(tmp_path: Path) -> None:
    """A bug that makes a rule raise in a forked process surfaces here with its
    traceback; it does not hang or drop that process's findings silently."""
    from zdmigrate.lint._context import Options
    from zdmigrate.lint._model import Severity, Violation
    from zdmigrate.lint.inputs import collect_sources
    from zdmigrate.lint.rules._util import BREAKING, define
    from zdmigrate.lint.runner import PARALLEL_MIN_CHARS, lint_sources

    filler = "ALTER TABLE users ADD COLUMN note text;\n" * 200
    for n in range(40):
        (tmp_path / f"{n:02d}.sql").write_text(filler)
    (tmp_path / "99_last.sql").write_text("DROP TABLE boom;\n")
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) > PARALLEL_MIN_CHARS

    def check(stmt: Any, ctx: Any) -> Iterator[Violation]:
        if "boom" in stmt.text:
            raise ValueError("rule bug on purpose")
        return iter(())

    rule = define("Raises on one statement.", code="ZD999", name="raises", category=BREAKING,
                  severity=Severity.ERROR, check=check, nodes=("DropStmt",))  # fmt: skip
    sources = list(collect_sources([str(tmp_path)]))
    with pytest.raises(RuntimeError, match="rule bug on purpose"):
        lint_sources(sources, [rule], Options(), jobs=2)
    with pytest.raises(ValueError, match="rule bug on purpose"):
        lint_sources(sources, [rule], Options(), jobs=1)
