"""Prefer jsonb over json.

## Problem

`json` stores the document text as given and re-parses it on every access;
it has no equality operator, so it cannot be indexed, compared, or used in
`DISTINCT` and `GROUP BY`.

## Why

Converting to `jsonb` later is a type change that rewrites the table under
ACCESS EXCLUSIVE. `jsonb` is parsed once and supports GIN indexes.

## Safe alternative

```yaml
- add_column:
    table: events
    column: {name: payload, type: jsonb}
```

Off by default.
"""

from __future__ import annotations

from zdmigrate.lint._model import Severity
from zdmigrate.lint.rules._style import STYLE_NODES, type_check
from zdmigrate.lint.rules._util import STYLE, define

RULE = define(
    __doc__,
    code="ZD305",
    name="prefer-jsonb",
    category=STYLE,
    severity=Severity.WARNING,
    check=type_check(
        lambda d: d.type == "json",
        "column {col} is declared json",
        "declare it jsonb",
    ),
    nodes=STYLE_NODES,
    enabled=False,
)
