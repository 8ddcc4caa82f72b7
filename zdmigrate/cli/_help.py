"""``--help`` in one style for every command, whatever typer version renders it.

Typer shows a type after every option, ``<bool>`` after a flag too (``--embedded
<bool>``, ``-h <bool>``), and names an argument twice (``{file}`` in the usage,
``file <path>`` in the table). The group below tidies each command before its help
is rendered: a flag shows no type, and an argument is spelt in capitals (``FILE``)
in the usage line and the table alike. Commands added later get the same.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup

__all__ = ["TidyGroup", "setting_default"]


def _tidy(command: Any, ctx: Any) -> None:
    for param in command.get_params(ctx):
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif getattr(param, "param_type_name", "") == "argument" and param.metavar is None:
            param.metavar = (param.name or "").upper()


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
