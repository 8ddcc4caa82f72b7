"""The SQL does not parse, so nothing after this point can be checked.

## Problem

PostgreSQL's own parser (through pglast) rejected the statement. The runner
would stop at it, usually half way through the migration.

## Why

A migration that fails in the middle leaves every statement before it
applied (or, inside a transaction, rolled back) and blocks the deploy. The
linter reports the error with its line and column and goes on with the next
statement, so later findings are still shown.

## Safe alternative

Fix the statement. zdmigrate operations generate their SQL, so they cannot
misspell it; raw SQL goes in a `sql` operation, which is parsed when the
migration file is validated:

```yaml
- sql:
    up: "COMMENT ON TABLE users IS 'people who sign in'"
    down: "COMMENT ON TABLE users IS NULL"
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zdmigrate.lint._model import Category, Severity, Violation
from zdmigrate.lint.rules._util import define


def check(stmt: Any, ctx: Any) -> Iterator[Violation]:
    return iter(())


RULE = define(
    __doc__,
    code="ZD001",
    name="syntax-error",
    category=Category.SYNTAX,
    severity=Severity.ERROR,
    check=check,
    nodes=("(syntax errors are reported by the runner)",),
)
