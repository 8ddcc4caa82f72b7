"""The phases a migration passes through, as ``zdmigrate.migrations.phase`` records them.

Shared by the engine's store, the command layer and the Alembic autogenerate hooks
(which must not import the engine), so that one list says which phases are live.
"""

from __future__ import annotations

__all__ = ["LIVE_PHASES", "WORKING_PHASES"]

# phases in which a migration is in flight: its tables may carry zdmigrate's additions
LIVE_PHASES = ("expanding", "backfilling", "expanded", "completing", "rolling_back", "failed")
# phases in which a command is at work on a migration (when its process runs)
WORKING_PHASES = ("expanding", "backfilling", "completing", "rolling_back")
