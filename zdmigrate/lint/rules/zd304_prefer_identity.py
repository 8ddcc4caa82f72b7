"""Prefer identity columns over serial.

## Problem

`serial` and `bigserial` create a sequence that is owned by the column but
managed separately: permissions, ownership and `pg_dump` round-trips must
account for it, and a plain `INSERT` with an explicit id silently moves
ahead of the sequence.

## Why

`GENERATED ... AS IDENTITY` is the SQL-standard form: the sequence belongs
to the column, `GENERATED ALWAYS` rejects stray explicit ids, and changing
it needs no separate grant.

## Safe alternative

zdmigrate's `create_table` has no identity columns yet; use a `sql`
operation:

```yaml
- sql:
    up: >-
      CREATE TABLE invoices (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      total numeric(12,2))
    down: DROP TABLE invoices
```

Off by default.
"""

from __future__ import annotations

from zdmigrate.lint._model import Severity
from zdmigrate.lint.rules._style import STYLE_NODES, type_check
from zdmigrate.lint.rules._util import STYLE, define
from zdmigrate.lint.rules.zd211_add_serial_column import SERIAL_TYPES

RULE = define(
    __doc__,
    code="ZD304",
    name="prefer-identity",
    category=STYLE,
    severity=Severity.WARNING,
    check=type_check(
        lambda d: d.type in SERIAL_TYPES,
        "column {col} is declared {type}",
        "declare it bigint GENERATED ALWAYS AS IDENTITY",
    ),
    nodes=STYLE_NODES,
    enabled=False,
)
