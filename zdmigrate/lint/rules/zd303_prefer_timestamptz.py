"""Prefer timestamptz over timestamp without time zone.

## Problem

`timestamp` (without time zone) stores a wall-clock reading with no zone:
the same value means different instants to servers and clients in different
time zones, and around daylight-saving changes.

## Why

Converting the column later is a type change that rewrites the table under
ACCESS EXCLUSIVE (unless the session time zone is UTC on PostgreSQL 12+).
`timestamptz` stores an instant and costs the same 8 bytes.

## Safe alternative

```yaml
- add_column:
    table: orders
    column: {name: shipped_at, type: timestamptz}
```

Off by default.
"""

from __future__ import annotations

from zdmigrate.lint._model import Severity
from zdmigrate.lint.rules._style import STYLE_NODES, type_check
from zdmigrate.lint.rules._util import STYLE, define

RULE = define(
    __doc__,
    code="ZD303",
    name="prefer-timestamptz",
    category=STYLE,
    severity=Severity.WARNING,
    check=type_check(
        lambda d: d.type == "timestamp",
        "column {col} is declared timestamp without time zone",
        "declare it timestamptz",
    ),
    nodes=STYLE_NODES,
    enabled=False,
)
