"""Every rule, found by module name in ``zdmigrate.lint.rules`` (``zdNNN_name.py``)."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from zdmigrate.errors import ConfigError
from zdmigrate.lint import rules as _rules_pkg
from zdmigrate.lint._model import Rule

__all__ = ["all_rules", "find_rule", "select_rules"]


@cache
def all_rules() -> tuple[Rule, ...]:
    """All rules, ordered by code."""
    found: list[Rule] = []
    for info in pkgutil.iter_modules(_rules_pkg.__path__):
        if info.name.startswith("zd"):
            module = importlib.import_module(f"{_rules_pkg.__name__}.{info.name}")
            found.append(module.RULE)
    return tuple(sorted(found, key=lambda r: r.code))


def find_rule(selector: str) -> Rule:
    """The rule named by code (``ZD101``) or name (``drop-column``)."""
    for rule in all_rules():
        if rule.matches(selector.strip()):
            return rule
    raise ConfigError(
        f"unknown lint rule '{selector}'",
        "run `zdmigrate lint --list-rules` for the codes and names",
    )


def select_rules(select: list[str], ignore: list[str]) -> tuple[Rule, ...]:
    """Rules enabled by default, plus ``select`` (``all`` for every rule), minus ``ignore``."""
    chosen = {r.code for r in all_rules() if r.enabled_by_default}
    for sel in select:
        if sel.strip().lower() == "all":
            chosen.update(r.code for r in all_rules())
        else:
            chosen.add(find_rule(sel).code)
    for sel in ignore:
        chosen.discard(find_rule(sel).code)
    return tuple(r for r in all_rules() if r.code in chosen)
