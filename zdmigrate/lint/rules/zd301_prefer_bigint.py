"""Prefer bigint over integer and smallint for new columns.

## Problem

`integer` (and `smallint`, `serial`) columns hold at most about 2.1 billion
(32,767) values. Ids and counters outgrow that more often than expected.

## Why

Widening the column later is a type change that rewrites the table and
every index on it under ACCESS EXCLUSIVE, and it has to happen when the
table is at its largest. `bigint` costs 4 more bytes per value.

## Safe alternative

Declare `bigint` from the start:

```yaml
- add_column:
    table: events
    column: {name: attempts, type: bigint, default: "0"}
```

Off by default; enable it with `--select prefer-bigint` or in
`[tool.zdmigrate.lint]`.
"""

from __future__ import annotations

from zdmigrate.lint._model import Severity
from zdmigrate.lint.rules._style import STYLE_NODES, type_check
from zdmigrate.lint.rules._util import STYLE, define

_SMALL = frozenset(
    {"int4", "int2", "int", "integer", "smallint", "serial", "serial4", "smallserial", "serial2"}
)

RULE = define(
    __doc__,
    code="ZD301",
    name="prefer-bigint",
    category=STYLE,
    severity=Severity.WARNING,
    check=type_check(
        lambda d: d.type in _SMALL,
        "column {col} is declared {type}, which may run out of values",
        "declare it bigint (or bigserial / bigint identity)",
    ),
    nodes=STYLE_NODES,
    enabled=False,
)
