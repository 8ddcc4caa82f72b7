"""What ``zdmigrate new`` writes: a numbered migration file to fill in.

The file has no operation yet, on purpose: until one is written, ``validate``,
``plan`` and ``apply`` refuse it ("the migration has no operations"), so a deploy
that runs ``zdmigrate apply migrations/`` cannot apply an unfinished file and then
refuse it once it is filled in ("changed after it was applied"). Commented
examples of the common operations show the fields; each is a valid operation once
its ``#`` is removed (a test checks that).
"""

from __future__ import annotations

import re

__all__ = ["EXAMPLES", "file_name", "next_number", "skeleton", "slug"]

_NUMBERED = re.compile(r"^(\d+)_.+\.(yaml|yml|json)$", re.IGNORECASE)

# one line each, ready to uncomment under 'operations:'
EXAMPLES = (
    "- add_column: {table: users, column: {name: country, type: text, default: \"'unknown'\"}}",
    "- rename_column: {table: users, from: email, to: email_address}",
    "- alter_column: {table: orders, column: amount, type: bigint}",
    '- alter_column: {table: users, column: country, nullable: false, up: "coalesce(country, '
    "'unknown')\"}",
    "- create_index: {table: orders, name: orders_customer_idx, columns: [customer_id]}",
    "- create_constraint: {table: orders, name: orders_amount_positive, type: check, "
    'check: "amount > 0"}',
    "- drop_column: {table: users, column: legacy_flag}",
)


def slug(name: str) -> str:
    """``Add users.country`` -> ``add_users_country``: what the file name may hold."""
    return re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_")


def next_number(names: list[str]) -> str:
    """The number after the highest of ``names`` (file names), as wide as it (at least 4
    digits): ``0007_x.yaml`` gives ``0008``."""
    found = [m.group(1) for m in map(_NUMBERED.match, names) if m]
    if not found:
        return "0001"
    highest = max(found, key=int)
    return str(int(highest) + 1).zfill(max(len(highest), 4))


def file_name(number: str, name: str) -> str:
    return f"{number}_{name}.yaml"


def skeleton(name: str, path: str) -> str:
    """The text of a new migration file (``name``: its stem, without the number)."""
    examples = "\n".join(f"  # {e}" for e in EXAMPLES)
    description = name.replace("_", " ")
    return f"""\
# A zdmigrate migration: 'zdmigrate apply' expands and backfills (the old and the
# new app version both work); 'zdmigrate complete' finishes once the old one is gone.
# Every operation and its fields: docs/migration-files.md
description: {description}
# schema: billing            # the tables' schema, when not the configured one
operations:
  # Remove the '# ' before an example and fill it in; add as many as you need.
{examples}
# Then: zdmigrate validate {path}
#       zdmigrate plan {path}
"""
