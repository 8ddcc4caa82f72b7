"""``--help`` in one style for every command, whatever typer version renders it.

Typer shows a type after every option, ``<bool>`` after a flag too (``--embedded
<bool>``, ``-h <bool>``); it names an argument twice (``{FILE}`` in the usage, ``FILE``
in the table); and newer typers (0.29) show the type of a repeatable value as Python
spells it (``<list[Path]>``, ``<list[str]>``). The group below tidies each command
before its help is rendered: a flag shows no type; an argument is spelt in capitals the
same way in the usage line and the table (``FILE``, ``FILE...`` when it takes several,
in brackets in the usage when it is optional); a type is the type of one value
(``<path>``, ``<str>``), as the oldest typer allowed shows it. Commands added later get
the same.
"""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperGroup

__all__ = ["TidyGroup", "setting_default"]


_LIST = re.compile(r"list\[([^\]]*)\]")


def _one_value(shown: str | None) -> str | None:
    """``<path>`` for typer's ``<list[Path]>``: the type of one value of a repeatable
    option or an argument that takes several (choices keep their spelling)."""
    if shown is None:
        return None
    return _LIST.sub(lambda m: m.group(1) if "|" in m.group(1) else m.group(1).lower(), shown)


def _tidy_param(param: Any) -> None:
    if getattr(param, "_zdmigrate_tidy", False):
        return
    param._zdmigrate_tidy = True
    if getattr(param, "is_flag", False):
        param.metavar = ""
        return
    # newer typers only (older ones show <path> already)
    shown_type = getattr(param, "display_type_rich", None)
    if shown_type is not None:
        param.display_type_rich = lambda ctx: _one_value(shown_type(ctx))
    if getattr(param, "param_type_name", "") != "argument":
        return
    spelling = param.metavar or (param.name or "").upper()
    if param.nargs != 1 and not spelling.endswith("..."):
        spelling += "..."
    param.metavar = spelling
    usage = spelling if param.required else f"[{spelling}]"
    param.get_usage_pieces = lambda ctx: [usage]


def _tidy(command: Any, ctx: Any) -> None:
    for param in command.get_params(ctx):
        _tidy_param(param)


class TidyGroup(TyperGroup):
    """The ``zdmigrate`` group: its subcommands are tidied before they are used."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _tidy(command, ctx)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _tidy(self, ctx)
        super().format_help(ctx, formatter)


def setting_default(key: str, unit: str = "") -> str:
    """``[default: 500 ms]`` for a help text: the built-in value of a setting that the
    option overrides (``[tool.zdmigrate]`` may set another)."""
    from zdmigrate.config import Settings

    value = Settings.model_fields[key].default
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return f"  [default: {shown}{unit}]"
