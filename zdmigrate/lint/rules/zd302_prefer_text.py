"""Prefer text over varchar(n) and char(n).

## Problem

A length limit in the type (`varchar(n)`, `char(n)`) is a constraint that
can only be relaxed by changing the column's type.

## Why

`text` and `varchar` are stored the same way. Tightening a `varchar(n)` or
turning `char(n)` into anything else rewrites the table under ACCESS
EXCLUSIVE; a `CHECK (length(c) <= n)` can be replaced with `NOT VALID` plus
`VALIDATE`, without a long lock. `char(n)` also pads values with spaces.

## Safe alternative

Declare `text` and put the limit in a check constraint:

```yaml
- add_column:
    table: users
    column: {name: nickname, type: text, check: "length(nickname) <= 40"}
```

Off by default.
"""

from __future__ import annotations

from zdmigrate.lint._model import Severity
from zdmigrate.lint.rules._style import STYLE_NODES, type_check
from zdmigrate.lint.rules._util import STYLE, define

_LIMITED = frozenset({"varchar", "bpchar", "char", "character", "character varying"})

RULE = define(
    __doc__,
    code="ZD302",
    name="prefer-text",
    category=STYLE,
    severity=Severity.WARNING,
    check=type_check(
        lambda d: d.type in _LIMITED and (d.typmods or d.type != "varchar"),
        "column {col} is declared {type} with a length limit",
        "declare it text with a CHECK (length(...) <= n) constraint",
    ),
    nodes=STYLE_NODES,
    enabled=False,
)
