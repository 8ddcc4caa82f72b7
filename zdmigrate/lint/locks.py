"""Which table lock a statement takes, from PostgreSQL's documentation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._expr import has_option, is_node

if TYPE_CHECKING:
    from zdmigrate.lint.source import Statement

__all__ = [
    "AEL",
    "SHARE",
    "SRE",
    "SUE",
    "Lock",
    "existing_lock",
    "rank",
    "referenced_tables",
    "statement_lock",
    "statement_locks",
]

SUE = "SHARE UPDATE EXCLUSIVE"
SHARE = "SHARE"
SRE = "SHARE ROW EXCLUSIVE"
EXCLUSIVE = "EXCLUSIVE"
AEL = "ACCESS EXCLUSIVE"
_RANK = {SUE: 4, SHARE: 5, SRE: 6, EXCLUSIVE: 7, AEL: 8}
_BY_MODE = {rank: level for level, rank in _RANK.items()}

_SUE_SUBCOMMANDS = frozenset(
    {
        "AT_ValidateConstraint",
        "AT_SetStatistics",
        "AT_SetOptions",
        "AT_ResetOptions",
        "AT_ClusterOn",
        "AT_DropCluster",
        "AT_AttachPartition",
        "AT_SetRelOptions",
        "AT_ResetRelOptions",
    }
)
_SRE_SUBCOMMANDS = frozenset(
    {
        "AT_EnableTrig",
        "AT_EnableAlwaysTrig",
        "AT_EnableReplicaTrig",
        "AT_DisableTrig",
        "AT_EnableTrigAll",
        "AT_DisableTrigAll",
        "AT_EnableTrigUser",
        "AT_DisableTrigUser",
    }
)


@dataclass(frozen=True)
class Lock:
    """A table lock: its level, the table's key and its RangeVar when there is one."""

    level: str
    table: str
    rel: Any = None

    @property
    def rank(self) -> int:
        return rank(self.level)


def rank(level: str) -> int:
    return _RANK.get(level, 0)


def _cmd_level(cmd: Any) -> str:
    if cmd.subtype in _SUE_SUBCOMMANDS:
        return SUE
    if cmd.subtype == "AT_DetachPartition":
        return SUE if getattr(cmd.def_, "concurrent", False) else AEL
    if cmd.subtype in _SRE_SUBCOMMANDS:
        return SRE
    con = cmd.def_
    if cmd.subtype == "AT_AddConstraint" and is_node(con, "Constraint"):
        return SRE if con.contype == "CONSTR_FOREIGN" else AEL
    return AEL


def _alter_table(node: Any) -> Lock | None:
    if node.objtype != "OBJECT_TABLE" or not node.cmds:
        return None
    level = max((_cmd_level(c) for c in node.cmds), key=rank)
    return Lock(level, rel_key(node.relation), node.relation)


def _drop(node: Any) -> Lock | None:
    table = node.removeType == "OBJECT_TABLE"
    index = node.removeType == "OBJECT_INDEX" and not node.concurrent
    if not node.objects or not (table or index):
        return None
    return Lock(AEL, ".".join(n.sval for n in node.objects[0]))


def _rel(level: str, rel: Any) -> Lock:
    return Lock(level, rel_key(rel), rel)


def statement_lock(node: Any) -> Lock | None:
    """The strongest table lock ``node`` takes (SHARE UPDATE EXCLUSIVE or more), if any."""
    if is_node(node, "AlterTableStmt"):
        return _alter_table(node)
    if is_node(node, "IndexStmt"):
        return _rel(SUE if node.concurrent else SHARE, node.relation)
    if is_node(node, "DropStmt"):
        return _drop(node)
    if is_node(node, "RenameStmt") and node.relation is not None:
        return _rel(SUE if node.renameType == "OBJECT_INDEX" else AEL, node.relation)
    if is_node(node, "TruncateStmt") and node.relations:
        return _rel(AEL, node.relations[0])
    if is_node(node, "ClusterStmt") and node.relation is not None:
        return _rel(AEL, node.relation)
    if is_node(node, "VacuumStmt") and node.is_vacuumcmd and has_option(node.options, "full"):
        rels = node.rels or ()
        return _rel(AEL, rels[0].relation) if rels else None
    if is_node(node, "ReindexStmt") and node.relation is not None:
        return None if has_option(node.params, "concurrently") else _rel(SHARE, node.relation)
    if is_node(node, "CreateTrigStmt"):
        return _rel(SRE, node.relation)
    if is_node(node, "LockStmt") and node.relations and node.mode in _BY_MODE:
        return _rel(_BY_MODE[node.mode], node.relations[0])
    return None


def _foreign_keys(constraints: Any) -> list[Any]:
    return [
        con.pktable
        for con in constraints or ()
        if is_node(con, "Constraint") and con.contype == "CONSTR_FOREIGN" and con.pktable
    ]


def referenced_tables(node: Any) -> list[Any]:
    """RangeVars of the tables the FOREIGN KEYs that ``node`` adds reference."""
    found: list[Any] = []
    if is_node(node, "CreateStmt"):
        for elt in node.tableElts or ():
            found += _foreign_keys(elt.constraints if is_node(elt, "ColumnDef") else [elt])
    elif is_node(node, "AlterTableStmt") and node.objtype in (None, "OBJECT_TABLE"):
        for cmd in node.cmds or ():
            if cmd.subtype == "AT_AddConstraint":
                found += _foreign_keys([cmd.def_])
            elif cmd.subtype == "AT_AddColumn" and is_node(cmd.def_, "ColumnDef"):
                found += _foreign_keys(cmd.def_.constraints)
    own = rel_key(node.relation) if found else ""
    return [rel for rel in found if rel_key(rel) != own]


def _attached(node: Any) -> list[Lock]:
    """ATTACH PARTITION takes ACCESS EXCLUSIVE on the table it attaches."""
    if not is_node(node, "AlterTableStmt") or node.objtype not in (None, "OBJECT_TABLE"):
        return []
    return [
        _rel(AEL, cmd.def_.name)
        for cmd in node.cmds or ()
        if cmd.subtype == "AT_AttachPartition" and is_node(cmd.def_, "PartitionCmd")
    ]


def statement_locks(node: Any) -> list[Lock]:
    """Every table lock ``node`` takes: its own, SHARE ROW EXCLUSIVE on the tables its
    foreign keys reference, ACCESS EXCLUSIVE on a partition it attaches."""
    own = statement_lock(node)
    others = [_rel(SRE, rel) for rel in referenced_tables(node)] + _attached(node)
    return [own, *others] if own is not None else others


_UNSET = object()


def existing_lock(stmt: Statement, ctx: Context) -> Lock | None:
    """The strongest lock the statement takes on a table that is not new."""
    cached = stmt.facts.get("lock", _UNSET)
    if cached is _UNSET:
        locks = [lock for lock in statement_locks(stmt.node) if not _is_new(lock, ctx)]
        cached = max(locks, key=lambda lock: lock.rank) if locks else None
        stmt.facts["lock"] = cached
    return cached  # type: ignore[no-any-return]


def _is_new(lock: Lock, ctx: Context) -> bool:
    if lock.rel is not None:
        return ctx.is_new(lock.rel)
    bare = lock.table.rsplit(".", 1)[-1]
    return ctx.is_new_key(bare) or ctx.is_new_index(bare)
