"""A Plan as plain data: ``apply`` stores it with the migration, and ``complete`` and
``rollback`` run the steps stored then, whatever zdmigrate version runs them."""

from __future__ import annotations

from typing import Any

from zdmigrate.model.step import Deprecated, Plan, SchemaPart, Step
from zdmigrate.plan.backfill import BackfillSpec, VerifyPair, VerifySpec

__all__ = ["PLAN_FORMAT", "changed_phases", "plan_from_json", "plan_to_json"]

PLAN_FORMAT = 1


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def plan_to_json(plan: Plan) -> dict[str, Any]:
    out: dict[str, Any] = {
        "format": PLAN_FORMAT,
        "migration": plan.migration,
        "mode": plan.mode,
        "version_schema": plan.version_schema,
        "schema": plan.schema,
        "tables": list(plan.tables),
        "older_version_schemas": [list(p) for p in plan.older_version_schemas],
        "deprecated": [d.to_json() for d in plan.deprecated],
        "backfill": [b.to_json() for b in plan.backfill],
        "verify": [v.to_json() for v in plan.verify],
    }
    if plan.parts:
        out["parts"] = [p.to_json() for p in plan.parts]
    for name in Plan.STEP_LISTS:
        out[name] = [s.to_json() for s in getattr(plan, name)]
    return out


def plan_from_json(data: dict[str, Any]) -> Plan:
    plan = Plan(data["migration"], data["mode"], data["version_schema"], data["schema"])
    plan.tables = list(data["tables"])
    plan.older_version_schemas = [(m, v) for m, v in data["older_version_schemas"]]
    plan.deprecated = [Deprecated(**d) for d in data.get("deprecated", [])]
    plan.parts = [SchemaPart(**p) for p in data.get("parts", [])]
    for name in Plan.STEP_LISTS:
        setattr(plan, name, [Step.from_json(s) for s in data[name]])
    plan.backfill = [
        BackfillSpec(**{k: _tuples(v) for k, v in b.items()}) for b in data["backfill"]
    ]
    plan.verify = [
        VerifySpec(
            **{k: _tuples(v) for k, v in v.items() if k != "pairs"},
            pairs=tuple(VerifyPair(**p) for p in v["pairs"]),
        )
        for v in data["verify"]
    ]
    return plan


def changed_phases(stored: Plan, now: Plan) -> list[str]:
    """The phases whose statements differ between two plans of one migration."""
    return [
        name
        for name in ("expand", "post_backfill", "contract", "rollback")
        if [s.to_json() for s in getattr(stored, name)] != [s.to_json() for s in getattr(now, name)]
    ]
