"""The public migration file format: a list of operations.

Each operation is a mapping with exactly one key, the operation's name, whose
value holds its fields::

    - rename_column: {table: users, from: email, to: email_address}

These models are the contract every engine operation implements. They are
strict: unknown keys, wrong types and SQL fragments that do not parse are
errors.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from zdmigrate.spec.expr import check_expression, check_statements, check_type_name

__all__ = [
    "OPERATION_MODELS",
    "AddColumn",
    "AlterColumn",
    "ColumnDef",
    "CreateConstraint",
    "CreateIndex",
    "CreateTable",
    "DropColumn",
    "DropConstraint",
    "DropIndex",
    "DropTable",
    "ForeignKeyRef",
    "Operation",
    "RawSql",
    "RenameColumn",
    "RenameTable",
]


def _identifier(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    if len(value.encode()) > 63:
        raise ValueError("is longer than PostgreSQL's 63-byte identifier limit")
    if "\x00" in value:
        raise ValueError("must not contain NUL")
    return value


Ident = Annotated[str, AfterValidator(_identifier)]
Expr = Annotated[str, AfterValidator(check_expression)]
TypeName = Annotated[str, AfterValidator(check_type_name)]
Statements = Annotated[str, AfterValidator(check_statements)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ForeignKeyRef(_Model):
    """The target of a foreign key."""

    table: Ident
    columns: list[Ident] = Field(min_length=1)
    on_delete: Literal["no action", "restrict", "cascade", "set null", "set default"] = "no action"


class ColumnDef(_Model):
    """A column as it is created by ``add_column`` or ``create_table``."""

    name: Ident
    type: TypeName
    nullable: bool = True
    default: Expr | None = None
    primary_key: bool = False
    unique: bool = False
    check: Expr | None = None
    references: ForeignKeyRef | None = None
    comment: str | None = None


class AddColumn(_Model):
    """Add a column. ``up`` fills existing rows (and rows old code inserts)."""

    op: Literal["add_column"] = Field("add_column", exclude=True)
    table: Ident
    column: ColumnDef
    up: Expr | None = None

    @model_validator(mode="after")
    def _required_needs_a_value(self) -> AddColumn:
        col = self.column
        if col.primary_key:
            raise ValueError("add_column cannot add a primary key column; use create_constraint")
        if not col.nullable and col.default is None and self.up is None:
            raise ValueError(
                "a NOT NULL column needs a 'default' or an 'up' expression to fill existing rows"
            )
        return self


class DropColumn(_Model):
    """Drop a column. ``down`` keeps it filled for old code while both versions run."""

    op: Literal["drop_column"] = Field("drop_column", exclude=True)
    table: Ident
    column: Ident
    down: Expr | None = None


class RenameColumn(_Model):
    op: Literal["rename_column"] = Field("rename_column", exclude=True)
    table: Ident
    from_: Ident = Field(alias="from")
    to: Ident


class AlterColumn(_Model):
    """Change a column's type, nullability, default or name (several at once allowed).

    ``up`` computes the new value from the old row (old column names);
    ``down`` computes the old value from the new row (new column names).
    """

    op: Literal["alter_column"] = Field("alter_column", exclude=True)
    table: Ident
    column: Ident
    type: TypeName | None = None
    nullable: bool | None = None
    default: Expr | None = None
    drop_default: bool = False
    name: Ident | None = None
    up: Expr | None = None
    down: Expr | None = None

    @model_validator(mode="after")
    def _something_changes(self) -> AlterColumn:
        if (
            self.type is None
            and self.nullable is None
            and self.default is None
            and not (self.drop_default or self.name)
        ):
            raise ValueError(
                "alter_column changes nothing; give type, nullable, default, drop_default or name"
            )
        if self.default is not None and self.drop_default:
            raise ValueError("give either 'default' or 'drop_default', not both")
        return self


class CreateIndex(_Model):
    op: Literal["create_index"] = Field("create_index", exclude=True)
    name: Ident
    table: Ident
    columns: list[Ident] = Field(min_length=1)
    unique: bool = False
    method: Literal["btree", "hash", "gist", "gin", "brin", "spgist"] = "btree"
    where: Expr | None = None


class DropIndex(_Model):
    op: Literal["drop_index"] = Field("drop_index", exclude=True)
    name: Ident


class CreateTable(_Model):
    op: Literal["create_table"] = Field("create_table", exclude=True)
    table: Ident
    columns: list[ColumnDef] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> CreateTable:
        seen: set[str] = set()
        for col in self.columns:
            if col.name in seen:
                raise ValueError(f"column '{col.name}' is defined twice")
            seen.add(col.name)
        return self


class DropTable(_Model):
    op: Literal["drop_table"] = Field("drop_table", exclude=True)
    table: Ident


class RenameTable(_Model):
    op: Literal["rename_table"] = Field("rename_table", exclude=True)
    from_: Ident = Field(alias="from")
    to: Ident


class CreateConstraint(_Model):
    """A CHECK, UNIQUE or FOREIGN KEY constraint, added without blocking writers."""

    op: Literal["create_constraint"] = Field("create_constraint", exclude=True)
    table: Ident
    name: Ident
    type: Literal["check", "unique", "foreign_key"]
    columns: list[Ident] = Field(default_factory=list)
    check: Expr | None = None
    references: ForeignKeyRef | None = None

    @model_validator(mode="after")
    def _fields_for_type(self) -> CreateConstraint:
        if self.type == "check" and self.check is None:
            raise ValueError("a check constraint needs 'check'")
        if self.type != "check" and self.check is not None:
            raise ValueError(f"'check' is only for check constraints, not {self.type}")
        if self.type in ("unique", "foreign_key") and not self.columns:
            raise ValueError(f"a {self.type} constraint needs 'columns'")
        if self.type == "foreign_key" and self.references is None:
            raise ValueError("a foreign_key constraint needs 'references'")
        if self.type != "foreign_key" and self.references is not None:
            raise ValueError("'references' is only for foreign_key constraints")
        if self.references and len(self.references.columns) != len(self.columns):
            raise ValueError("'columns' and 'references.columns' differ in length")
        return self


class DropConstraint(_Model):
    op: Literal["drop_constraint"] = Field("drop_constraint", exclude=True)
    table: Ident
    name: Ident


class RawSql(_Model):
    """Raw SQL, run as written. ``down`` undoes it on rollback."""

    op: Literal["sql"] = Field("sql", exclude=True)
    up: Statements
    down: Statements | None = None


Operation = (
    AddColumn
    | DropColumn
    | RenameColumn
    | AlterColumn
    | CreateIndex
    | DropIndex
    | CreateTable
    | DropTable
    | RenameTable
    | CreateConstraint
    | DropConstraint
    | RawSql
)

OPERATION_MODELS: dict[str, type[_Model]] = {
    "add_column": AddColumn,
    "drop_column": DropColumn,
    "rename_column": RenameColumn,
    "alter_column": AlterColumn,
    "create_index": CreateIndex,
    "drop_index": DropIndex,
    "create_table": CreateTable,
    "drop_table": DropTable,
    "rename_table": RenameTable,
    "create_constraint": CreateConstraint,
    "drop_constraint": DropConstraint,
    "sql": RawSql,
}
