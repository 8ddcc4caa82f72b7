"""``op.get_bind()`` while a revision renders offline: it writes SQL, it reads nothing.

Alembic's offline bind (a SQLAlchemy mock connection) has ``execute`` and
nothing else, so a revision that commits (``op.get_bind().commit()`` before an
``autocommit_block``), opens an ORM ``Session`` on it, or reads a result stops
rendering there. This bind writes every statement to the migration output,
like ``op.execute``, with its parameters as literals; ``commit()`` shows up as
COMMIT then BEGIN (SQLAlchemy begins again on the next statement); results
have no rows, and ORM sessions bound to it query nothing. A revision that
needs a row (``.one()``) or the server's answer (an ORM flush reads the
inserted keys) still cannot render, and says so.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

__all__ = ["NeedsRows", "OfflineBind", "hook_orm", "install"]


class NeedsRows(AttributeError):
    """The revision asked for a row, or for what the server answered; offline there is
    no server. (An AttributeError, so that ``hasattr`` probes say no.)"""


class _Result:
    """The result of a statement run offline: no rows."""

    rowcount = 0
    returns_rows = False
    inserted_primary_key = None

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def fetchall(self) -> list[Any]:
        return []

    def fetchmany(self, size: int | None = None) -> list[Any]:
        return []

    def all(self) -> list[Any]:
        return []

    def fetchone(self) -> None:
        return None

    def first(self) -> None:
        return None

    def scalar(self) -> None:
        return None

    def one_or_none(self) -> None:
        return None

    def scalar_one_or_none(self) -> None:
        return None

    def one(self) -> Any:
        raise NeedsRows("it reads a row (.one()), and offline there are no rows")

    def scalar_one(self) -> Any:
        raise NeedsRows("it reads a row (.scalar_one()), and offline there are no rows")

    def scalars(self, index: int = 0) -> _Result:
        return self

    def mappings(self) -> _Result:
        return self

    def keys(self) -> list[str]:
        return []

    def close(self) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        raise NeedsRows(f"it reads result.{name} (what the server answered): offline there is none")


class _Transaction:
    """``bind.begin()``; ``commit()`` commits only when ``commits`` (the outer one)."""

    is_active = True

    def __init__(self, bind: OfflineBind, commits: bool) -> None:
        self.bind = bind
        self.commits = commits

    def commit(self) -> None:
        if self.commits:
            self.bind.commit()

    def rollback(self) -> None:
        return None

    def close(self) -> None:
        return None

    def __enter__(self) -> _Transaction:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.commit()


def _bound(statement: Any, params: Mapping[str, Any]) -> Any:
    """``statement`` with ``params`` as the values of its parameters (so it renders with
    literals); for INSERT and UPDATE, the others are values of their columns."""
    from sqlalchemy import Insert, Update, literal
    from sqlalchemy.sql import visitors
    from sqlalchemy.types import NullType

    used: set[str] = set()

    def visit(bind: Any) -> None:
        if bind.key in params:
            value = params[bind.key]
            bind.value, bind.required, bind.callable = value, False, None
            if isinstance(bind.type, NullType):  # text(): typed by the value, to render it
                bind.type = literal(value).type
            used.add(bind.key)

    statement = visitors.cloned_traverse(statement, {"maintain_key": True}, {"bindparam": visit})
    rest = {k: v for k, v in params.items() if k not in used}
    if rest and isinstance(statement, (Insert, Update)):
        statement = statement.values(**rest)
    return statement


class OfflineBind:
    """A connection that renders what it is asked to run into the migration output."""

    closed = False
    invalidated = False

    def __init__(self, context: Any) -> None:
        self._context = context
        self._mock = context.impl.connection

    def __getattr__(self, name: str) -> Any:
        return getattr(self._mock, name)

    @property
    def engine(self) -> OfflineBind:
        return self

    def _emit(self, statement: Any, params: Mapping[str, Any] | None) -> None:
        from sqlalchemy import text

        if isinstance(statement, str):
            statement = text(statement)
        self._context.impl._exec(_bound(statement, params) if params else statement)

    def execute(
        self,
        statement: Any,
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        *,
        execution_options: Mapping[str, Any] | None = None,
    ) -> _Result:
        if isinstance(parameters, Sequence) and parameters:
            for params in parameters:
                self._emit(statement, params)
        else:
            self._emit(statement, parameters if isinstance(parameters, Mapping) else None)
        return _Result()

    def exec_driver_sql(self, statement: str, parameters: Any = None, **kw: Any) -> _Result:
        return self.execute(statement)

    def scalar(self, statement: Any, parameters: Any = None, **kw: Any) -> None:
        self.execute(statement, parameters)
        return None

    def scalars(self, statement: Any, parameters: Any = None, **kw: Any) -> _Result:
        return self.execute(statement, parameters)

    def commit(self) -> None:
        impl = self._context.impl
        impl.emit_commit()
        impl.emit_begin()

    def rollback(self) -> None:
        impl = self._context.impl
        impl.static_output("ROLLBACK" + impl.command_terminator)
        impl.emit_begin()

    def begin(self) -> _Transaction:
        return _Transaction(self, commits=True)

    def begin_nested(self) -> _Transaction:
        return _Transaction(self, commits=False)

    def get_transaction(self) -> _Transaction:
        return _Transaction(self, commits=False)

    def get_nested_transaction(self) -> None:
        return None

    # what a Session joining the bind's transaction asks for (SQLAlchemy 2.0; 2.1 asks
    # get_transaction())
    def _get_required_transaction(self) -> _Transaction:
        return self.get_transaction()

    def _get_required_nested_transaction(self) -> _Transaction:
        return self.get_transaction()

    def in_transaction(self) -> bool:
        return True

    def in_nested_transaction(self) -> bool:
        return False

    def connect(self) -> OfflineBind:
        return self

    def close(self) -> None:
        return None

    def invalidate(self, exception: BaseException | None = None) -> None:
        return None

    def execution_options(self, **options: Any) -> OfflineBind:
        return self

    def get_isolation_level(self) -> str:
        return "READ COMMITTED"

    def __enter__(self) -> OfflineBind:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _orm_execute(state: Any) -> Any:
    """An ORM statement on a Session bound to the offline bind: rendered, no rows."""
    bind = state.session.bind
    if not isinstance(bind, OfflineBind):
        return None
    from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData

    result = bind.execute(state.statement, state.parameters or None)
    if not state.is_select:
        return result  # rowcount 0
    keys = list(getattr(state.statement, "selected_columns", {}).keys())
    return IteratorResult(SimpleResultMetaData(keys), iter(()))


_ORM: list[bool] = []


def install(context: Any) -> OfflineBind:
    """Make ``op.get_bind()`` (and ``context.bind``) this bind for ``context``."""
    bind = OfflineBind(context)
    context.impl.connection = bind
    context.connection = bind
    return bind


def hook_orm() -> None:
    """Let ORM sessions bound to the offline bind query (no rows), once the ORM is
    imported: by a revision, before its upgrade() runs. (Importing it here for every
    run would cost a third of linting one revision that does not use it.)"""
    if _ORM or "sqlalchemy.orm" not in sys.modules:
        return
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    event.listen(Session, "do_orm_execute", _orm_execute)
    _ORM.append(True)
