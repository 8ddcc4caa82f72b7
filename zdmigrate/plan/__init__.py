"""Steps, phases and plans: data, no I/O."""

from zdmigrate.plan.step import Lock, Phase, Plan, Step

__all__ = ["Lock", "Phase", "Plan", "Step"]
