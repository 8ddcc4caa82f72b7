"""An Alembic revision converted: its upgrade() rendered offline, then read as SQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from zdmigrate.convert import convert
from zdmigrate.errors import SpecError
from zdmigrate.spec import parse_migration

REVISION = '''\
"""widen amounts, add a country

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade():
    op.alter_column(
        "orders", "amount_cents", type_=sa.BigInteger(), existing_type=sa.Integer()
    )
    op.alter_column("users", "settings", type_=sa.JSON(), postgresql_using="settings::json")
    op.add_column("users", sa.Column("country", sa.Text(), nullable=False, server_default="unknown"))
    op.create_index("users_country_idx", "users", ["country"], postgresql_concurrently=True)
    op.alter_column("users", "name", nullable=False, existing_type=sa.Text())
    op.drop_column("users", "age")
    op.create_foreign_key("orders_user_fk", "orders", "users", ["user_id"], ["id"], ondelete="CASCADE")
    op.execute("UPDATE users SET name = '' WHERE name IS NULL")


def downgrade():
    pass
'''


def _convert(tmp_path: Path, text: str = REVISION) -> tuple[str, object]:
    script = tmp_path / "0004_widen.py"
    script.write_text(text, encoding="utf-8")
    result = convert(script.read_text(encoding="utf-8"), None, str(script))
    return result.text, result


def test_revision_becomes_operations_with_a_down_cast_from_existing_type(tmp_path: Path) -> None:
    text, result = _convert(tmp_path)
    migration = parse_migration(text, "0004_widen", "converted")
    dumped = [
        (op.op, op.model_dump(by_alias=True, exclude_defaults=True)) for op in migration.operations
    ]
    assert dumped[0] == (
        "alter_column",
        {
            "table": "orders",
            "column": "amount_cents",
            "type": "bigint",
            "up": "amount_cents::bigint",
            "down": "amount_cents::integer",
        },
    )
    # no existing_type: the down is left out and marked for review
    assert dumped[1] == (
        "alter_column",
        {
            "table": "users",
            "column": "settings",
            "type": "json",
            "up": "CAST(settings AS pg_catalog.json)",
        },
    )
    assert dumped[2][1]["column"] == {
        "name": "country",
        "type": "text",
        "nullable": False,
        "default": "'unknown'",
    }
    assert dumped[3] == (
        "create_index",
        {"name": "users_country_idx", "table": "users", "columns": ["country"]},
    )
    assert dumped[4][1] == {"table": "users", "column": "name", "nullable": False, "up": "name"}
    assert dumped[5] == ("drop_column", {"table": "users", "column": "age"})
    assert dumped[6][1]["references"] == {
        "table": "users",
        "columns": ["id"],
        "on_delete": "cascade",
    }
    assert dumped[7] == ("sql", {"up": "UPDATE users SET name = '' WHERE name IS NULL;"})
    assert len(dumped) == 8
    review = {(n.operation, n.field): n.origin for n in result.review}  # type: ignore[attr-defined]
    assert (2, "down") in review and (1, "down") not in review
    # notes point at the op. call in the revision
    assert review[(5, "up")] == "line 20"
    assert "left out" in text  # BEGIN, COMMIT and the alembic_version bookkeeping


def test_revision_that_does_not_render_is_refused_with_its_line(tmp_path: Path) -> None:
    broken = REVISION.replace(
        '    op.drop_column("users", "age")\n', '    raise RuntimeError("needs a database")\n'
    )
    with pytest.raises(SpecError) as exc:
        _convert(tmp_path, broken)
    assert exc.value.message.startswith(
        f"{tmp_path / '0004_widen.py'}:21: cannot convert the revision: upgrade() stopped"
    )
