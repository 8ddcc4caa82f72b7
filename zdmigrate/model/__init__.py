"""The schema model and the Step types: plain data at the bottom of zdmigrate's layers."""

from zdmigrate.model.schema import Catalog, Column, ForeignKey, IndexInfo, Table
from zdmigrate.model.step import Cleanup, Lock, Phase, Plan, Step

__all__ = [
    "Catalog",
    "Cleanup",
    "Column",
    "ForeignKey",
    "IndexInfo",
    "Lock",
    "Phase",
    "Plan",
    "Step",
    "Table",
]
