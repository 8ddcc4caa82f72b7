"""A revision, or the rest of one, could not be rendered, so it was not checked.

## Problem

zdmigrate lints an Alembic revision by running its `upgrade()` offline, the
way `alembic upgrade --sql` does. This revision could not be imported (a
missing module, a syntax error, `sys.exit()` at import), or its `upgrade()`
raised part way (for example it reads rows through `op.get_bind()` and uses
them). What it rendered before the failure is linted; the rest, from the line
given, is not. The other revisions are linted as usual.

## Why

A statement the linter never saw can still drop a column or lock a busy table
for minutes. A revision that does not render offline usually also fails in
`alembic upgrade --sql`, which DBAs use to review migrations.

`zdmigrate lint --strict` exits 2 when any revision is not linted; without it
the finding counts like any other error, and the run exits 2 only when
nothing at all could be linted.

## Safe alternative

Make the revision importable on its own (set `prepend_sys_path` in
`alembic.ini` for the project's modules) and keep data work that reads rows
out of schema revisions. Schema changes are safest as zdmigrate operations,
whose SQL is generated and always renders:

```yaml
- add_column:
    table: orders
    column: {name: note, type: text}
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
    code="ZD002",
    name="not-linted",
    category=Category.SYNTAX,
    severity=Severity.ERROR,
    check=check,
    nodes=(),
)
